"""Upper-body tracking: MediaPipe Pose → the avatar's arm rotations (``Expression.arms``).

Runs only when the live scene asks for it (``upper_body = true``), inside the camera tracker on
the tracking worker, at the tracking rate. Per frame:

1. MediaPipe Pose (the legacy ``mp.solutions.pose`` graph) gives 33 world landmarks in metres
   about the hips; we keep shoulders, elbows, wrists, the index and little fingers' knuckles and
   the ears, in the body frame the avatar uses (+x the performer's left, +y up, +z towards the
   camera). The performer's own left arm drives the avatar's left arm, as the face's left
   channels drive its left side; mirroring is the scene's business (``engine.scenes.stylize``).
2. Each part is followed as much as its landmarks are visible: MediaPipe guesses joints outside
   the frame, and those guesses swing about, so a part seen poorly keeps its last value while
   its weight eases to the rest pose, and eases back when it is seen again; it never snaps or
   freezes. The parts: the upper arm (shoulder→elbow) and forearm (elbow→wrist) directions, the
   hand's twist about the forearm (from the knuckle line, index minus little finger), and the
   shrug (each shoulder's height below the ears, against the highest it has lately been).
3. Directions and the knuckle line are smoothed with a One-Euro filter, as is the shoulders'
   height. ``Expression.arms`` is (2, 3, 4) float32: per side [upper arm, forearm, shoulder]
   quaternions (x, y, z, w) in the body frame from the avatar's relaxed rest pose
   (``humanoid.rest_arm_directions``, ``rest_hand_across``): the upper arm's shortest swing, the
   forearm's swing with the hand's twist about it, the shoulder girdle raised about the body's
   front axis; each scaled by its weight.

Model complexity: the 0.10.21 wheel ships only the "full" landmark model (complexity 1); "lite"
(0) and "heavy" (2) are downloaded on first use, and nothing may download at run time, so 1 is
what runs. ``persona bench tracking`` measures it (and "lite" where its file is installed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.avatar.humanoid import rest_arm_directions, rest_hand_across
from engine.tracking.one_euro import OneEuroFilter
from engine.tracking.rotations import from_axis_angle, matrix_from_quat, multiply
from engine.types import Frame

# The second axis of Expression.arms (the first is the side: left, right).
UPPER_ARM, FOREARM, SHOULDER = 0, 1, 2
# MediaPipe Pose landmark indices; "left" is the performer's own left. Arms: [side][shoulder,
# elbow, wrist]; hands: [side][index, little finger] knuckles; ears: [left, right].
ARM_LANDMARKS = np.array([[11, 13, 15], [12, 14, 16]])
HAND_LANDMARKS = np.array([[19, 17], [20, 18]])
EAR_LANDMARKS = np.array([7, 8])
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

# The shrug and the twist. No shared clip shrugs or turns a hand, so these come from anatomy and
# MediaPipe's jitter (a few mm at rest), not from fitting footage. A shrug raises the shoulders
# up to about 5 cm towards the ears; the avatar's clavicle turns up to 25 degrees, which lifts an
# adult's shoulder joint by about as much. Less than 1.5 cm is no shrug: the jitter, breathing,
# and the ears dropping about 1.3 cm when the head looks 30 degrees down. The relaxed height is
# the highest the shoulders have lately been below the ears, sinking 1.5 mm a second: a slumped
# posture 3 cm lower is taken in within 10 s, and a held 4 cm shrug keeps about 80 % of its turn
# 3.5 s on (tests/avatar/test_upper_body.py).
SHRUG_DEAD_M, SHRUG_FULL_M = 0.015, 0.05
SHRUG_DEG = 25.0
SHRUG_REST_SINK_M_S = 0.0015
HEIGHT_MIN_CUTOFF, HEIGHT_BETA = 1.0, 20.0  # One-Euro on metres
# The forearm turns at most this far either way from "palm towards the thigh" (about what a
# forearm can); the knuckle line is read only when it lies at least this far across the forearm
# (the sine of their angle), else the twist keeps its last value.
TWIST_LIMIT_DEG = 90.0
ACROSS_MIN = 0.5

REST = rest_arm_directions()  # (2, 2, 3) body frame
REST_ACROSS = rest_hand_across()  # (2, 3) body frame


def model_shipped(complexity: int) -> bool:
    """Whether the landmark model for ``complexity`` is installed (so no download is needed)."""
    import mediapipe

    return (Path(mediapipe.__file__).parent / "modules" / "pose_landmark"
            / MODEL_FILES[complexity]).is_file()


@dataclass(frozen=True)
class ArmLandmarks:
    """The arm joints of one frame, [side: left, right][shoulder, elbow, wrist]; the knuckles,
    [side][index, little finger]; the ears, [left, right]. Body frame, metres."""

    points: np.ndarray  # (2, 3, 3) float64
    visibility: np.ndarray  # (2, 3) in [0, 1]
    image: np.ndarray  # (2, 3, 2) x, y in pixels (may lie outside the frame)
    knuckles: np.ndarray  # (2, 2, 3) float64
    knuckle_visibility: np.ndarray  # (2, 2)
    ears: np.ndarray  # (2, 3) float64
    ear_visibility: np.ndarray  # (2,)


def arm_landmarks(world: np.ndarray, visibility: np.ndarray, pixels: np.ndarray) -> ArmLandmarks:
    """The arms from MediaPipe's 33 pose landmarks: ``world`` (33, 3) in its world axes (metres,
    x to the image's right, y down, z away from the camera), ``visibility`` (33,), ``pixels``
    (33, 2)."""
    world = np.asarray(world, np.float64) * TO_BODY
    visibility = np.clip(np.asarray(visibility, np.float64), 0.0, 1.0)
    return ArmLandmarks(world[ARM_LANDMARKS], visibility[ARM_LANDMARKS],
                        np.asarray(pixels, np.float64)[ARM_LANDMARKS],
                        world[HAND_LANDMARKS], visibility[HAND_LANDMARKS],
                        world[EAR_LANDMARKS], visibility[EAR_LANDMARKS])


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


def _followed(visibility: np.ndarray) -> np.ndarray:
    """How much a part is followed, from the lowest visibility of its landmarks."""
    return np.clip((visibility - VISIBLE_FROM) / (VISIBLE_FULL - VISIBLE_FROM), 0.0, 1.0)


def follow_weights(arms: ArmLandmarks) -> np.ndarray:
    """(2, 3) how much each part ([side][upper arm, forearm, shoulder]) is followed, from the
    visibility of what it is measured from; the forearm's twist is followed separately
    (``twist_weights``)."""
    joints = arms.visibility
    weights = np.empty((2, 3))
    weights[:, UPPER_ARM] = _followed(np.minimum(joints[:, 0], joints[:, 1]))
    weights[:, FOREARM] = _followed(np.minimum(joints[:, 1], joints[:, 2]))
    weights[:, SHOULDER] = _followed(np.minimum(joints[:, 0], arms.ear_visibility.min()))
    return weights


def twist_weights(arms: ArmLandmarks) -> np.ndarray:
    """(2,) how much each hand's twist is followed: the wrist and both knuckles seen."""
    return _followed(np.minimum(arms.visibility[:, 2], arms.knuckle_visibility.min(axis=1)))


