"""The "testcard" avatar kind: a picture that says which frame it is, for checking outputs.

Drawn by the real pipeline like any avatar, it lets a test (or a person looking at Zoom) see
what a consumer of our outputs received, frame by frame:

- a **code band** across the top: ``CELLS`` big cells, the first always white and the last always
  black (the reference levels), the ones between the frame's number in binary, most significant
  first. Cells are 1/16 of the width and 1/6 of the height, so scaling, chroma subsampling and
  a browser's colour conversion leave each cell's centre clearly one or the other;
- a **flash**: every ``flash_every``-th frame (frame 0 included) the rest of the picture turns
  white for one frame — with a click in the audio at the same engine time
  (``engine.output.avsync.click_track``), a clapperboard for measuring A/V sync. Between
  flashes it is dark grey.

The frame number is the card's own count of the frames it drew, which is the loop's frame count.
It draws with scissored clears only (no shader, no texture): a frame costs ``CELLS`` small clears
and one large one. Fields in ``avatar.toml``: ``flash_every`` (frames, default 30); the likeness
is synthetic and the card has no files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import moderngl
import numpy as np

from engine.avatar.base import AvatarInput
from engine.avatar.kinds import AvatarKind
from engine.errors import ConfigError

CELLS = 16
CODE_BITS = CELLS - 2  # frame numbers count modulo 2**14 (9 minutes at 30 fps, then wrap)
BAND = 1 / 6  # the code band's share of the picture's height
BODY_GREY = 0.2
DEFAULT_FLASH_EVERY = 30


@dataclass(frozen=True)
class TestCardSettings:
    flash_every: int = DEFAULT_FLASH_EVERY


def code_bits(index: int) -> np.ndarray:
    """The (CELLS,) 0/1 levels of the code band for frame ``index``."""
    value = index % (1 << CODE_BITS)
    bits = [(value >> shift) & 1 for shift in range(CODE_BITS - 1, -1, -1)]
    return np.array([1, *bits, 0], np.uint8)


def read_code(image: np.ndarray) -> int | None:
    """The frame number in an (H, W, 3) RGB or (H, W) grey picture of the card, or None when the
    reference cells do not read as white and black (no card there)."""
    grey = image.mean(axis=2) if image.ndim == 3 else image.astype(np.float32)
    height, width = grey.shape
    row = int(height * BAND / 2)
    half = max(1, int(width / CELLS / 4))
    centres = ((np.arange(CELLS) + 0.5) * width / CELLS).astype(int)
    levels = np.array([grey[max(0, row - half):row + half, c - half:c + half].mean()
                       for c in centres])
    white, black = levels[0], levels[-1]
    if white - black < 80:
        return None
    bits = levels[1:-1] > (white + black) / 2
    return int(sum(int(bit) << shift for bit, shift in zip(bits, range(CODE_BITS - 1, -1, -1))))


def is_flash(image: np.ndarray) -> bool:
    """Whether the body (below the code band) of an RGB picture of the card is flashed white."""
    height = image.shape[0]
    return float(image[int(height * (BAND + 0.1)):].mean()) > 128


class TestCard:
    """Draws the code band and the flash over the whole target (see the module docstring)."""

    def __init__(self, flash_every: int) -> None:
        self.flash_every = flash_every
        self.frames = 0
        self._size: tuple[int, int] | None = None
        self._cells: list[tuple[int, int, int, int]] = []
        self._body = (0, 0, 0, 0)

    def _layout(self, size: tuple[int, int]) -> None:
        """The cells' and the body's rectangles for a target of ``size``; once per size."""
        width, height = self._size = size
        band = max(2, round(height * BAND))
        edges = np.linspace(0, width, CELLS + 1).round().astype(int)
        # GL viewports count rows from the bottom: the band is at the top.
        self._cells = [(int(x0), height - band, int(x1 - x0), band)
                       for x0, x1 in zip(edges[:-1], edges[1:])]
        self._body = (0, 0, width, height - band)

    def render(self, frame: AvatarInput, target: moderngl.Framebuffer) -> None:
        if target.size != self._size:
            self._layout(target.size)
        flash = self.frames % self.flash_every == 0
        level = 1.0 if flash else BODY_GREY
        target.clear(level, level, level, 1.0, viewport=self._body)
        for on, cell in zip(code_bits(self.frames), self._cells):
            target.clear(float(on), float(on), float(on), 1.0, viewport=cell)
        self.frames += 1

    def release(self) -> None:
        pass  # no GL resources: clears only


def configure(folder: Path, toml: dict, where: str) -> TestCardSettings:
    flash_every = toml.get("flash_every", DEFAULT_FLASH_EVERY)
    if not isinstance(flash_every, int) or isinstance(flash_every, bool) or flash_every < 1:
        raise ConfigError(f"{where}: flash_every must be a whole number of frames >= 1, "
                          f"got {flash_every!r}")
    return TestCardSettings(flash_every)


def open_card(settings: TestCardSettings, gl, shaders) -> TestCard:
    return TestCard(settings.flash_every)


KIND = AvatarKind(name="testcard", fields=("flash_every",), configure=configure,
                  likeness_files=lambda settings: [], open=open_card)
