"""Pixel checks shared by the avatar tests."""

from __future__ import annotations

import numpy as np


def changed(a: np.ndarray, b: np.ndarray, threshold: int = 24) -> np.ndarray:
    """(H, W) bool: pixels that differ clearly between two frames."""
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).sum(axis=2) > threshold


def foreground(frame: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels that are not the blue background."""
    return np.abs(frame.astype(np.int16) - (0, 0, 255)).sum(axis=2) > 24
