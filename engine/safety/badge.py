"""The visible "AI avatar" disclosure: a rounded pill with text, as premultiplied RGBA."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

FONT_CANDIDATES = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
                   Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
FILL = (20, 20, 24, 190)        # dark, mostly opaque: readable over any background
TEXT = (255, 255, 255, 255)
SUPERSAMPLE = 4                 # draw large and shrink, for smooth edges without a font hinter


@lru_cache(maxsize=8)
def _font(size: int):
    from PIL import ImageFont

    for path in FONT_CANDIDATES:
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def render_badge(text: str, height_px: int) -> np.ndarray:
    """(h, w, 4) uint8 premultiplied RGBA, top row first: ``text`` in a pill ``height_px`` tall."""
    from PIL import Image, ImageDraw

    if height_px < 8:
        raise ValueError(f"badge height must be at least 8 px, got {height_px}")
    text = " ".join(text.split())[:60] or "AI avatar"
    scale = SUPERSAMPLE
    tall = height_px * scale
    font = _font(int(tall * 0.62))
    left, top, right, bottom = font.getbbox(text)
    pad = tall // 2
    width = (right - left) + 2 * pad
    image = Image.new("RGBA", (width, tall), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, width - 1, tall - 1), radius=tall // 2, fill=FILL)
    # Centre the ink box, not the line box, so the text sits visually in the middle.
    draw.text((pad - left, (tall - (bottom - top)) / 2 - top), text, font=font, fill=TEXT)
    out_width = max(1, round(width / scale))
    small = image.resize((out_width, height_px), Image.Resampling.LANCZOS)
    rgba = np.asarray(small, dtype=np.float32)
    rgba[:, :, :3] *= rgba[:, :, 3:4] / 255.0
    return np.clip(np.rint(rgba), 0, 255).astype(np.uint8)
