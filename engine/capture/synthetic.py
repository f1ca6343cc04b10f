"""A synthetic source: a moving, deterministic test picture, for tests, benchmarks and demos.

Frame k is a function of k alone: a colour gradient scrolled sideways, a bouncing square, a
circle crossing the picture and the frame number in block digits. Everything is precomputed at
start; a frame costs one ``np.roll`` of the background and a few slice assignments.
"""

from __future__ import annotations

import math
import time

import numpy as np

from engine.capture.base import ManagedSource
from engine.types import Frame

# 3x5 block digits, one string of rows per digit.
_DIGITS = (
    "111101101101111", "010110010010111", "111001111100111", "111001111001111",
    "101101111001001", "111100111001111", "111100111101111", "111001001001001",
    "111101111101111", "111101111001111",
)
_COUNTER_DIGITS = 6


class SyntheticSource(ManagedSource):
    """Produces ``size`` (width, height) frames at ``fps``.

    With ``realtime`` (live use) ``latest`` returns the frame due at the time since ``start``;
    without it every call returns the next frame, so offline renders and tests are exact.
    """

    def __init__(self, size: tuple[int, int] = (1280, 720), fps: float = 30.0,
                 realtime: bool = True) -> None:
        width, height = size
        if width < 32 or height < 32:
            raise ValueError(f"synthetic source needs at least 32x32 pixels, got {width}x{height}")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.size = (int(width), int(height))
        self.fps = float(fps)
        self.realtime = realtime
        self.finished = False  # never: the picture goes on for ever
        self._t_start: float | None = None
        self._next_index = 0
        self._last: Frame | None = None
        self._prepare()

    def _prepare(self) -> None:
        width, height = self.size
        x = np.arange(width, dtype=np.float32) * (2 * math.pi / width)  # periodic: rolls seamlessly
        y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
        background = np.empty((height, width, 3), np.float32)
        background[..., 0] = 0.5 + 0.35 * np.sin(x)
        background[..., 1] = 0.5 + 0.35 * np.sin(x + 2 * math.pi / 3) * (1 - 0.5 * y)
        background[..., 2] = 0.3 + 0.5 * y
        # Twice as wide, so a scrolled frame is one contiguous copy of a window into it
        # (np.roll would build two pieces and join them: several times slower at 720p).
        self._background = np.tile((background * 255).astype(np.uint8), (1, 2, 1))
        self._square = max(8, min(width, height) // 6)
        radius = max(6, min(width, height) // 10)
        yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
        self._disc = xx * xx + yy * yy <= radius * radius
        self._scale = max(2, height // 60)
        self._glyphs = [
            np.kron(np.array([int(c) for c in digits], bool).reshape(5, 3),
                    np.ones((self._scale, self._scale), bool))
            for digits in _DIGITS
        ]

    def start(self) -> None:
        self._t_start = time.perf_counter()
        self._next_index = 0

    def render(self, index: int) -> np.ndarray:
        """Frame ``index`` as (H, W, 3) uint8 RGB; a new array every call."""
        width, height = self.size
        shift = (index * 4) % width
        image = self._background[:, width - shift:2 * width - shift].copy()
        side = self._square
        x = _bounce(index * 7, width - side)
        y = _bounce(index * 5, height - side)
        image[y:y + side, x:x + side] = (240, 240, 40)
        diameter = self._disc.shape[0]
        if diameter < width and diameter < height:
            cx = (index * 3) % (width - diameter)
            cy = (height - diameter) // 2 + int((height - diameter) / 3 * math.sin(index / 20))
            image[cy:cy + diameter, cx:cx + diameter][self._disc] = (200, 30, 60)
        self._draw_counter(image, index)
        return image

    def _draw_counter(self, image: np.ndarray, index: int) -> None:
        scale = self._scale
        glyph_w, glyph_h = 4 * scale, 5 * scale
        digits = str(index % 10**_COUNTER_DIGITS).zfill(_COUNTER_DIGITS)
        pad = scale
        box_w = min(image.shape[1], len(digits) * glyph_w + pad * 2)
        box_h = min(image.shape[0], glyph_h + pad * 2)
        image[:box_h, :box_w] = 0
        for i, digit in enumerate(digits):
            x = pad + i * glyph_w
            glyph = self._glyphs[int(digit)]
            region = image[pad:pad + glyph_h, x:x + 3 * scale]
            region[glyph[:region.shape[0], :region.shape[1]]] = 255

    def latest(self) -> Frame | None:
        if self._t_start is None:
            return None
        if self.realtime:
            index = int((time.perf_counter() - self._t_start) * self.fps)
            if self._last is not None and self._last.index == index:
                return self._last
        else:
            index = self._next_index
            self._next_index += 1
        self._last = Frame(image=self.render(index), t_capture=time.perf_counter(), index=index)
        return self._last

    def close(self) -> None:
        self._t_start = None

    def __repr__(self) -> str:
        return f"SyntheticSource({self.size[0]}x{self.size[1]} @ {self.fps:g} fps)"


def _bounce(travelled: int, span: int) -> int:
    """Position after moving ``travelled`` pixels back and forth over ``span``."""
    if span <= 0:
        return 0
    phase = travelled % (2 * span)
    return phase if phase < span else 2 * span - phase
