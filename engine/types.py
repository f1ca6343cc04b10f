"""The plain data that flows between stages.

Stages never share mutable state: each one takes these frozen records and returns new ones. Arrays
carry their shape and dtype in the comment beside them; producers are responsible for honouring
it (consumers do not re-check on the hot path).

Time stamps are seconds on ``time.perf_counter``'s clock, the same clock ``engine.clock`` paces
frames with, so capture→output latency is a plain subtraction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The 52 ARKit blendshape names in Apple's documented order (ARFaceAnchor.BlendShapeLocation as
# listed by ARKit and Live Link Face). This order is the engine's expression vocabulary: every
# blendshape vector is indexed by it.
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
BLENDSHAPE_INDEX: dict[str, int] = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}
NUM_BLENDSHAPES = len(BLENDSHAPE_NAMES)
NUM_LANDMARKS = 478


def blendshape_vector(values: dict[str, float] | None = None) -> np.ndarray:
    """A (52,) float32 vector from a ``{name: value}`` mapping; unnamed channels are 0.

    Raises KeyError naming the first unknown channel, so typos in presets do not pass silently.
    """
    vector = np.zeros(NUM_BLENDSHAPES, np.float32)
    for name, value in (values or {}).items():
        vector[BLENDSHAPE_INDEX[name]] = value
    return vector


def _identity() -> np.ndarray:
    return np.eye(4, dtype=np.float32)


def _zeros(n: int):
    return lambda: np.zeros(n, np.float32)


@dataclass(frozen=True)
class Frame:
    """One video image with the moment it was captured."""

    image: np.ndarray  # (H, W, 3) uint8 RGB, C-contiguous
    t_capture: float  # perf_counter seconds when the source produced it
    index: int  # frame number within its source, from 0

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.shape[1], self.image.shape[0]


@dataclass(frozen=True)
class FaceState:
    """What the tracker saw of the primary face in one frame.

    ``head`` maps face-template coordinates (centimetres, +x to the person's left, +y up, +z out of
    the face towards the camera) into camera coordinates (OpenCV convention: +x right, +y down,
    +z forward). When ``found`` is False the other fields hold neutral values and must not drive
    anything; the retarget stage eases to neutral instead.
    """

    t: float  # t_capture of the frame this came from
    found: bool
    landmarks: np.ndarray | None = None  # (478, 3) float32: x, y in pixels, z in pixel units
    head: np.ndarray = field(default_factory=_identity)  # (4, 4) float32, face → camera
    blendshapes: np.ndarray = field(default_factory=_zeros(NUM_BLENDSHAPES))  # (52,) in [0, 1]
    gaze: np.ndarray = field(default_factory=_zeros(2))  # (2,) yaw, pitch of the eyes, radians
    confidence: float = 0.0  # 0..1
    box: tuple[float, float, float, float] | None = None  # x, y, w, h in pixels
    others: tuple[tuple[float, float, float, float], ...] = ()  # boxes of bystanders' faces
    # Arm rotations from the upper-body tracker (engine.tracking.pose) when a scene asks for it,
    # else None. Independent of ``found``: arms are tracked, smoothed and eased on their own.
    arms: np.ndarray | None = None  # (2, 3, 4) float32, see Expression.arms

    @classmethod
    def lost(cls, t: float) -> FaceState:
        return cls(t=t, found=False)


@dataclass(frozen=True)
class Expression:
    """What the avatar should show: the tracker's output after calibration, style and smoothing."""

    blendshapes: np.ndarray = field(default_factory=_zeros(NUM_BLENDSHAPES))  # (52,) in [0, 1]
    head: np.ndarray = field(default_factory=_identity)  # (4, 4) float32 rotation of the head
    gaze: np.ndarray = field(default_factory=_zeros(2))  # (2,) yaw, pitch radians
    # Upper-body pose, or None (the avatar's relaxed rest pose): [side: left, right][part:
    # upper arm, forearm, shoulder] unit quaternions (x, y, z, w), each the rotation in the
    # avatar's body frame (+x its left, +y up, +z its front) from that part's rest pose to the
    # tracked one: the forearm's includes the hand's twist, the shoulder's is the shrug
    # (engine.tracking.pose); identity is the rest pose.
    arms: np.ndarray | None = None  # (2, 3, 4) float32

    @classmethod
    def neutral(cls) -> Expression:
        return cls()


@dataclass(frozen=True)
class AudioBlock:
    """A block of audio samples."""

    samples: np.ndarray  # (n,) float32 mono in [-1, 1]
    sample_rate: int
    t: float = 0.0  # perf_counter seconds of the first sample
