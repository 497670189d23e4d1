"""What _zrle_accel.c (the optional C ZRLE decoder, built in place by pip install -e .)
offers; mypy cannot read a compiled module."""
import numpy as np

API_VERSION: int

def decode_rect(data: bytes, pixels: np.ndarray, fb_width: int, fb_height: int, x: int,
                y: int, w: int, h: int, /) -> int:
    """Decode the inflated ZRLE tiles of one rectangle into the framebuffer's pixels;
    returns the bytes used. ValueError on bad data, IndexError outside the framebuffer."""
