"""A scripted performer: a ``Tracker`` that plays a timeline of expressions instead of watching a
camera. It drives ``persona demo``, ``persona render`` and the benchmarks, so those run the very
same loop as a live session with only the face input swapped.

A script is a list of ``Pose``s, each held for a duration and eased into from the previous one
with a smoothstep. Natural blinks, a slow head sway and small gaze saccades are layered on top so
that a scripted face never looks frozen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.errors import ConfigError
from engine.tracking.head_pose import FACING_CAMERA
from engine.types import BLENDSHAPE_NAMES, FaceState, Frame, blendshape_vector

# Named expressions, in ARKit channels, for scripts and for `persona render --script`.
EXPRESSIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    "smile": {"mouthSmileLeft": 0.85, "mouthSmileRight": 0.85, "cheekSquintLeft": 0.45,
              "cheekSquintRight": 0.45, "eyeSquintLeft": 0.25, "eyeSquintRight": 0.25,
              "mouthDimpleLeft": 0.3, "mouthDimpleRight": 0.3},
    "laugh": {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0, "jawOpen": 0.45,
              "cheekSquintLeft": 0.7, "cheekSquintRight": 0.7, "eyeSquintLeft": 0.5,
              "eyeSquintRight": 0.5, "mouthUpperUpLeft": 0.3, "mouthUpperUpRight": 0.3},
    "surprise": {"browInnerUp": 0.9, "browOuterUpLeft": 0.85, "browOuterUpRight": 0.85,
                 "eyeWideLeft": 0.8, "eyeWideRight": 0.8, "jawOpen": 0.55, "mouthFunnel": 0.25},
    "sad": {"browInnerUp": 0.7, "mouthFrownLeft": 0.7, "mouthFrownRight": 0.7,
            "mouthShrugLower": 0.35, "eyeSquintLeft": 0.15, "eyeSquintRight": 0.15},
    "angry": {"browDownLeft": 0.9, "browDownRight": 0.9, "noseSneerLeft": 0.5,
              "noseSneerRight": 0.5, "mouthPressLeft": 0.5, "mouthPressRight": 0.5,
              "eyeSquintLeft": 0.4, "eyeSquintRight": 0.4},
    "pucker": {"mouthPucker": 0.9, "mouthFunnel": 0.2},
    "wink": {"eyeBlinkLeft": 1.0, "mouthSmileLeft": 0.5, "cheekSquintLeft": 0.4},
    "talk": {},  # jaw and lips are animated by the syllable rhythm below
}


@dataclass(frozen=True)
class Pose:
    """An expression held for ``hold_s`` after easing in over ``ease_s``."""

    expression: str
    hold_s: float = 1.5
    intensity: float = 1.0
    ease_s: float = 0.35
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0


DEMO_SCRIPT: tuple[Pose, ...] = (
    Pose("neutral", 1.0),
    Pose("smile", 1.6, yaw_deg=-12),
    Pose("talk", 1.8, yaw_deg=8, pitch_deg=-4),
    Pose("surprise", 1.4, pitch_deg=6),
    Pose("laugh", 1.4, yaw_deg=15),
    Pose("sad", 1.4, pitch_deg=-8),
    Pose("wink", 1.0, yaw_deg=-6),
    Pose("angry", 1.2),
    Pose("pucker", 1.0, yaw_deg=10),
    Pose("neutral", 1.0),
)


MAX_SCRIPT_SECONDS = 3600.0  # an hour; longer is a typo (smile@1e9 would render for ever)
MAX_INTENSITY = 3.0  # as a scene's style intensity


def parse_script(text: str) -> tuple[Pose, ...]:
    """``"smile:0.8@1.5, surprise@2"`` → poses: name, optional ``:intensity``, optional
    ``@seconds`` held. Unknown names, times that are not positive or finite, intensities
    outside 0..``MAX_INTENSITY`` and scripts longer than ``MAX_SCRIPT_SECONDS`` raise
    ConfigError naming the item."""
    poses = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, hold = item.partition("@")
        name, _, intensity = name.partition(":")
        if name not in EXPRESSIONS:
            known = ", ".join(EXPRESSIONS)
            raise ConfigError(f"script: unknown expression {name!r}; known: {known}")
        try:
            pose = Pose(name, float(hold or 1.5), float(intensity or 1.0))
        except ValueError:
            raise ConfigError(f"script: {item!r} is not NAME[:INTENSITY][@SECONDS]") from None
        if not 0.0 < pose.hold_s <= MAX_SCRIPT_SECONDS:  # also refuses nan
            raise ConfigError(f"script: {item!r}: the time must be more than 0 and at most "
                              f"{MAX_SCRIPT_SECONDS:g} seconds")
        if not 0.0 <= pose.intensity <= MAX_INTENSITY:
            raise ConfigError(f"script: {item!r}: the intensity must be from 0 to "
                              f"{MAX_INTENSITY:g}")
        poses.append(pose)
    if not poses:
        raise ConfigError("script: no expressions given")
    total = sum(pose.hold_s for pose in poses)
    if total > MAX_SCRIPT_SECONDS:
        raise ConfigError(f"script: {total:g} seconds in all; the limit is "
                          f"{MAX_SCRIPT_SECONDS:g}")
    return tuple(poses)


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


_HEAD_DISTANCE_CM = 55.0  # a person at a laptop


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """4x4 head pose, radians, in the FaceState convention (face template → camera): the head
    turned by yaw/pitch/roll from facing the camera, at arm's length on the optical axis."""
    cy, sy, cp, sp, cr, sr = (math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch),
                              math.cos(roll), math.sin(roll))
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    matrix = np.eye(4, dtype=np.float32)
    matrix[:3, :3] = FACING_CAMERA @ (rz @ ry @ rx)
    matrix[2, 3] = _HEAD_DISTANCE_CM
    return matrix


