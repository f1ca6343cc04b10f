"""Upper-body tracking: MediaPipe Pose → the avatar's arm rotations (``Expression.arms``).

Runs only when the live scene asks for it (``upper_body = true``), inside the camera tracker on
the tracking worker, at the tracking rate. Per frame:

1. MediaPipe Pose (the legacy ``mp.solutions.pose`` graph) gives 33 world landmarks in metres
   about the hips; we keep shoulders, elbows and wrists and turn them into the body frame the
   avatar uses (+x the performer's left, +y up, +z towards the camera). The performer's own
   left arm drives the avatar's left arm, as the face's left channels drive its left side;
   mirroring is the scene's business (``engine.scenes.stylize``), as for the face.
2. Each segment (upper arm: shoulder→elbow, forearm: elbow→wrist) is followed as much as its
   joints are visible: MediaPipe guesses joints outside the frame, and those guesses swing about,
   so a segment seen poorly keeps its last direction while its weight eases to the rest pose,
   and eases back when it is seen again; it never snaps or freezes.
3. The directions are smoothed with a One-Euro filter, and each becomes the rotation from the
   segment's direction in the avatar's relaxed rest pose (``humanoid.rest_arm_directions``),
   scaled by its weight.

Model complexity: the 0.10.21 wheel ships only the "full" landmark model (complexity 1); "lite"
(0) and "heavy" (2) are downloaded on first use, and nothing may download at run time, so 1 is
what runs. ``persona bench tracking`` measures it (and "lite" where its file is installed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.avatar.humanoid import rest_arm_directions
from engine.tracking.one_euro import OneEuroFilter
from engine.types import Frame

# MediaPipe Pose landmark indices, [side: left, right][shoulder, elbow, wrist]; "left" is the
# performer's own left.
ARM_LANDMARKS = np.array([[11, 13, 15], [12, 14, 16]])
MODEL_COMPLEXITY = 1  # the landmark model the wheel ships (see the module docstring)
MODEL_FILES = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite",
               2: "pose_landmark_heavy.tflite"}
# MediaPipe's world axes (x to the image's right, y down, z away from the camera) → body frame.
TO_BODY = np.array([1.0, -1.0, -1.0])

# How much a segment is followed, from the lower visibility of its two joints: not at all up to
# VISIBLE_FROM, fully from VISIBLE_FULL. The band is centred on the 0.5 that MediaPipe's own
# drawing uses as "visible"; it was set from that, not fitted to footage.
VISIBLE_FROM, VISIBLE_FULL = 0.35, 0.65
EASE_S = 0.5  # seconds for a segment to go from followed to rest, or back
MAX_STEP_S = 0.25  # a longer gap between frames eases no further than this in one step
# One-Euro settings on unit direction vectors (speeds in units per second; an arm swung at
# 3 rad/s opens the cutoff to about 3.4 Hz): steady at rest, little lag when the arm moves.
DIRECTION_MIN_CUTOFF, DIRECTION_BETA, DIRECTION_D_CUTOFF = 1.0, 0.8, 1.0

REST = rest_arm_directions()  # (2, 2, 3) body frame


def model_shipped(complexity: int) -> bool:
    """Whether the landmark model for ``complexity`` is installed (so no download is needed)."""
    import mediapipe

    return (Path(mediapipe.__file__).parent / "modules" / "pose_landmark"
            / MODEL_FILES[complexity]).is_file()


@dataclass(frozen=True)
class ArmLandmarks:
    """The arm joints of one frame, [side: left, right][shoulder, elbow, wrist]."""

    points: np.ndarray  # (2, 3, 3) float64, body frame, metres
    visibility: np.ndarray  # (2, 3) in [0, 1]
    image: np.ndarray  # (2, 3, 2) x, y in pixels (may lie outside the frame)


def arm_landmarks(world: np.ndarray, visibility: np.ndarray, pixels: np.ndarray) -> ArmLandmarks:
    """The arms from MediaPipe's 33 pose landmarks: ``world`` (33, 3) in its world axes (metres,
    x to the image's right, y down, z away from the camera), ``visibility`` (33,), ``pixels``
    (33, 2)."""
    return ArmLandmarks(np.asarray(world, np.float64)[ARM_LANDMARKS] * TO_BODY,
                        np.clip(np.asarray(visibility, np.float64)[ARM_LANDMARKS], 0.0, 1.0),
                        np.asarray(pixels, np.float64)[ARM_LANDMARKS])


class PoseDetector:
    """MediaPipe Pose on RGB frames; ``video=True`` lets it track between frames."""

    def __init__(self, complexity: int = MODEL_COMPLEXITY, video: bool = True) -> None:
        if complexity not in MODEL_FILES or not model_shipped(complexity):
            raise ValueError(f"pose model complexity {complexity} is not installed "
                             f"({MODEL_FILES.get(complexity, 'unknown')}); it would have to be "
                             "downloaded")
        import mediapipe as mp

        self._pose = mp.solutions.pose.Pose(
            static_image_mode=not video, model_complexity=complexity, smooth_landmarks=video,
            enable_segmentation=False, min_detection_confidence=0.5,
            min_tracking_confidence=0.5)

    def detect(self, image: np.ndarray) -> ArmLandmarks | None:
        """The arms of the most prominent person in ``image`` ((H, W, 3) uint8 RGB), or None."""
        result = self._pose.process(image)
        if result.pose_world_landmarks is None or result.pose_landmarks is None:
            return None
        world = result.pose_world_landmarks.landmark
        normalised = result.pose_landmarks.landmark
        height, width = image.shape[:2]
        return arm_landmarks(np.array([[p.x, p.y, p.z] for p in world]),
                             np.array([p.visibility for p in normalised]),
                             np.array([[p.x * width, p.y * height] for p in normalised]))

    def close(self) -> None:
        self._pose.close()


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def segment_directions(points: np.ndarray) -> np.ndarray:
    """(2, 2, 3) unit directions of the upper arm and forearm from (2, 3, 3) joint positions."""
    return _unit(points[:, 1:] - points[:, :-1])


def follow_weights(visibility: np.ndarray) -> np.ndarray:
    """(2, 2) how much each segment is followed, from its joints' (2, 3) visibility."""
    seen = np.minimum(visibility[:, 1:], visibility[:, :-1])
    return np.clip((seen - VISIBLE_FROM) / (VISIBLE_FULL - VISIBLE_FROM), 0.0, 1.0)


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (x, y, z, w) of the shortest rotations taking unit ``a`` to unit
    ``b``; a half turn (``b = -a``) goes about an axis across ``a`` and the body's front."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    axis = np.cross(a, b)
    w = 1.0 + np.sum(a * b, axis=-1, keepdims=True)
    opposite = w[..., 0] < 1e-9
    if np.any(opposite):
        across = np.cross(a[opposite], [0.0, 0.0, 1.0])
        flat = np.linalg.norm(across, axis=-1) < 1e-6
        across[flat] = np.cross(a[opposite][flat], [1.0, 0.0, 0.0])
        axis[opposite], w[opposite] = _unit(across), 0.0
    return _unit(np.concatenate([axis, w], axis=-1))


