"""How well a face swap worked, measured on its output frames.

Identity: the swapped face, as our face mesh finds it in the output frame, compared with the
persona photo and with the performer's face in the same frame (unswapped):

* shape: landmark geometry after a 3D similarity alignment, RMS residual over the 468 mesh
  points in units of the face's size (``shape_distance``), both for the mesh the swap drew and
  for the landmarks our face mesh finds again in the output frame;
* colour: histograms of the skin's Oklab channels, each standardised by its own mean and
  spread first (``colour_distance``). The swap gives the persona's skin the live light on
  purpose (mean and spread are the live skin's), so what is left to tell whose skin it is, is the
  shape of the distribution: freckles, make-up, shading. ``colour_distance(..., standardise=
  False)`` is the raw histogram distance, reported beside it.

Seam: mean gradient magnitude of luma in a band along the swap's mask edge divided by the mean
inside the face (``seam_ratio``), for the swapped frame and for the unswapped frame with the same
masks; a visible seam raises the first above the second.
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.avatar.faceswap import colour, geometry
from engine.avatar.photo import topology
from engine.tracking.landmarks import NUM_MESH

HISTOGRAM_BINS = 24
HISTOGRAM_RANGE = 3.0  # standardised units either side of the mean
RAW_RANGES = ((0.0, 1.0), (-0.2, 0.2), (-0.2, 0.2))  # Oklab L, a, b
SEAM_BAND = 0.02  # half-width of the band along the mask edge, in face widths


def shape_distance(points: np.ndarray, reference: np.ndarray) -> float:
    """RMS distance of ``points`` to ``reference`` (both (478+, 3) landmarks, z in pixel units as
    MediaPipe gives it) after the best 3D similarity of ``points`` onto it, over the 468 mesh
    points, relative to the reference's RMS size. 3D, because a head turned away from the
    camera changes every 2D distance between its landmarks, and a photo's pose is not the live
    one."""
    a = points[:NUM_MESH].astype(np.float64)
    b = reference[:NUM_MESH].astype(np.float64)
    scale, rotation, shift = geometry.similarity(a, b)
    residual = scale * a @ rotation.T + shift - b
    return float(np.sqrt((residual ** 2).sum(axis=1).mean()
                         / max(((b - b.mean(axis=0)) ** 2).sum(axis=1).mean(), 1e-12)))


def _skin_pixels(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(N, 3) Oklab of the skin the swap draws opaque, for a face with ``landmarks``."""
    points = geometry.with_centres(landmarks[:, :2])
    mask = colour.skin_mask(points, geometry.core_triangles(geometry.mask_alpha(landmarks)),
                            image.shape[:2])
    return colour.srgb_to_oklab(image[mask])


def colour_histograms(image: np.ndarray, landmarks: np.ndarray,
                      standardise: bool = True) -> np.ndarray:
    """(3, HISTOGRAM_BINS) normalised histograms of the face's skin, one per Oklab channel."""
    lab = _skin_pixels(image, landmarks)
    if standardise:
        lab = (lab - lab.mean(axis=0)) / np.maximum(lab.std(axis=0), colour.MIN_SIGMA)
        ranges = [(-HISTOGRAM_RANGE, HISTOGRAM_RANGE)] * 3
    else:
        ranges = RAW_RANGES
    histograms = [np.histogram(lab[:, c], HISTOGRAM_BINS, ranges[c])[0] for c in range(3)]
    histograms = np.asarray(histograms, np.float64)
    return histograms / np.maximum(histograms.sum(axis=1, keepdims=True), 1.0)


def colour_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Hellinger distance (0 same, 1 disjoint) between two sets of channel histograms."""
    return float(np.mean(np.sqrt(np.maximum(1.0 - np.sqrt(a * b).sum(axis=1), 0.0))))


def seam_masks(mesh: np.ndarray, alpha: np.ndarray,
               shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(band, interior) bool masks for a swap drawn with vertices ``mesh`` (481, 2+) and
    per-vertex opacity ``alpha``: the band along its half-opacity edge, and the fully opaque
    skin away from that band."""
    skin = geometry.skin_triangles()
    half = colour.skin_mask(mesh, skin[alpha[skin].mean(axis=1) >= 0.5], shape)
    width = float(np.ptp(mesh[topology.face_oval(), 0]))
    reach = max(1, int(round(SEAM_BAND * width)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    half8 = half.astype(np.uint8)
    band = (cv2.dilate(half8, kernel) > 0) & ~(cv2.erode(half8, kernel) > 0)
    core = colour.skin_mask(mesh, geometry.core_triangles(alpha), shape)
    return band, core & ~(cv2.dilate(band.astype(np.uint8), kernel) > 0)


def seam_ratio(image: np.ndarray, band: np.ndarray, interior: np.ndarray) -> float:
    """Mean luma gradient magnitude on ``band`` over that on ``interior``."""
    luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    magnitude = cv2.magnitude(cv2.Sobel(luma, cv2.CV_32F, 1, 0), cv2.Sobel(luma, cv2.CV_32F, 0, 1))
    return float(magnitude[band].mean() / max(magnitude[interior].mean(), 1e-6))
