"""Per-person calibration: each coefficient's rest value and range, and the neutral head pose.

The tracker's coefficients use population defaults, so a person whose resting mouth reads as a
slight frown, or whose camera sits below their face, would show it on the avatar; and someone
whose brows sit high would need to lower them a long way before ``browDown`` moved. A neutral
capture (a second or so of the person's relaxed face, looking at the screen) records what their
neutral looks like; ``apply`` then maps it to zero:

    c' = clamp((c - rest) / (full - rest), 0, 1)

Where the frames carry landmarks (the MediaPipe tracker), ``c`` is the *signed* coefficient
recomputed from them (``blendshapes.compute(..., floor=-3)``), so ``rest`` can lie below the
default rest as well as above it. For drivers without landmarks (VMC, replay) it is the
coefficient itself. ``full`` is one default span above a rest that lies below the default (the
person keeps the default range from their own neutral) and 1 otherwise (a resting activation
is stretched out), unless a range capture (the person making their biggest expressions) has
measured where they top out. ``Calibration.default()`` changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from engine.errors import ConfigError
from engine.tracking import blendshapes, gaze
from engine.tracking.head_pose import head_rotation, to_face_frame
from engine.tracking.template import load_template
from engine.types import BLENDSHAPE_NAMES, NUM_BLENDSHAPES, FaceState

MIN_SPAN = 0.2  # never stretch a channel more than 5x: noise would become expression
RANGE_PERCENTILE = 98.0  # the top of a person's range ignores the odd mis-tracked frame
SIGNED_FLOOR = -3.0  # how far below a default rest a person's neutral may be measured, in spans


def _ones() -> np.ndarray:
    return np.ones(NUM_BLENDSHAPES, np.float32)


def _zeros() -> np.ndarray:
    return np.zeros(NUM_BLENDSHAPES, np.float32)


def signed_coefficients(face: FaceState) -> np.ndarray:
    """(52,) coefficients in [-1, 1] recomputed from the face's landmarks, or the face's own
    coefficients when it has none."""
    if face.landmarks is None:
        return np.asarray(face.blendshapes, np.float32)
    points, _ = to_face_frame(face.landmarks, load_template())
    return blendshapes.compute(points, gaze.eye_angles(points), floor=SIGNED_FLOOR)


@dataclass(frozen=True)
class Calibration:
    rest: np.ndarray = field(default_factory=_zeros)  # (52,) coefficient on the neutral face
    full: np.ndarray = field(default_factory=_ones)  # (52,) coefficient that maps to 1
    head_rest: np.ndarray = field(default_factory=lambda: np.eye(3))  # (3, 3) neutral head rotation
    gaze_rest: np.ndarray = field(default_factory=lambda: np.zeros(2))  # (2,) radians
    signed: bool = False  # rest/full measured on signed coefficients from landmarks

    @classmethod
    def default(cls) -> Calibration:
        return cls()

    @classmethod
    def from_neutral(cls, faces: Iterable[FaceState]) -> Calibration:
        """Rest values from frames of a neutral face (the median, so a blink does not count)."""
        found = [face for face in faces if face.found]
        if not found:
            raise ValueError("no face in the neutral capture; look at the camera and try again")
        signed = all(face.landmarks is not None for face in found)
        measured = [signed_coefficients(face) if signed else face.blendshapes for face in found]
        rest = np.median(measured, axis=0).astype(np.float32)
        rotations = np.array([head_rotation(face.head) for face in found])
        u, _, vt = np.linalg.svd(rotations.mean(axis=0))  # nearest rotation to the mean
        head_rest = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
        gaze_rest = np.median([face.gaze for face in found], axis=0)
        # A neutral beyond the default rest keeps the default span above it; a resting
        # activation is stretched so the channel still reaches 1.
        full = np.maximum(np.minimum(_ones(), rest + 1.0), rest + MIN_SPAN)
        return cls(rest, full, head_rest, gaze_rest, signed)

    def with_range(self, faces: Iterable[FaceState]) -> Calibration:
        """The same rest, with each channel's top set by frames of the person's biggest
        expressions; channels they did not use keep the full range."""
        found = [self._measure(face) for face in faces if face.found]
        if not found:
            raise ValueError("no face in the range capture")
        top = np.percentile(found, RANGE_PERCENTILE, axis=0)
        used = top > self.rest + MIN_SPAN
        full = np.where(used, top, np.maximum(self.full, self.rest + MIN_SPAN)).astype(np.float32)
        return Calibration(self.rest, full, self.head_rest, self.gaze_rest, self.signed)

    def _measure(self, face: FaceState) -> np.ndarray:
        return signed_coefficients(face) if self.signed else np.asarray(face.blendshapes)

    def apply(self, face: FaceState) -> np.ndarray:
        """(52,) calibrated coefficients in [0, 1] for a found face."""
        span = np.maximum(self.full - self.rest, 1e-6)
        return np.clip((self._measure(face) - self.rest) / span, 0.0, 1.0).astype(np.float32)

    def relative_head(self, head: np.ndarray) -> np.ndarray:
        """(3, 3) head rotation relative to the neutral pose, in template axes."""
        return self.head_rest.T @ head_rotation(head)

    def to_json(self) -> str:
        return json.dumps({
            "rest": dict(zip(BLENDSHAPE_NAMES, map(float, self.rest))),
            "full": dict(zip(BLENDSHAPE_NAMES, map(float, self.full))),
            "head_rest": np.asarray(self.head_rest, float).tolist(),
            "gaze_rest": np.asarray(self.gaze_rest, float).tolist(),
            "signed": self.signed,
        })

    @classmethod
    def from_json(cls, text: str, source: str = "calibration") -> Calibration:
        """Parse ``to_json`` output; a malformed file raises ConfigError naming the field."""
        try:
            data = json.loads(text)
            rest = np.array([data["rest"][n] for n in BLENDSHAPE_NAMES], np.float32)
            full = np.array([data["full"][n] for n in BLENDSHAPE_NAMES], np.float32)
            head_rest = np.array(data["head_rest"], np.float64).reshape(3, 3)
            gaze_rest = np.array(data["gaze_rest"], np.float64).reshape(2)
            signed = bool(data.get("signed", False))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConfigError(f"{source}: malformed calibration ({error!r})") from error
        if not (np.all(np.isfinite(rest)) and np.all(np.isfinite(full)) and np.all(full > rest)):
            raise ConfigError(f"{source}: calibration values must be finite with full > rest")
        return cls(rest, full, head_rest, gaze_rest, signed)


# Automatic calibration: the rest each channel relaxes to, learned while the person uses it.
AUTO_WINDOW_S = 30.0  # the rest estimate looks at this much recent history
AUTO_SAMPLE_S = 0.2  # ... sampled this often (150 samples: the percentile stays cheap)
AUTO_REST_PERCENTILE = 10.0  # "low values": an expression must fill 90 % of the window to count
AUTO_REST_RATE = 0.05  # the rest rises at most this much per second (falls at once)
AUTO_REST_MAX = 0.3  # and never above this
AUTO_MIN_SPAN = 0.6  # the range never shrinks below this, so noise is never stretched > 1.7x
AUTO_RANGE_DECAY = 0.01  # the range's top (a running max) decays this much per second
AUTO_MIN_SAMPLES = 5  # samples (1 s) in the window before the rest starts to move


class AutoCalibration:
    """A slowly adapting per-channel rest and range for people who never press calibrate.

    Applied after the hotkey calibration (``Calibration.apply``) to its [0, 1] output:

        c' = clamp((c - rest) / (top - rest), 0, 1)

    ``rest`` follows the 10th percentile of the channel over the last 30 s (sampled every
    0.2 s): it rises towards it at no more than 0.05 per second and never above 0.3, and falls
    to it at once (a lower rest only shows more of the person's face). ``top`` is a running max
    that decays by 0.01 per second, never below ``rest + 0.6`` nor above 1.

    Bounds, per channel: a resting activation a <= 0.3 (a face that reads a slight frown) is gone
    within 1 + a / 0.05 s (6 s for 0.25). An expression held for T seconds (up to 27 s) after
    at least T / 9 seconds of the relaxed face does not move the rest at all (it fills < 90 % of
    the window), so it keeps its full value: a smile held 10 s after 1.2 s of neutral keeps
    100 %. Held from
    the very first frame, the rest rises by at most 0.05 per second up to 0.3, so at value v
    it shows at least (v - 0.3) / 0.7 and a full one stays full.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.rest = np.zeros(NUM_BLENDSHAPES)
        self.top = np.ones(NUM_BLENDSHAPES)
        capacity = int(round(AUTO_WINDOW_S / AUTO_SAMPLE_S))
        self._samples = np.zeros((capacity, NUM_BLENDSHAPES))
        self._count = 0  # samples stored so far (the ring holds the last ``capacity``)
        self._next_sample: float | None = None
        self._last: float | None = None
        self._target: np.ndarray | None = None

    def update(self, values: np.ndarray, t: float) -> np.ndarray:
        """Feed one frame's (52,) coefficients in [0, 1] at time ``t``; returns them adapted."""
        values = np.asarray(values, np.float64)
        dt = 0.0 if self._last is None else min(max(t - self._last, 0.0), 0.5)
        self._last = t
        # A sample is due every AUTO_SAMPLE_S, and at once if time went back (a clip restarted).
        if self._next_sample is None or not 0.0 < self._next_sample - t <= AUTO_SAMPLE_S:
            self._samples[self._count % len(self._samples)] = values
            self._count += 1
            self._next_sample = t + AUTO_SAMPLE_S
            if self._count >= AUTO_MIN_SAMPLES:
                stored = self._samples[:min(self._count, len(self._samples))]
                self._target = np.minimum(np.percentile(stored, AUTO_REST_PERCENTILE, axis=0),
                                          AUTO_REST_MAX)
        if self._target is not None:
            self.rest = np.where(self._target < self.rest, self._target,
                                 np.minimum(self.rest + AUTO_REST_RATE * dt, self._target))
        self.top = np.clip(np.maximum(values, self.top - AUTO_RANGE_DECAY * dt),
                           self.rest + AUTO_MIN_SPAN, 1.0)
        span = np.maximum(self.top - self.rest, 1e-6)
        return np.clip((values - self.rest) / span, 0.0, 1.0).astype(np.float32)
