"""Colour statistics for the face swap's Reinhard-style colour transfer, in Oklab.

The swap draws the persona photo's skin under the live light: each channel of the photo's face
is moved from the photo's mean and spread to the live face's, ``(x - mu_photo) / sigma_photo *
sigma_live + mu_live``, in a perceptual space (DeepFaceLive's default "rct" merger does the same
in CIELAB). Oklab is used because its forward and inverse maps are two 3x3 matrices and a cube
root, cheap in a fragment shader (``shaders/faceswap_light.glsl`` holds the same matrices), and
its lightness and chroma axes are as perceptually even as CIELAB's.

The statistics come from a small crop (``STATS_SIDE`` pixels square) of the part of the face the
swap draws fully opaque (no eyes, mouth, forehead or silhouette), so they describe skin, and the
same part of the face on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

STATS_SIDE = 64  # side of the crop the skin statistics are measured on
MIN_SIGMA = 0.004  # a flat face (a test card) must not divide by zero or blow up contrast
SMOOTH_S = 0.25  # time constant of the live statistics: steady under flicker, quick to relight
# How often the live skin is measured: well inside the smoothing's time constant, and the
# measurement (crop, mask, Oklab) cost 3 ms of a 720p frame when taken every frame.
MEASURE_EVERY_S = 0.1

_RGB_TO_LMS = np.array([[0.4122214708, 0.5363325363, 0.0514459929],
                        [0.2119034982, 0.6806995451, 0.1073969566],
                        [0.0883024619, 0.2817188376, 0.6299787005]], np.float32)
_LMS_TO_LAB = np.array([[0.2104542553, 0.7936177850, -0.0040720468],
                        [1.9779984951, -2.4285922050, 0.4505937099],
                        [0.0259040371, 0.7827717662, -0.8086757660]], np.float32)
_LAB_TO_LMS = np.linalg.inv(_LMS_TO_LAB.astype(np.float64)).astype(np.float32)
_LMS_TO_RGB = np.linalg.inv(_RGB_TO_LMS.astype(np.float64)).astype(np.float32)


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 sRGB → (..., 3) float32 Oklab (L in 0..1)."""
    c = rgb.astype(np.float32) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return np.cbrt(linear @ _RGB_TO_LMS.T) @ _LMS_TO_LAB.T


def oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """(..., 3) float32 Oklab → (..., 3) uint8 sRGB (clipped)."""
    linear = np.clip(((lab @ _LAB_TO_LMS.T) ** 3) @ _LMS_TO_RGB.T, 0.0, 1.0)
    c = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(np.rint(c * 255.0), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ColourStats:
    """Per-channel mean and standard deviation of skin, in Oklab."""

    mean: np.ndarray  # (3,) float32
    std: np.ndarray  # (3,) float32

    def blend(self, newer: ColourStats, weight: float) -> ColourStats:
        return ColourStats(self.mean + weight * (newer.mean - self.mean),
                           self.std + weight * (newer.std - self.std))


def skin_mask(points: np.ndarray, triangles: np.ndarray, shape: tuple[int, int],
              origin: tuple[float, float] = (0.0, 0.0), scale=1.0) -> np.ndarray:
    """(h, w) bool: the ``triangles`` of vertices ``points`` (N, 2+) in pixels, mapped by
    ``(p - origin) * scale``."""
    corners = (points[:, :2] - np.asarray(origin, np.float32)) * scale
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, list(np.rint(corners[triangles]).astype(np.int32)), 1)
    return mask.astype(bool)


def skin_stats(image: np.ndarray, points: np.ndarray,
               triangles: np.ndarray) -> ColourStats | None:
    """Statistics of the skin the ``triangles`` of ``points`` (pixels of ``image``, (H, W, 3)
    uint8 RGB) cover, measured on a ``STATS_SIDE``-pixel crop; None when that is (almost) outside
    the picture."""
    used = points[np.unique(triangles), :2]
    x0, y0 = np.maximum(np.floor(used.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(used.max(axis=0)).astype(int) + 1, (image.shape[1], image.shape[0]))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    # Every step-th pixel first: an area average over a 720p face costs 1.7 ms, over this 0.2.
    step = max(1, min(x1 - x0, y1 - y0) // (2 * STATS_SIDE))
    crop = cv2.resize(image[y0:y1:step, x0:x1:step], (STATS_SIDE, STATS_SIDE),
                      interpolation=cv2.INTER_AREA)
    scale = np.array([STATS_SIDE / (x1 - x0), STATS_SIDE / (y1 - y0)], np.float32)
    mask = skin_mask(points, triangles, (STATS_SIDE, STATS_SIDE), (x0, y0), scale)
    if mask.sum() < 32:
        return None
    lab = srgb_to_oklab(crop[mask])
    return ColourStats(lab.mean(axis=0), np.maximum(lab.std(axis=0), MIN_SIGMA))


class LiveStats:
    """The live skin statistics smoothed over time, so the face's colour does not flicker with
    the tracker's jitter or a blink; an exponential average with time constant ``SMOOTH_S``,
    fed a measurement every ``MEASURE_EVERY_S`` (``due``)."""

    def __init__(self, smooth_s: float = SMOOTH_S, every_s: float = MEASURE_EVERY_S) -> None:
        self.smooth_s = smooth_s
        self.every_s = every_s
        self.current: ColourStats | None = None
        self._t: float | None = None

    def due(self, t: float) -> bool:
        """Whether the skin at time ``t`` should be measured: nothing yet, or the last
        measurement is ``every_s`` old (a millisecond short counts: at 30 fps every third
        frame), or from the future (a restarted clock)."""
        return self._t is None or not 0.0 <= t - self._t < self.every_s - 1e-3

    def update(self, measured: ColourStats | None, t: float) -> ColourStats | None:
        if measured is not None:
            if self.current is None or self._t is None:
                self.current = measured
            else:
                weight = 1.0 - float(np.exp(-max(t - self._t, 0.0) / self.smooth_s))
                self.current = self.current.blend(measured, weight)
            self._t = t
        return self.current