def toward_identity(quats: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``quats`` (..., 4, with w >= 0) turned only ``weights`` (...) of the way from identity."""
    half = np.arccos(np.clip(quats[..., 3], -1.0, 1.0))
    sin_half = np.sin(half)
    scale = np.where(sin_half > 1e-9, np.sin(weights * half) / np.maximum(sin_half, 1e-9),
                     weights)
    out = np.empty_like(quats)
    out[..., :3] = quats[..., :3] * scale[..., None]
    out[..., 3] = np.cos(weights * half)
    return _unit(out)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3.0 - 2.0 * x)


class ArmFollower:
    """Arm landmarks over time → (2, 2, 4) float32 ``Expression.arms``: smoothed, each segment
    eased towards or away from the rest pose by how visible it is. ``video=False`` takes every
    update as an unrelated photo: no smoothing, no easing."""

    def __init__(self, video: bool = True) -> None:
        self._video = video
        self._filter = OneEuroFilter(DIRECTION_MIN_CUTOFF, DIRECTION_BETA, DIRECTION_D_CUTOFF)
        self._directions = REST.astype(np.float64)  # the last followed direction per segment
        self._weights = np.zeros((2, 2))  # how much each segment is followed now
        self._t: float | None = None

    def update(self, arms: ArmLandmarks | None, t: float) -> np.ndarray:
        """The arms for the frame at ``t``; ``None``: nobody seen (every segment eases to rest)."""
        if not self._video:
            self._filter.reset()
            self._t = None
        step = 0.0 if self._t is None else min(max(t - self._t, 0.0), MAX_STEP_S) / EASE_S
        self._t = t
        if arms is None:
            wanted = np.zeros((2, 2))
        else:
            wanted = follow_weights(arms.visibility)
            # A segment out of sight keeps its last direction: only seen ones feed the filter.
            seen = (wanted > 0.0)[..., None]
            measured = np.where(seen, segment_directions(arms.points), self._directions)
            self._directions = _unit(self._filter(measured, t))
        if self._video:
            self._weights += np.clip(wanted - self._weights, -step, step)
        else:
            self._weights = wanted
        turns = swing(REST, self._directions)
        return toward_identity(turns, _smoothstep(self._weights)).astype(np.float32)

    @property
    def weights(self) -> np.ndarray:
        """(2, 2) how much each segment follows the performer now (0: rest pose)."""
        return self._weights.copy()


class UpperBodyTracker:
    """Frames → ``Expression.arms``: the pose model and the follower, on the tracking worker."""

    def __init__(self, complexity: int = MODEL_COMPLEXITY, video: bool = True) -> None:
        self._detector = PoseDetector(complexity, video)
        self.follower = ArmFollower(video)
        self.last: ArmLandmarks | None = None  # the newest landmarks (for tools and tests)

    def track(self, frame: Frame) -> np.ndarray:
        try:
            self.last = self._detector.detect(frame.image)
        except ValueError:  # a malformed frame: nobody seen, the arms ease to rest
            self.last = None
        return self.follower.update(self.last, frame.t_capture)

    def close(self) -> None:
        self._detector.close()


def arm_angles(arms: np.ndarray) -> np.ndarray:
    """(2, 2) degrees each segment is turned from the rest pose (for tests and benchmarks)."""
    return np.degrees(2.0 * np.arccos(np.clip(np.abs(arms[..., 3]), 0.0, 1.0)))