def shoulder_heights(arms: ArmLandmarks) -> np.ndarray:
    """(2,) metres each shoulder joint lies below the ears' midpoint (smaller in a shrug; the
    midpoint, so that a head tilted to one side moves neither)."""
    return arms.ears[:, 1].mean() - arms.points[:, 0, 1]


def _across_forearm(vectors: np.ndarray, forearms: np.ndarray) -> np.ndarray:
    """(2, 3) ``vectors`` less their part along the unit ``forearms``."""
    return vectors - np.sum(vectors * forearms, axis=-1, keepdims=True) * forearms


def readable_knuckles(forearms: np.ndarray, across: np.ndarray) -> np.ndarray:
    """(2,) whether each knuckle line (2, 3) lies far enough across its unit forearm (2, 3) to
    tell the hand's twist."""
    length = np.linalg.norm(across, axis=-1)
    return (length > 1e-9) & (np.linalg.norm(_across_forearm(across, forearms), axis=-1)
                              >= ACROSS_MIN * length)


def twist_angles(forearms: np.ndarray, across: np.ndarray, swings: np.ndarray) -> np.ndarray:
    """(2,) radians each hand is turned about its forearm from the rest pose's hand carried
    along by the forearm's swing (positive: anticlockwise seen from the hand), within
    ``TWIST_LIMIT_DEG``, from unit ``forearms`` (2, 3), knuckle lines (2, 3) and the forearms'
    swings from the rest pose (2, 4: ``swing(REST[:, FOREARM], forearms)``)."""
    carried = np.stack([matrix_from_quat(q) @ rest for q, rest in zip(swings, REST_ACROSS)])
    carried, seen = _across_forearm(carried, forearms), _across_forearm(across, forearms)
    angles = np.arctan2(np.sum(forearms * np.cross(carried, seen), axis=-1),
                        np.sum(carried * seen, axis=-1))
    limit = np.radians(TWIST_LIMIT_DEG)
    return np.clip(angles, -limit, limit)


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


# The shoulder girdle's turn axis per side, body frame: about the front axis, the outer end up.
SHRUG_AXES = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])


