"""Fitting pictures of any shape to the size the engine runs at, without distorting faces."""

from __future__ import annotations

import math


def cover(src: tuple[int, int], dst: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Scale ``src`` (w, h) to cover ``dst`` keeping its aspect ratio; returns the scaled size
    and the (x, y) offset of the centred ``dst``-sized crop inside it."""
    scale = max(dst[0] / src[0], dst[1] / src[1])
    scaled = (max(dst[0], math.ceil(src[0] * scale - 1e-6)),
              max(dst[1], math.ceil(src[1] * scale - 1e-6)))
    return scaled, ((scaled[0] - dst[0]) // 2, (scaled[1] - dst[1]) // 2)
