"""The square a FOMM model sees: cut round the face from our tracker's landmarks.

Avatarify crops a fixed centred square that the user moves into by hand; here the square
follows the face: its centre and side come from the face oval's landmarks, smoothed with a
One-Euro filter (steady when the head is still, no lag when it moves), so the crop neither
jitters with landmark noise nor loses the face. The crop stays upright: a tilted head is motion
the model must see. The same framing (``FACE_SHARE`` of the side, the oval's centre a little
above the middle) crops the source photo, so source and driving faces fill their squares alike
and the adapted movement scale starts near 1.
"""

from __future__ import annotations

import numpy as np

from engine.tracking.one_euro import OneEuroFilter

FACE_SHARE = 0.55  # the face oval's larger side as a share of the square's side (VoxCeleb-like)
CENTRE_DROP = 0.05  # the square's centre lies this share of its side below the oval's centre
MIN_CUTOFF, BETA = 0.8, 0.02  # One-Euro, in pixels: steady at rest, prompt on a real move


def face_square(landmarks: np.ndarray) -> np.ndarray:
    """(cx, cy, side) in pixels of the square framing the face of (478, 3) landmarks."""
    from engine.avatar.photo import topology

    oval = landmarks[topology.face_oval(), :2].astype(np.float64)
    low, high = oval.min(axis=0), oval.max(axis=0)
    side = float(np.max(high - low)) / FACE_SHARE
    centre = (low + high) / 2.0
    return np.array([centre[0], centre[1] + CENTRE_DROP * side, side])


def crop_square(image: np.ndarray, square: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 3) uint8: ``image`` inside ``square``, scaled in one affine resample; what
    lies outside the image is the nearest edge's colour."""
    import cv2

    cx, cy, side = square
    scale = size / side
    matrix = np.array([[scale, 0.0, size / 2.0 - scale * cx],
                       [0.0, scale, size / 2.0 - scale * cy]])
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(image, matrix, (size, size), flags=interpolation,
                          borderMode=cv2.BORDER_REPLICATE)


class DrivingCrop:
    """The smoothed face square of a stream of frames."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._filter = OneEuroFilter(MIN_CUTOFF, BETA)

    def __call__(self, image: np.ndarray, landmarks: np.ndarray, t: float) -> np.ndarray:
        square = self._filter(face_square(landmarks), t)
        return crop_square(image, square, self.size)

    def reset(self) -> None:
        self._filter.reset()
