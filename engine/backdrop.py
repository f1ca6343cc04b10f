"""Camera backdrops: the real room behind the avatar, without the real person.

Two modes, chosen by a scene's ``[background] camera = ...``:

``blur``
    Every face box the tracker reports for the frame (grown by 40 %) is first painted over with
    the picture's mean colour, then the picture is shrunk to 16×9 pixels (area average) and
    smoothly enlarged again. In a frame where the tracker has no face it is shrunk to 4×3
    instead: where a face might be is unknown (the boxes last seen say nothing of a bystander
    who has walked on since, out from behind the performer), so only the room's light remains.
    Either way nobody in the room can be recognised. It costs about half a millisecond of CPU,
    and the picture is scaled to the frame on the CPU (under a millisecond) and written into
    the scene's layer: a textured full-screen pass would cost 6-10 ms on llvmpipe.
``segmented``
    The room as it is, with the person cut out: MediaPipe's selfie segmentation (shipped with
    the mediapipe wheel, runs offline) finds the person at 256×144; the mask is grown generously
    and every face box the tracker reports is added to it; those pixels are filled from a "clean
    plate" of the room learnt from pixels where the person has not been (the mean room colour
    until then).

Privacy rules for ``segmented`` — the real face must never reach the output, so the cut-out is
only trusted when it can be checked: when the tracker has no face this frame, when the face box
is not covered by the person mask, or when the segmenter is unavailable or fails, that frame falls
back to ``blur``. The picture is processed at 256×144 in any case, so fine detail of bystanders
never shows either.

Both modes run on a worker of their own (``engine.worker.LatestWorker``): measured on the loop's
thread they cost 5 ms (blur) and 14 ms (segmented) of CPU per camera frame. Each camera frame
goes to the worker with the face the tracker reported for it, so a picture is judged with the
face it was checked against; the loop shows the newest finished picture. Live the loop never
waits for it (the room is then a frame or so behind the avatar); offline renders and tests wait
for the picture of the frame they passed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from engine.gl.compositor import layer_pixels
from engine.types import FaceState, Frame
from engine.worker import LatestWorker

log = logging.getLogger(__name__)

BLUR_SIZE = (16, 9)  # what is left of the camera picture in blur mode, faces painted out
AMBIENT_SIZE = (4, 3)  # ... and when no face box is known: light and colour only
SHOW_SIZE = (256, 144)  # the size both modes make the picture at
_FACE_COVERAGE = 0.8  # share of the face box the person mask must cover to be trusted


def blur_picture(image: np.ndarray, faces: tuple = ()) -> np.ndarray:
    """(H, W, 3) uint8 → (144, 256, 3) uint8: the room's colours with no recognisable detail.

    ``faces`` are (x, y, w, h) pixel boxes painted out first. With none known, nothing tells
    where a face might be, so only the room's ambient light is kept (a 4×3 picture)."""
    small = _shrink(image)
    fill = np.array(cv2.mean(small)[:3], np.uint8)
    sx, sy = SHOW_SIZE[0] / image.shape[1], SHOW_SIZE[1] / image.shape[0]
    for box in faces:
        x0, y0, x1, y1 = _scaled_box(box, sx, sy, grow=0.4)
        small[y0:y1, x0:x1] = fill
    tiny = cv2.resize(small, BLUR_SIZE if faces else AMBIENT_SIZE, interpolation=cv2.INTER_AREA)
    return cv2.resize(tiny, SHOW_SIZE, interpolation=cv2.INTER_CUBIC)


class _Segmenter:
    """MediaPipe selfie segmentation, loaded on first use; None-safe if it cannot load."""

    def __init__(self) -> None:
        self._model = None
        self.failed = False

    def person_mask(self, small: np.ndarray) -> np.ndarray | None:
        if self.failed:
            return None
        try:
            if self._model is None:
                import mediapipe as mp

                self._model = mp.solutions.selfie_segmentation.SelfieSegmentation(
                    model_selection=1)
            result = self._model.process(small)
        except Exception as error:  # a missing or broken model must not stop the session
            log.error("person segmentation unavailable (%s); the camera background is "
                      "blurred instead", error)
            self.failed = True
            return None
        if result.segmentation_mask is None:
            return None
        return result.segmentation_mask > 0.2

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None


@dataclass(frozen=True)
class _Shown:
    """One finished backdrop: the camera frame it was made from and what shows."""

    index: int
    picture: np.ndarray  # (144, 256, 3) uint8
    pixels: np.ndarray  # layer pixels (``layer_pixels``): a new array each time, never rewritten
    fell_back: bool


