"""A scripted performer: a ``Tracker`` that plays a timeline of expressions instead of watching a
camera. It drives ``persona demo``, ``persona render`` and the benchmarks, so those run the very
same loop as a live session with only the face input swapped.

A script is a tuple of ``Pose``s (``engine.expression_script``: the vocabulary, the inline form
and TOML script files), each eased into from wherever the face was and held for its duration.
Natural blinks, a slow head sway and small gaze saccades are layered on top so that a scripted
face never looks frozen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.expression_script import Pose, ease_weight
from engine.tracking.head_pose import FACING_CAMERA
from engine.types import BLENDSHAPE_INDEX, FaceState, Frame, blendshape_vector

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


SYLLABLE_PEAK_S = 1 / (4 * 4.5)  # a moment of "talk" with the jaw at its widest


def speech_channels(t: float) -> dict[str, float]:
    """What "talk" adds at ``t`` seconds: syllables at ~4.5 Hz with a slower phrase envelope,
    like connected speech."""
    syllable = max(0.0, math.sin(2 * math.pi * 4.5 * t)) ** 1.5
    phrase = 0.6 + 0.4 * math.sin(2 * math.pi * 0.5 * t)
    return {"jawOpen": 0.5 * syllable * phrase,
            "mouthFunnel": 0.2 * max(0.0, math.sin(2 * math.pi * 1.1 * t)),
            "mouthLowerDownLeft": 0.25 * syllable, "mouthLowerDownRight": 0.25 * syllable}


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
        self._targets = [blendshape_vector(dict(p.shapes())) * p.intensity for p in self.script]
        self._starts = np.cumsum([0.0] + [p.hold_s for p in self.script])
        # Where each pose eases from: where the one before it had got to when it ended (a pose
        # shorter than its ease never got all the way).
        shapes, head = self._targets[0], (self.script[0].yaw_deg, self.script[0].pitch_deg)
        self._from = []
        for pose, target in zip(self.script, self._targets):
            self._from.append((shapes, head))
            reached = ease_weight(pose.ease, pose.hold_s / max(pose.ease_s, 1e-3))
            shapes = shapes + (target - shapes) * reached
            head = tuple(a + (b - a) * reached
                         for a, b in zip(head, (pose.yaw_deg, pose.pitch_deg)))
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
        weight = ease_weight(pose.ease, (t - self._starts[index]) / max(pose.ease_s, 1e-3))
        shapes, (yaw0, pitch0) = self._from[index]
        blend = shapes + (self._targets[index] - shapes) * weight
        if pose.talks:
            for name, value in speech_channels(t).items():
                blend[BLENDSHAPE_INDEX[name]] += value * weight
        self._add_blink(blend, t)
        yaw = math.radians(yaw0 + (pose.yaw_deg - yaw0) * weight)
        pitch = math.radians(pitch0 + (pose.pitch_deg - pitch0) * weight)
        yaw += 0.04 * math.sin(0.7 * t)  # slow sway: nobody holds their head still
        pitch += 0.025 * math.sin(0.45 * t + 1.0)
        roll = 0.03 * math.sin(0.3 * t + 2.0)
        gaze = np.array([0.08 * math.sin(1.3 * t), 0.05 * math.sin(0.9 * t)], np.float32)
        return FaceState(t=t if stamp is None else stamp, found=True,
                         head=_rotation(yaw, pitch, roll),
                         blendshapes=np.clip(blend, 0.0, 1.0).astype(np.float32),
                         gaze=gaze, confidence=1.0)

    def _add_blink(self, blend: np.ndarray, t: float) -> None:
        period_t = t % self._blinks[-1]
        nearest = self._blinks[np.argmin(np.abs(self._blinks - period_t))]
        closure = max(0.0, 1.0 - abs(period_t - nearest) / 0.09)  # ~180 ms blink
        for name in ("eyeBlinkLeft", "eyeBlinkRight"):
            index = BLENDSHAPE_INDEX[name]
            blend[index] = max(blend[index], closure)

    def close(self) -> None:
        """Nothing to release."""
