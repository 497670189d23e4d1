"""JPEG and PNG pictures inside console streams (VNC's Tight, SPICE's images and MJPEG
frames), decoded in C straight into the framebuffer's B, G, R, X words: libjpeg-turbo
through simplejpeg where it takes the data, Pillow otherwise (PNG, CMYK JPEG, or no
simplejpeg installed). Both decode at full quality (accurate DCT, smooth upsampling), so
the two give the same pixels."""
from __future__ import annotations

import io
from types import ModuleType

import numpy as np

from connectors.console.state import ProtocolError


def _load_simplejpeg() -> ModuleType | None:
    try:
        import simplejpeg
    except ImportError:  # Pillow decodes JPEG too, about twice as slowly
        return None
    module: ModuleType = simplejpeg
    return module


SIMPLEJPEG = _load_simplejpeg()


def decode_into(data: bytes | memoryview, width: int, height: int, out: np.ndarray, *,
                fmt: str = "JPEG", turbo: ModuleType | None = SIMPLEJPEG) -> None:
    """Decode ``data`` (a ``fmt`` picture that must be ``width`` x ``height``) into
    ``out``, any writable array of width * height 4-byte pixels: in place when ``out`` is
    contiguous (a full-width strip of the framebuffer, say), else through one copy.
    Bad data or a wrong size is a ProtocolError."""
    if fmt == "JPEG" and turbo is not None and _turbo_into(turbo, data, width, height, out):
        return
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as img:
            _check_size(fmt, img.size, width, height)
            rgb = img if img.mode == "RGB" else img.convert("RGB")
            bgrx = rgb.tobytes("raw", "BGRX")
    except ProtocolError:
        raise
    except Exception as err:  # noqa: BLE001 - Pillow raises many kinds on bad data
        raise ProtocolError(f"a {fmt} image cannot be decoded ({err})") from None
    # Pillow's X byte is 0; the framebuffer's pixels are opaque.
    words = np.frombuffer(bgrx, np.uint32) | np.uint32(0xFF000000)
    out[...] = words.view(out.dtype).reshape(out.shape)


def _turbo_into(turbo: ModuleType, data: bytes | memoryview, width: int, height: int,
                out: np.ndarray) -> bool:
    """False when libjpeg-turbo refuses the data (CMYK, say): Pillow then tries, and
    gives the error if it fails too."""
    try:
        rows, columns = turbo.decode_jpeg_header(data)[:2]
    except ValueError:
        return False
    _check_size("JPEG", (columns, rows), width, height)
    try:
        if out.flags.c_contiguous:
            turbo.decode_jpeg(data, colorspace="BGRX", fastdct=False, fastupsample=False,
                              buffer=out)
        else:
            decoded = turbo.decode_jpeg(data, colorspace="BGRX", fastdct=False,
                                        fastupsample=False)
            out[...] = decoded.view(out.dtype).reshape(out.shape)
    except ValueError:
        return False
    return True


def _check_size(fmt: str, size: tuple[int, int], width: int, height: int) -> None:
    if size != (width, height):
        raise ProtocolError(f"a {size[0]}x{size[1]} {fmt} image does not fill its "
                            f"{width}x{height} area")