class CameraBackdrop:
    """Turns camera frames into a privacy-safe background for one scene layer: ``pixels`` (the
    layer's size, ``engine.gl.compositor.layer_pixels``) and ``picture`` (at SHOW_SIZE)."""

    def __init__(self, mode: str, size: tuple[int, int]) -> None:
        if mode not in ("blur", "segmented"):
            raise ValueError(f"unknown camera backdrop {mode!r}")
        self.mode = mode
        # Filled before the first camera frame arrives: never uninitialised memory on screen.
        self.picture = np.zeros((SHOW_SIZE[1], SHOW_SIZE[0], 3), np.uint8)
        self.pixels = layer_pixels(self.picture, size)
        self._size = size
        self._segmenter = _Segmenter() if mode == "segmented" else None
        self._plate: np.ndarray | None = None  # (144, 256, 3) float32, the empty room
        self._grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (25, 25))
        self._last_index: int | None = None
        self.fell_back = False  # whether the shown picture is the blur fallback
        self._worker: LatestWorker[tuple[Frame, FaceState | None], _Shown] = LatestWorker(
            self._make, f"backdrop:{mode}")

    def update(self, frame: Frame | None, face: FaceState | None,
               wait_s: float = 1.0) -> None:
        """Hand a new camera frame to the worker (once per camera frame) and show the newest
        finished picture. ``wait_s``: how long to wait for this frame's own picture — 0 live,
        where the loop never waits; by default, for callers that want it exact, a second."""
        if frame is not None and frame.index != self._last_index:
            self._last_index = frame.index
            self._worker.submit((frame, face))
        if wait_s > 0 and self._last_index is not None:
            wanted = self._last_index
            shown = self._worker.wait_for(lambda done: done.index == wanted, wait_s)
        else:
            shown = self._worker.latest()
        if shown is not None:
            self.picture, self.pixels, self.fell_back = shown.picture, shown.pixels, \
                shown.fell_back

    def _make(self, job: tuple[Frame, FaceState | None]) -> _Shown:
        """On the worker: the picture for one camera frame and the face reported for it."""
        frame, face = job
        picture = None
        if self._segmenter is not None:
            picture = self._segmented(frame.image, face)
        fell_back = picture is None and self.mode == "segmented"
        if picture is None:
            found = face is not None and face.found and face.box is not None
            picture = blur_picture(frame.image, (face.box, *face.others) if found else ())
        return _Shown(frame.index, picture, layer_pixels(picture, self._size), fell_back)

    def _segmented(self, image: np.ndarray, face: FaceState | None) -> np.ndarray | None:
        if face is None or not face.found or face.box is None:
            return None  # nowhere to check the cut-out against: do not trust it
        small = _shrink(image)
        mask = self._segmenter.person_mask(small)
        if mask is None:
            return None
        sx, sy = SHOW_SIZE[0] / image.shape[1], SHOW_SIZE[1] / image.shape[0]
        box = _scaled_box(face.box, sx, sy, grow=0.0)
        x0, y0, x1, y1 = box
        if x1 <= x0 or y1 <= y0 or mask[y0:y1, x0:x1].mean() < _FACE_COVERAGE:
            return None
        hidden = cv2.dilate(mask.astype(np.uint8), self._grow) > 0
        for other in (face.box, *face.others):
            x0, y0, x1, y1 = _scaled_box(other, sx, sy, grow=0.3)
            hidden[y0:y1, x0:x1] = True
        visible = ~hidden
        if self._plate is None:
            mean = small[visible].mean(axis=0) if visible.any() else np.full(3, 96.0)
            self._plate = np.empty(small.shape, np.float32)
            self._plate[:] = mean
        # Learn the room where it is visible; where the person stands the plate keeps its past.
        self._plate[visible] += 0.15 * (small[visible] - self._plate[visible])
        shown = small.copy()
        shown[hidden] = self._plate[hidden].astype(np.uint8)
        return cv2.GaussianBlur(shown, (5, 5), 0)

    def release(self) -> None:
        self._worker.close()  # after the frame it is on: the segmenter is free after this
        if self._segmenter is not None:
            self._segmenter.close()
            self._segmenter = None


def _shrink(image: np.ndarray) -> np.ndarray:
    """The camera picture at SHOW_SIZE. Bilinear (0.2 ms at 720p, against 2.6 ms for an area
    average): what it aliases is averaged away by the 16x9 shrink or the blur after it."""
    return cv2.resize(image, SHOW_SIZE, interpolation=cv2.INTER_LINEAR)


def _scaled_box(box, sx: float, sy: float, grow: float) -> tuple[int, int, int, int]:
    x, y, w, h = box
    x, y, w, h = x - grow * w, y - grow * h, w * (1 + 2 * grow), h * (1 + 2 * grow)
    x0, y0 = max(0, int(x * sx)), max(0, int(y * sy))
    x1 = min(SHOW_SIZE[0], int(np.ceil((x + w) * sx)))
    y1 = min(SHOW_SIZE[1], int(np.ceil((y + h) * sy)))
    return x0, y0, x1, y1
