"""RGB → planar YUV 4:2:0 (I420), the layout y4m, H.264 and most virtual cameras carry.

OpenCV's conversion uses BT.601 limited range (Y in 16..235), which is what players and browsers
assume for untagged 4:2:0 video. Width and height must be even: 4:2:0 stores one chroma sample per
2x2 block.
"""

from __future__ import annotations

import cv2
import numpy as np


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB → (H * 3 // 2, W) uint8: the Y plane, then U, then V."""
    height, width = rgb.shape[:2]
    if width % 2 or height % 2:
        raise ValueError(f"4:2:0 video needs even width and height, got {width}x{height}")
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)


def i420_to_rgb(i420: np.ndarray, width: int, height: int) -> np.ndarray:
    """The inverse of ``rgb_to_i420`` (up to rounding and chroma subsampling)."""
    return cv2.cvtColor(i420.reshape(height * 3 // 2, width), cv2.COLOR_YUV2RGB_I420)