@dataclass
class ScriptedPerformer:
    """Plays ``script`` on the frames' timestamps (relative to the first frame seen), or, with
    ``frame_rate`` set, on their frame numbers — exact timing for offline renders."""

    script: tuple[Pose, ...] = DEMO_SCRIPT
    loop: bool = True
    seed: int = 0
    frame_rate: float | None = None
    _t0: float | None = field(default=None, init=False)
    _targets: list[np.ndarray] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._targets = [blendshape_vector(EXPRESSIONS[p.expression]) * p.intensity
                         for p in self.script]
        self._starts = np.cumsum([0.0] + [p.hold_s for p in self.script])
        rng = np.random.default_rng(self.seed)
        # Blink times: every 2.5–5 s, as people do when calm.
        self._blinks = np.cumsum(rng.uniform(2.5, 5.0, 64))

    @property
    def duration(self) -> float:
        return float(self._starts[-1])

    def track(self, frame: Frame) -> FaceState:
        if self.frame_rate is not None:
            return self.state_at(frame.index / self.frame_rate, frame.t_capture)
        if self._t0 is None:
            self._t0 = frame.t_capture
        return self.state_at(frame.t_capture - self._t0, frame.t_capture)

    def state_at(self, t: float, stamp: float | None = None) -> FaceState:
        """The face at ``t`` seconds into the script."""
        if self.loop:
            t = t % self.duration
        index = int(np.searchsorted(self._starts, t, side="right")) - 1
        index = min(max(index, 0), len(self.script) - 1)
        pose = self.script[index]
        previous = self.script[index - 1] if index > 0 else pose
        weight = _smoothstep((t - self._starts[index]) / max(pose.ease_s, 1e-3))
        blend = self._targets[index - 1 if index > 0 else 0] * (1 - weight) \
            + self._targets[index] * weight
        blend = blend.copy()
        if pose.expression == "talk":
            self._add_speech(blend, t, weight)
        self._add_blink(blend, t)
        yaw = math.radians(previous.yaw_deg + (pose.yaw_deg - previous.yaw_deg) * weight)
        pitch = math.radians(previous.pitch_deg + (pose.pitch_deg - previous.pitch_deg) * weight)
        yaw += 0.04 * math.sin(0.7 * t)  # slow sway: nobody holds their head still
        pitch += 0.025 * math.sin(0.45 * t + 1.0)
        roll = 0.03 * math.sin(0.3 * t + 2.0)
        gaze = np.array([0.08 * math.sin(1.3 * t), 0.05 * math.sin(0.9 * t)], np.float32)
        return FaceState(t=t if stamp is None else stamp, found=True,
                         head=_rotation(yaw, pitch, roll),
                         blendshapes=np.clip(blend, 0.0, 1.0).astype(np.float32),
                         gaze=gaze, confidence=1.0)

    @staticmethod
    def _add_speech(blend: np.ndarray, t: float, weight: float) -> None:
        # Syllables at ~4.5 Hz with a slower phrase envelope, like connected speech.
        syllable = max(0.0, math.sin(2 * math.pi * 4.5 * t)) ** 1.5
        phrase = 0.6 + 0.4 * math.sin(2 * math.pi * 0.5 * t)
        names = BLENDSHAPE_NAMES
        blend[names.index("jawOpen")] += 0.5 * syllable * phrase * weight
        blend[names.index("mouthFunnel")] += 0.2 * max(0.0, math.sin(2 * math.pi * 1.1 * t)) * weight
        blend[names.index("mouthLowerDownLeft")] += 0.25 * syllable * weight
        blend[names.index("mouthLowerDownRight")] += 0.25 * syllable * weight

    def _add_blink(self, blend: np.ndarray, t: float) -> None:
        period_t = t % self._blinks[-1]
        nearest = self._blinks[np.argmin(np.abs(self._blinks - period_t))]
        closure = max(0.0, 1.0 - abs(period_t - nearest) / 0.09)  # ~180 ms blink
        for name in ("eyeBlinkLeft", "eyeBlinkRight"):
            index = BLENDSHAPE_NAMES.index(name)
            blend[index] = max(blend[index], closure)

    def close(self) -> None:
        """Nothing to release."""
