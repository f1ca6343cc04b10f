"""The persona side of the swap, prepared once (on the loading worker): its photo cropped to
the face, its landmarks, its skin statistics and the texture the shader samples."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.avatar.faceswap import colour, geometry
from engine.errors import AssetError

MAX_FACE_PX = 512  # a face drawn at 720p is rarely wider; larger photos are shrunk to this
MARGIN = 0.08  # share of the face's size kept around it when the photo is cropped
# Above the brows (geometry.BROW_ZONE), texels unlike the skin (a fringe, a hat: standardised
# distance from the skin's colour from NOT_SKIN[0] to [1]) become transparent.
NOT_SKIN = (1.5, 2.5)
FRINGE_REACH = 0.04  # face widths: how far what is not skin is grown over the strands' edge


@dataclass(frozen=True)
class Persona:
    photo: np.ndarray  # (H, W, 3) uint8 RGB, top row first: the face and a margin
    landmarks: np.ndarray  # (478, 3) float32 in ``photo`` pixels
    stats: colour.ColourStats  # its skin, as the swap measures the live skin
    standardised: np.ndarray  # (H, W, 4) float16: (Oklab − mean) / std of ``photo``; opacity
    name: str = "persona"


def make_persona(photo: np.ndarray, landmarks: np.ndarray, name: str = "persona") -> Persona:
    """``photo`` ((H, W, 3) uint8) with ``landmarks`` (478, 3) in its pixels, cropped to the
    face and shrunk to at most ``MAX_FACE_PX`` across it. The texture holds the photo's colours
    already standardised by its own skin statistics, so the shader's colour transfer is the
    live half only: ``z · std_live + mean_live`` and back to sRGB; its alpha leaves out what is
    not skin above the brows."""
    low, high = landmarks[:, :2].min(axis=0), landmarks[:, :2].max(axis=0)
    margin = MARGIN * (high - low)
    x0, y0 = np.maximum(np.floor(low - margin).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(high + margin).astype(int), (photo.shape[1], photo.shape[0]))
    crop = photo[y0:y1, x0:x1]
    points = landmarks.astype(np.float32) - np.array([x0, y0, 0], np.float32)
    shrink = min(1.0, MAX_FACE_PX / max(float(np.ptp(points[:, 0])), 1.0))
    if shrink < 1.0:
        size = (max(1, round(crop.shape[1] * shrink)), max(1, round(crop.shape[0] * shrink)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        points = points * shrink
    crop = np.ascontiguousarray(crop)
    alpha = geometry.mask_alpha(points)
    stats = colour.skin_stats(crop, geometry.with_centres(points),
                              geometry.core_triangles(alpha))
    if stats is None:
        raise AssetError(f"{name}: the face in the photo is too small to measure its skin")
    standardised = (colour.srgb_to_oklab(crop) - stats.mean) / stats.std
    height, width = crop.shape[:2]
    pixels = np.stack(np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5), axis=-1)
    above = geometry.height_above_brows(pixels.reshape(-1, 2), points).reshape(height, width)
    unlike = geometry.smoothstep(*NOT_SKIN, np.linalg.norm(standardised, axis=2))
    opacity = 1.0 - geometry.smoothstep(*geometry.BROW_ZONE, above) * unlike
    # A fringe's edge is strands over skin: grow the gaps over it, then soften their edges.
    reach = max(3, int(FRINGE_REACH * np.ptp(points[:, 0])) | 1)
    opacity = cv2.erode(opacity.astype(np.float32), np.ones((reach, reach), np.uint8))
    opacity = cv2.GaussianBlur(opacity, (0, 0), reach / 2)
    texture = np.concatenate([standardised, opacity[:, :, None]], axis=2)
    return Persona(crop, points, stats, texture.astype(np.float16), name)
