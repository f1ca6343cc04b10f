"""The webcam tracker: MediaPipe face mesh → head pose, gaze and ARKit-52 blendshapes.

Per frame: landmarks of every face (``face_mesh``); the primary face chosen and kept; its
landmarks smoothed with a One-Euro filter (jitter costs more than a frame of lag here, because
every later stage inherits it); head pose by PnP against the template; expressions and gaze
measured in the pose-free template frame. Bystanders are reported as boxes only.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

from engine.tracking import blendshapes, gaze
from engine.tracking.face_mesh import (FaceMeshDetector, MirrorAlternatingDetector,
                                       MirrorAveragedDetector)
from engine.tracking.head_pose import HeadPoseSolver, Intrinsics, to_face_frame
from engine.tracking.one_euro import OneEuroFilter
from engine.tracking.pose import UpperBodyTracker
from engine.tracking.template import FaceTemplate, load_template
from engine.types import NUM_LANDMARKS, FaceState, Frame

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]

# Landmark smoothing in pixels: ~1.5 Hz at rest, opening by 0.1 Hz per px/s of motion, so a head
# turn (hundreds of px/s) passes with little lag while sub-pixel shimmer is removed. The eyelids
# are left nearly raw: a blink lasts three or four frames and smoothing would swallow it (the
# retarget stage filters the blink channel with its own, fast settings).
LANDMARK_MIN_CUTOFF = 1.5
LANDMARK_BETA = 0.1
LANDMARK_D_CUTOFF = 4.0
EYELID_MIN_CUTOFF = 30.0
STICKY_IOU = 0.2  # the previous primary face continues as the face overlapping it this much
FIT_RMS_SCALE_CM = 0.8  # template-fit residual at which confidence falls to 1/e
LOOKS = ("one", "alternate", "both")


def face_box(landmarks: np.ndarray) -> Box:
    """x, y, w, h in pixels around the landmarks."""
    low, high = landmarks[:, :2].min(0), landmarks[:, :2].max(0)
    return float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def choose_primary(boxes: list[Box], frame_size: tuple[int, int], previous: Box | None) -> int:
    """Index of the primary face: whoever continues the previous primary face, else the largest
    face weighted towards the centre of the frame."""
    if previous is not None:
        overlaps = [iou(box, previous) for box in boxes]
        best = int(np.argmax(overlaps))
        if overlaps[best] >= STICKY_IOU:
            return best
    width, height = frame_size
    half_diagonal = 0.5 * math.hypot(width, height)

    def score(box: Box) -> float:
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        off_centre = math.hypot(cx - width / 2, cy - height / 2) / half_diagonal
        return box[2] * box[3] * (1.0 - 0.5 * off_centre)

    return int(np.argmax([score(box) for box in boxes]))


def _landmark_filter() -> OneEuroFilter:
    from mediapipe.python.solutions import face_mesh_connections as connections

    lids = {i for edges in (connections.FACEMESH_LEFT_EYE, connections.FACEMESH_RIGHT_EYE)
            for edge in edges for i in edge}
    min_cutoff = np.full((NUM_LANDMARKS, 1), LANDMARK_MIN_CUTOFF)
    min_cutoff[sorted(lids)] = EYELID_MIN_CUTOFF
    return OneEuroFilter(min_cutoff, LANDMARK_BETA, LANDMARK_D_CUTOFF)


class MediaPipeTracker:
    """``Tracker`` for camera frames.

    ``video=False`` treats every frame as an unrelated photo: no smoothing, no memory of the
    previous frame's face or pose. ``looks`` says what the face mesh sees (``face_mesh``):
    ``"alternate"`` (video's default) the frame and, on the next frame, its mirror image, each
    face corrected by half the running difference between the two, so a face that holds still
    reads about as mirror-consistently as with both looks for the cost of one; ``"both"`` the
    frame and its mirror image every frame, averaged, exact on every frame at twice the face
    mesh's cost (stills and offline work); ``"one"`` (photos' default) the frame alone.

    ``set_upper_body(True)`` (a scene's ``upper_body``) also follows the arms with MediaPipe Pose
    (``engine.tracking.pose``), on the same thread at the same rate; every ``FaceState`` then
    carries ``arms``, whether or not a face was found.
    """

    def __init__(self, max_faces: int = 3, intrinsics: Intrinsics | None = None,
                 smooth_landmarks: bool = True, video: bool = True,
                 template: FaceTemplate | None = None, looks: str | None = None) -> None:
        self.template = template or load_template()
        self._video = video
        looks = looks or ("alternate" if video else "one")
        if looks == "alternate" and not video:
            raise ValueError("alternating looks need video frames in time order")
        if looks == "alternate":
            self._detector = MirrorAlternatingDetector(max_faces=max_faces)
        elif looks in LOOKS:
            detector = MirrorAveragedDetector if looks == "both" else FaceMeshDetector
            self._detector = detector(max_faces=max_faces, video=video)
        else:
            raise ValueError(f"looks {looks!r}: expected one of {', '.join(LOOKS)}")
        self._pose = HeadPoseSolver(self.template, intrinsics)
        self._filter = _landmark_filter() if smooth_landmarks and video else None
        self._primary: Box | None = None
        self._upper_body = False
        self._body: UpperBodyTracker | None = None  # made on first use, on the tracking thread

    def set_upper_body(self, on: bool) -> None:
        """Follow the arms too, from the next frame on."""
        self._upper_body = on

    def track(self, frame: Frame) -> FaceState:
        face = self._track_face(frame)
        arms = self._track_arms(frame)
        return face if arms is None else dataclasses.replace(face, arms=arms)

    def _track_arms(self, frame: Frame) -> np.ndarray | None:
        if self._upper_body:
            if self._body is None:
                self._body = UpperBodyTracker(video=self._video)
            return self._body.track(frame)
        if self._body is None:
            return None
        # The scene no longer asks: the arms ease down to rest as when nobody is seen (over
        # pose.EASE_S; they snapped there on a switch), and then the model is freed.
        arms = self._body.follower.update(None, frame.t_capture)
        if not self._body.follower.weights.any():
            self._body.close()
            self._body = None
        return arms

    def _track_face(self, frame: Frame) -> FaceState:
        if not self._video:
            self._lose()
        try:
            faces = self._detector.detect(frame.image)
        except ValueError as error:  # a malformed frame: report no face, keep the loop alive
            log.warning("frame %d skipped: %s", frame.index, error)
            faces = []
        if not faces:
            self._lose()
            return FaceState.lost(frame.t_capture)
        boxes = [face_box(face) for face in faces]
        primary = choose_primary(boxes, frame.size, self._primary)
        if self._primary is not None and iou(boxes[primary], self._primary) < STICKY_IOU:
            self._lose()  # a different person: do not smooth one face into another
        self._primary = boxes[primary]
        others = tuple(box for i, box in enumerate(boxes) if i != primary)
        return self._measure(faces[primary], frame, boxes[primary], others)

    def _measure(self, landmarks: np.ndarray, frame: Frame, box: Box,
                 others: tuple[Box, ...]) -> FaceState:
        if self._filter is not None:
            landmarks = self._filter(landmarks, frame.t_capture).astype(np.float32)
        head = self._pose.solve(landmarks, frame.size)
        if head is None:
            log.debug("frame %d: no head pose fit", frame.index)
            return FaceState(t=frame.t_capture, found=False, others=(box, *others))
        points, residual = to_face_frame(landmarks, self.template)
        eyes = gaze.eye_angles(points)
        return FaceState(
            t=frame.t_capture,
            found=True,
            landmarks=landmarks,
            head=head,
            blendshapes=blendshapes.compute(points, eyes),
            gaze=gaze.gaze(eyes),
            confidence=float(math.exp(-((residual / FIT_RMS_SCALE_CM) ** 2))),
            box=box,
            others=others,
        )

    def _lose(self) -> None:
        self._primary = None
        if self._filter is not None:
            self._filter.reset()

    def close(self) -> None:
        self._detector.close()
        if self._body is not None:
            self._body.close()
            self._body = None
