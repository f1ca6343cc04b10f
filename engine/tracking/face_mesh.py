"""MediaPipe face mesh behind a numpy-only interface: the one module that touches MediaPipe.

``FaceMeshDetector.detect(image)`` returns every face's 478 landmarks as a (478, 3) float32
array in pixels (z in the same pixel scale as x, smaller = nearer the camera, as MediaPipe
defines it). Nothing of MediaPipe's own types escapes this module. Two detectors cancel
MediaPipe's own left/right bias by also looking at the mirror image: ``MirrorAveragedDetector``
on every frame (stills and offline work), ``MirrorAlternatingDetector`` on every other frame
(the live loop).
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


# The same face in the direct and the mirrored pass: centres closer than this share of its width.
SAME_FACE_SHARE = 0.25


def unmirror(points: np.ndarray, width: int, partner: np.ndarray) -> np.ndarray:
    """Landmarks found in a left-right mirrored image, as landmarks of the image itself: x
    flipped back and each landmark swapped with its partner (the mirror image's left eye is the
    person's right eye)."""
    out = points[partner].copy()
    out[:, 0] = width - out[:, 0]
    return out


def _centres_and_widths(faces: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([face[:, :2].mean(0) for face in faces]).reshape(-1, 2),
            np.array([np.ptp(face[:, 0]) for face in faces]))


def same_faces(first: list[np.ndarray], second: list[np.ndarray]) -> list[tuple[int, int]]:
    """Index pairs (i, j) of ``first[i]`` and ``second[j]`` taken for the same face: greedily by
    centre distance, within SAME_FACE_SHARE of both faces' mean width (so that swapping the two
    lists pairs the same faces)."""
    if not first or not second:
        return []
    (centres, widths), (other, other_widths) = (_centres_and_widths(first),
                                                _centres_and_widths(second))
    distance = np.linalg.norm(centres[:, None] - other[None], axis=2)
    bound = SAME_FACE_SHARE * 0.5 * (widths[:, None] + other_widths[None])
    pairs, used_a, used_b = [], set(), set()
    for a, b in sorted(np.ndindex(distance.shape), key=lambda ab: distance[ab]):
        if a in used_a or b in used_b or distance[a, b] > bound[a, b]:
            continue
        used_a.add(a)
        used_b.add(b)
        pairs.append((a, b))
    return pairs


def mirror_averaged(faces: list[np.ndarray], mirrored: list[np.ndarray], width: int,
                    partner: np.ndarray) -> list[np.ndarray]:
    """Faces of an image (``faces``) and of its mirror image (``mirrored``), merged: a face
    found in both passes is the mean of its direct landmarks and its unmirrored ones; a face
    found in one pass only is kept as found. Swapping the two passes mirrors the result exactly
    (the pairing is symmetric too)."""
    back = [unmirror(face, width, partner) for face in mirrored]
    pairs = same_faces(faces, back)
    used_a, used_b = {a for a, _ in pairs}, {b for _, b in pairs}
    merged = [0.5 * (faces[a] + back[b]) for a, b in pairs]
    merged += [face for a, face in enumerate(faces) if a not in used_a]
    merged += [face for b, face in enumerate(back) if b not in used_b]
    return merged


def mirror_image(image: np.ndarray) -> np.ndarray:
    """The image flipped left-right, contiguous (OpenCV's flip: numpy's reversed-stride copy
    costs 30 times as much, 11 ms at 720p)."""
    import cv2

    return cv2.flip(np.ascontiguousarray(image), 1)


class MirrorAveragedDetector:
    """``FaceMeshDetector`` run on the image and on its mirror image, each face's landmarks
    averaged over the two (``mirror_averaged``). A face and its mirror image then give exactly
    mirrored landmarks: MediaPipe's own left/right bias, 0.05-0.3 cm on a photo and read through
    the expression ramps as a one-sided expression, cancels, and each landmark's noise is
    averaged over two looks. Twice the cost of one pass: for stills and offline work, where
    nobody waits for the frame, not for the live loop."""

    def __init__(self, max_faces: int = 3, video: bool = True) -> None:
        from engine.tracking.template import load_template

        self._partner = load_template().mirror
        self._direct = FaceMeshDetector(max_faces=max_faces, video=video)
        self._mirrored = FaceMeshDetector(max_faces=max_faces, video=video)

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """As ``FaceMeshDetector.detect``."""
        faces = self._direct.detect(image)
        mirrored = self._mirrored.detect(mirror_image(image))
        return mirror_averaged(faces, mirrored, image.shape[1], self._partner)

    def close(self) -> None:
        self._direct.close()
        self._mirrored.close()


# Share of each new measurement of the two looks' difference that enters its running estimate.
# At 30 fps the estimate follows a changed expression within about a third of a second; the part
# of a measurement that is motion between the two frames changes sign with each look, and the
# estimate keeps only rate / (2 - rate) of it.
LOOK_DIFFERENCE_RATE = 0.5


class AlternatingLooks:
    """What ``MirrorAlternatingDetector`` reports from each look's faces in turn: every face the
    newest look found, corrected by half the running difference between the looks, and every
    face only the other look found on the frame before, held as it was (so a face one look
    misses does not flicker, and a face that leaves is gone by the second frame without it)."""

    def __init__(self) -> None:
        self._newest: list[list[np.ndarray]] = [[], []]  # each look's latest faces, unmirrored
        self._faces: list[np.ndarray] = []  # the faces reported last frame...
        self._differences: list[np.ndarray | None] = []  # ...and their direct − mirrored estimate

    def merge(self, look: int, found: list[np.ndarray]) -> list[np.ndarray]:
        """The faces to report now that ``look`` (0: the frame, 1: its mirror image, landmarks
        unmirrored) found ``found``."""
        self._newest[look] = found
        held = self._newest[1 - look]
        sign = 1.0 if look == 0 else -1.0  # found − held estimates sign · (direct − mirrored)
        pairs = same_faces(found, held)
        measured = {a: sign * (found[a] - held[b]) for a, b in pairs}
        paired = {b for _, b in pairs}
        faces = found + [face for b, face in enumerate(held) if b not in paired]
        signs = [sign] * len(found) + [-sign] * (len(faces) - len(found))
        earlier = dict(same_faces(faces, self._faces))
        corrected, differences = [], []
        for i, face in enumerate(faces):
            difference = self._differences[earlier[i]] if i in earlier else None
            if i in measured:
                difference = (measured[i] if difference is None else
                              difference + LOOK_DIFFERENCE_RATE * (measured[i] - difference))
            differences.append(difference)
            corrected.append(face if difference is None else face - 0.5 * signs[i] * difference)
        self._faces, self._differences = corrected, differences
        return corrected


class MirrorAlternatingDetector:
    """One face mesh pass per frame, alternately on the frame and on its mirror image (each look
    followed by its own tracking graph), merged by ``AlternatingLooks``. On a face that holds
    still the result is ``MirrorAveragedDetector``'s up to the face mesh's frame-to-frame noise
    (a mirrored face reads the swapped channels within about 0.01-0.05, one look a frame 0.2-0.3)
    for the cost of one pass and a flip; while the face changes, the difference estimate catches
    up within a few frames, and until then the error is about one look's own left/right bias.
    For video frames in time order (the live loop)."""

    def __init__(self, max_faces: int = 3) -> None:
        from engine.tracking.template import load_template

        self._partner = load_template().mirror
        self._looks = (FaceMeshDetector(max_faces=max_faces, video=True),
                       FaceMeshDetector(max_faces=max_faces, video=True))
        self._turn = 0  # 0: the frame itself, 1: its mirror image
        self._size: tuple[int, ...] | None = None
        self._merged = AlternatingLooks()

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """As ``FaceMeshDetector.detect``."""
        look = self._turn
        if look == 0:
            found = self._looks[0].detect(image)
        else:
            width = image.shape[1]
            found = [unmirror(face, width, self._partner)
                     for face in self._looks[1].detect(mirror_image(image))]
        self._turn = 1 - look
        if image.shape != self._size:  # another camera or size: nothing earlier carries over
            self._size = image.shape
            self._merged = AlternatingLooks()
        return self._merged.merge(look, found)

    def close(self) -> None:
        for look in self._looks:
            look.close()