class ArmFollower:
    """Arm landmarks over time → (2, 3, 4) float32 ``Expression.arms``: smoothed, each part
    eased towards or away from the rest pose by how visible it is. ``video=False`` takes every
    update as an unrelated photo: no smoothing, no easing, and no shrug (a photo has no relaxed
    height to compare with)."""

    def __init__(self, video: bool = True) -> None:
        self._video = video
        self._filter = OneEuroFilter(DIRECTION_MIN_CUTOFF, DIRECTION_BETA, DIRECTION_D_CUTOFF)
        self._across_filter = OneEuroFilter(DIRECTION_MIN_CUTOFF, DIRECTION_BETA,
                                            DIRECTION_D_CUTOFF)
        self._height_filter = OneEuroFilter(HEIGHT_MIN_CUTOFF, HEIGHT_BETA)
        self._directions = REST.astype(np.float64)  # the last followed direction per segment
        self._across = REST_ACROSS.astype(np.float64)  # the last followed knuckle line
        self._relaxed: np.ndarray | None = None  # (2,) the shoulders' relaxed height
        self._shrug = np.zeros(2)  # the last followed shrug, 0–1
        self._weights = np.zeros((2, 3))  # how much each part is followed now
        self._twist_weights = np.zeros(2)
        self._t: float | None = None

    def update(self, arms: ArmLandmarks | None, t: float) -> np.ndarray:
        """The arms for the frame at ``t``; ``None``: nobody seen (every part eases to rest)."""
        if not self._video:
            for smoothing in (self._filter, self._across_filter, self._height_filter):
                smoothing.reset()
            self._t = None
        dt = 0.0 if self._t is None else min(max(t - self._t, 0.0), MAX_STEP_S)
        self._t = t
        if arms is None:
            wanted, wanted_twist = np.zeros((2, 3)), np.zeros(2)
        else:
            wanted, wanted_twist = follow_weights(arms), twist_weights(arms)
            # A part out of sight keeps its last value: only seen ones feed the filters.
            seen = (wanted[:, :SHOULDER] > 0.0)[..., None]
            measured = np.where(seen, segment_directions(arms.points), self._directions)
            self._directions = _unit(self._filter(measured, t))
            across = _unit(arms.knuckles[:, 0] - arms.knuckles[:, 1])
            readable = readable_knuckles(self._directions[:, FOREARM], across)
            wanted_twist = np.where(readable, wanted_twist, 0.0)
            measured = np.where((wanted_twist > 0.0)[:, None], across, self._across)
            self._across = _unit(self._across_filter(measured, t))
            if self._video:
                self._follow_shrug(shoulder_heights(arms), wanted[:, SHOULDER] > 0.0, t, dt)
            else:
                wanted[:, SHOULDER] = 0.0
        step = dt / EASE_S
        if self._video:
            self._weights += np.clip(wanted - self._weights, -step, step)
            self._twist_weights += np.clip(wanted_twist - self._twist_weights, -step, step)
        else:
            self._weights, self._twist_weights = wanted, wanted_twist
        return self._rotations()

    def _follow_shrug(self, heights: np.ndarray, seen: np.ndarray, t: float, dt: float) -> None:
        if not seen.any():
            return
        heights = self._height_filter(heights, t)
        if self._relaxed is None:
            self._relaxed = heights.copy()
        self._relaxed = np.where(seen, np.maximum(self._relaxed - SHRUG_REST_SINK_M_S * dt,
                                                  heights), self._relaxed)
        raised = (self._relaxed - heights - SHRUG_DEAD_M) / (SHRUG_FULL_M - SHRUG_DEAD_M)
        self._shrug = np.where(seen, np.clip(raised, 0.0, 1.0), self._shrug)

    def _rotations(self) -> np.ndarray:
        turns = np.empty((2, 3, 4))
        turns[:, :SHOULDER] = swing(REST, self._directions)
        forearms = self._directions[:, FOREARM]
        angles = twist_angles(forearms, self._across, turns[:, FOREARM])
        twist = from_axis_angle(forearms, angles * _smoothstep(self._twist_weights))
        turns[:, FOREARM] = multiply(twist, turns[:, FOREARM])
        turns[:, SHOULDER] = from_axis_angle(SHRUG_AXES, np.radians(SHRUG_DEG) * self._shrug)
        turns *= np.where(turns[..., 3:] < 0.0, -1.0, 1.0)  # w >= 0 for toward_identity
        return toward_identity(turns, _smoothstep(self._weights)).astype(np.float32)

    @property
    def weights(self) -> np.ndarray:
        """(2, 3) how much each part ([side][upper arm, forearm, shoulder]) follows the
        performer now (0: rest pose)."""
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
    """(2, 3) degrees each part is turned from the rest pose (for tests and benchmarks)."""
    return np.degrees(2.0 * np.arccos(np.clip(np.abs(arms[..., 3]), 0.0, 1.0)))

