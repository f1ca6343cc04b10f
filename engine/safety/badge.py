"""The visible "AI avatar" disclosure: a rounded pill with text, as premultiplied RGBA."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

FONT_CANDIDATES = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
                   Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
FILL = (20, 20, 24, 190)        # dark, mostly opaque: readable over any background
TEXT = (255, 255, 255, 255)
SUPERSAMPLE = 4                 # draw large and shrink, for smooth edges without a font hinter
POSITIONS = ("bottom-left", "bottom-right", "top-left", "top-right")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BadgeSettings:
    """Where and how the disclosure is drawn; on unless the user turns it off."""

    enabled: bool = True
    text: str = "AI avatar"
    position: str = "bottom-left"
    height_fraction: float = 1 / 24    # of the frame height, at least 18 px

    def __post_init__(self) -> None:
        if self.position not in POSITIONS:
            raise ValueError(f"badge position {self.position!r}; expected one of {POSITIONS}")
        if not 0.01 <= self.height_fraction <= 0.25:
            raise ValueError(f"badge height_fraction {self.height_fraction} is outside 0.01..0.25")

    def height_px(self, frame_height: int) -> int:
        return max(18, round(frame_height * self.height_fraction))

    def placement(self, badge_w: int, badge_h: int, width: int, height: int) -> tuple[int, int]:
        """Top-left pixel of a ``badge_w`` x ``badge_h`` badge in a ``width`` x ``height`` frame."""
        margin = round(height / 40)
        x = margin if self.position.endswith("left") else width - badge_w - margin
        y = margin if self.position.startswith("top") else height - badge_h - margin
        return max(0, x), max(0, y)


def record_change(old: BadgeSettings, new: BadgeSettings, audit=None) -> None:
    """Log (and audit, when a log is kept) a change of badge settings; turning it off warns."""
    if old == new:
        return
    if old.enabled and not new.enabled:
        log.warning("the 'AI avatar' disclosure badge was turned off")
    if audit is not None:
        audit.record("badge_change", enabled=new.enabled, position=new.position,
                     text_changed=new.text != old.text)


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
