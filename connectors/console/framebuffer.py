"""The guest's screen as one numpy array, updated in place, plus the rectangles changed
since the widget last looked (so it repaints only those).

Pixels are stored as B, G, R, 0xFF bytes (little-endian 0xFFRRGGBB words): what Qt's
QImage.Format_RGB32 reads without a copy and what Pillow reads as "BGRX". Decoders keep
the fourth byte at 0xFF (they write three channels, or OR the word with ALPHA). Every protocol
decoder writes into ``pixels``; none of them knows about Qt.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A server may ask for any size up to 65535x65535; a real screen is far smaller.
# Refusing beyond this keeps a hostile or broken server from making us allocate gigabytes.
MAX_WIDTH = 8192
MAX_HEIGHT = 8192
ALPHA = 0xFF000000


class FramebufferError(ValueError):
    """A size or rectangle the framebuffer refuses (too large, or outside it)."""


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    def united(self, other: "Rect") -> "Rect":
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1 = max(self.x + self.w, other.x + other.w)
        y1 = max(self.y + self.h, other.y + other.h)
        return Rect(x0, y0, x1 - x0, y1 - y0)


def check_size(width: int, height: int) -> None:
    if not (0 < width <= MAX_WIDTH and 0 < height <= MAX_HEIGHT):
        raise FramebufferError(f"a {width}x{height} screen is outside what a console shows "
                               f"(1x1 to {MAX_WIDTH}x{MAX_HEIGHT})")


class Framebuffer:
    """One screen's pixels; ``damage`` lists the rectangles written since take_damage()."""

    # Beyond this many rectangles a frame is damaged as one bounding box: the widget
    # then issues one update instead of thousands.
    MAX_DAMAGE_RECTS = 256

    def __init__(self, width: int = 1, height: int = 1) -> None:
        self.pixels = np.zeros((0, 0, 4), np.uint8)
        self.damage: list[Rect] = []
        self.generation = 0  # bumped on every resize: a new array, views must be rebuilt
        self.resize(width, height)

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def words(self) -> np.ndarray:
        """The same memory as one uint32 (0x00RRGGBB) per pixel."""
        return self.pixels.view(np.uint32)[:, :, 0]

    def resize(self, width: int, height: int) -> None:
        check_size(width, height)
        if (width, height) == (self.width, self.height):
            return
        self.pixels = np.zeros((height, width, 4), np.uint8)
        self.pixels[:, :, 3] = 0xFF
        self.generation += 1
        self.damage = [Rect(0, 0, width, height)]

    def check_rect(self, x: int, y: int, w: int, h: int) -> None:
        if w < 0 or h < 0 or x < 0 or y < 0 or x + w > self.width or y + h > self.height:
            raise FramebufferError(f"rectangle {w}x{h} at ({x}, {y}) is outside the "
                                   f"{self.width}x{self.height} screen")

    def add_damage(self, rect: Rect) -> None:
        if rect.w <= 0 or rect.h <= 0:
            return
        if len(self.damage) >= self.MAX_DAMAGE_RECTS:
            box = self.damage[0]
            for other in self.damage[1:]:
                box = box.united(other)
            self.damage = [box.united(rect)]
        else:
            self.damage.append(rect)

    def add_damage_xywh(self, x: int, y: int, w: int, h: int) -> None:
        self.add_damage(Rect(x, y, w, h))

    def take_damage(self) -> list[Rect]:
        damage, self.damage = self.damage, []
        return damage

    # ---- writers shared by every protocol ----

    def put_words(self, x: int, y: int, block: np.ndarray) -> None:
        """Copy an (h, w) block of 0x??RRGGBB words in (made opaque); mark it damaged."""
        h, w = block.shape
        self.check_rect(x, y, w, h)
        np.bitwise_or(block, ALPHA, out=self.words[y:y + h, x:x + w])
        self.add_damage(Rect(x, y, w, h))

    def put_opaque_words(self, x: int, y: int, block: np.ndarray) -> None:
        """Copy an (h, w) block of words whose top byte is already 0xFF in; mark it
        damaged. A plain copy: callers that built the words from an opaque table skip
        put_words' OR."""
        h, w = block.shape
        self.check_rect(x, y, w, h)
        self.words[y:y + h, x:x + w] = block
        self.add_damage(Rect(x, y, w, h))

    def put_bgr(self, x: int, y: int, block: np.ndarray) -> None:
        """Copy an (h, w, 3) block of B, G, R bytes in; mark it damaged."""
        h, w = block.shape[:2]
        self.check_rect(x, y, w, h)
        self.pixels[y:y + h, x:x + w, :3] = block
        self.add_damage(Rect(x, y, w, h))

    def put_rgb(self, x: int, y: int, block: np.ndarray) -> None:
        """Copy an (h, w, 3) block of R, G, B bytes in; mark it damaged."""
        self.put_bgr(x, y, block[:, :, ::-1])

    def fill(self, x: int, y: int, w: int, h: int, word: int) -> None:
        """Fill with one 0xRRGGBB colour and mark it damaged."""
        self.check_rect(x, y, w, h)
        self.words[y:y + h, x:x + w] = (word & 0xFFFFFF) | ALPHA
        self.add_damage(Rect(x, y, w, h))

    def copy(self, src_x: int, src_y: int, x: int, y: int, w: int, h: int) -> None:
        """Copy a rectangle of the screen to another place (overlap allowed)."""
        self.check_rect(src_x, src_y, w, h)
        self.check_rect(x, y, w, h)
        block = self.pixels[src_y:src_y + h, src_x:src_x + w].copy()
        self.pixels[y:y + h, x:x + w] = block
        self.add_damage(Rect(x, y, w, h))

    def rgb(self) -> np.ndarray:
        """An (h, w, 3) RGB copy, for PNG files and comparisons."""
        return self.pixels[:, :, 2::-1].copy()


@dataclass(frozen=True, slots=True)
class CursorImage:
    """The guest's pointer shape: BGRA pixels (alpha 0 or 255) and its hot spot."""

    pixels: np.ndarray  # (h, w, 4) uint8, B G R A
    hot_x: int
    hot_y: int
