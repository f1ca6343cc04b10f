"""The privacy blank: a calm "be right back" card shown instead of the avatar and background.

Drawn once per size with Pillow (a real TrueType font, DejaVu Sans when installed, else Pillow's
bundled font) on a soft vertical gradient; the director shows it as a full-frame picture while the
blank is on, so nothing from the camera or the scene can show through.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)
_TOP = np.array([46, 52, 64], np.float32)  # slate, not black: a paused call, not a dead one
_BOTTOM = np.array([28, 32, 40], np.float32)


@lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A TrueType font at ``size`` pixels: DejaVu Sans if present, Pillow's bundled one else."""
    for path in FONT_PATHS:
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def blank_card(size: tuple[int, int], title: str = "Be right back",
               subtitle: str = "The video will continue shortly") -> np.ndarray:
    """The card as (H, W, 3) uint8 RGB, top row first."""
    width, height = size
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    rows = (_TOP * (1 - ramp) + _BOTTOM * ramp).astype(np.uint8)
    picture = Image.fromarray(np.repeat(rows[:, None, :], width, axis=1), "RGB")
    draw = ImageDraw.Draw(picture)
    title_font, subtitle_font = font(max(12, height // 11)), font(max(10, height // 28))
    centre_x, centre_y = width / 2, height / 2
    draw.text((centre_x, centre_y - height * 0.03), title, font=title_font,
              fill=(236, 239, 244), anchor="md")
    draw.text((centre_x, centre_y + height * 0.05), subtitle, font=subtitle_font,
              fill=(170, 178, 190), anchor="ma")
    # A thin rule between the lines: a designed pause, not an error screen.
    rule = width // 12
    y = int(centre_y + height * 0.012)
    draw.line((centre_x - rule, y, centre_x + rule, y), fill=(110, 120, 135),
              width=max(1, height // 360))
    return np.asarray(picture)
