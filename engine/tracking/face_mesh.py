"""MediaPipe face mesh behind a numpy-only interface: the one module that touches MediaPipe.

``FaceMeshDetector.detect(image)`` returns every face's 478 landmarks as a (478, 3) float32
array in pixels (z in the same pixel scale as x, smaller = nearer the camera, as MediaPipe
defines it). Nothing of MediaPipe's own types escapes this module.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from engine.errors import DeviceError
from engine.types import NUM_LANDMARKS

log = logging.getLogger(__name__)

# MediaPipe's C++ logging floods stderr at start-up unless told otherwise before import.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# A landmark serialises as tag+length, then x, y, z as tagged little-endian float32 (17 bytes) when
# it carries no visibility/presence. Reading the bytes directly is ten times faster than walking
# 478 protobuf objects in Python; anything else falls back to the object walk.
_LANDMARK_BYTES = 17
# MediaPipe's graph fails for good on degenerate images, and its OpenCV aborts the whole process
# on sides of 32767 pixels or more; frames outside these bounds are refused before they reach it.
MIN_SIDE = 32
MAX_SIDE = 16384
_XYZ_BYTES = np.r_[3:7, 8:12, 13:17]


def _landmark_array(face) -> np.ndarray:
    """(N, 3) float32 normalised landmarks from a NormalizedLandmarkList."""
    raw = np.frombuffer(face.SerializeToString(), np.uint8)
    if raw.size == NUM_LANDMARKS * _LANDMARK_BYTES:
        rows = raw.reshape(NUM_LANDMARKS, _LANDMARK_BYTES)
        tags = rows[:, [2, 7, 12]]
        if (tags == np.array([0x0D, 0x15, 0x1D], np.uint8)).all():  # x, y, z float fields
            return np.ascontiguousarray(rows[:, _XYZ_BYTES]).view("<f4").astype(np.float32)
    return np.array([(p.x, p.y, p.z) for p in face.landmark], np.float32)


class FaceMeshDetector:
    """Landmarks for up to ``max_faces`` faces per image.

    ``video=True`` lets MediaPipe track from the previous frame's landmarks (fast, stable; frames
    must come in time order); ``video=False`` runs the face detector on every image.
    """

    def __init__(self, max_faces: int = 3, video: bool = True,
                 min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5) -> None:
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError as error:
            raise DeviceError(f"mediapipe is not importable ({error}); "
                              "pip install mediapipe==0.10.21") from error
        self._options = dict(
            static_image_mode=not video,
            max_num_faces=max_faces,
            refine_landmarks=True,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        self._make = face_mesh.FaceMesh
        self._mesh = self._make(**self._options)

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """(478, 3) float32 pixel landmarks of each face in an (H, W, 3) uint8 RGB image.

        Raises ValueError for an image MediaPipe cannot take. Should MediaPipe fail on a frame
        anyway, its graph is rebuilt (a failed graph refuses every later frame) and the frame
        reports no face.
        """
        if self._mesh is None:
            raise RuntimeError("FaceMeshDetector used after close()")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, "
                             f"got {image.shape} {image.dtype}")
        height, width = image.shape[:2]
        if min(height, width) < MIN_SIDE or max(height, width) > MAX_SIDE:
            raise ValueError(f"image {width}x{height} is outside {MIN_SIDE}..{MAX_SIDE} pixels")
        try:
            result = self._mesh.process(np.ascontiguousarray(image))
        except RuntimeError as error:
            log.warning("face mesh failed on a %dx%d frame, restarting it: %s", width, height,
                        str(error).splitlines()[0])
            self._mesh.close()
            self._mesh = self._make(**self._options)
            return []
        faces = []
        for face in result.multi_face_landmarks or ():
            points = _landmark_array(face)
            if points.shape != (NUM_LANDMARKS, 3):
                log.debug("face with %d landmarks skipped", len(points))
                continue
            points *= np.array([width, height, width], np.float32)
            faces.append(points)
        return faces

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None
