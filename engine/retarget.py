"""The retarget stage: a tracked ``FaceState`` becomes the ``Expression`` the avatar shows.

``Retargeter.update(face, t)`` runs, in order:

1. calibration — the person's neutral face maps to zero, their range to [0, 1], their neutral
   head pose to facing forward (``engine.tracking.calibration``); then, for faces the landmark
   tracker measured, the automatic calibration (``AutoCalibration``: a slowly adapting rest and
   range, so someone who never calibrates still gets a relaxed avatar);
2. smoothing — a One-Euro filter per channel; blinks get a fast filter so they stay crisp while
   brows and mouth are smoothed harder;
3. face lost — the last expression holds for ``hold_s`` (a blink-length dropout shows nothing),
   then eases to the rest pose over ``ease_s``; when the face returns the avatar eases back in.
   The rest pose is ``Expression.neutral()`` unless a scene supplies ``rest_pose(t)`` (idle
   motion).

How strongly the avatar follows (intensity, per-channel gains, head gain, mirroring) is the
scene's business: the director applies ``engine.scenes.stylize`` to what this stage returns.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable

import numpy as np

from engine.tracking.calibration import AutoCalibration, Calibration
from engine.tracking.one_euro import OneEuroFilter
from engine.tracking.rotations import matrix_from_quat, quat_from_matrix, slerp
from engine.types import BLENDSHAPE_INDEX, NUM_BLENDSHAPES, Expression, FaceState

log = logging.getLogger(__name__)

# One-Euro settings for the 52 coefficients: smooth at rest, quick when moving.
SHAPE_MIN_CUTOFF = 1.5  # Hz
SHAPE_BETA = 0.5  # cutoff gain per unit/s of coefficient speed
# Blinks last ~100-150 ms; a filter slower than that would halve them.
CRISP_CHANNELS = ("eyeBlinkLeft", "eyeBlinkRight")
CRISP_MIN_CUTOFF = 10.0
CRISP_BETA = 20.0
HEAD_MIN_CUTOFF, HEAD_BETA = 1.0, 0.6  # on quaternion components
GAZE_MIN_CUTOFF, GAZE_BETA = 2.0, 0.6  # on radians

CALIBRATION_S = 1.0  # neutral capture length for the calibrate hotkey
HOLD_S = 0.5
EASE_S = 0.8
RETURN_S = 0.25


def _head_matrix(quat: np.ndarray) -> np.ndarray:
    head = np.eye(4, dtype=np.float32)
    head[:3, :3] = matrix_from_quat(quat)
    return head


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


def blend(a: Expression, b: Expression, w: float) -> Expression:
    """``a`` at w = 0, ``b`` at w = 1; rotations by slerp."""
    shapes = ((1.0 - w) * a.blendshapes + w * b.blendshapes).astype(np.float32)
    head = _head_matrix(slerp(quat_from_matrix(a.head), quat_from_matrix(b.head), w))
    gaze = ((1.0 - w) * a.gaze + w * b.gaze).astype(np.float32)
    return Expression(shapes, head, gaze)


class Retargeter:
    """Stateful per-person mapping from tracked faces to avatar expressions."""

    def __init__(self, calibration: Calibration | None = None,
                 rest_pose: Callable[[float], Expression] | None = None,
                 hold_s: float = HOLD_S, ease_s: float = EASE_S,
                 auto_calibrate: bool = True) -> None:
        self.calibration = calibration or Calibration.default()
        # Only for coefficients our own tracker measured (faces with landmarks): other drivers
        # (ARKit over VMC, replays) send coefficients their source already calibrated.
        self.auto = AutoCalibration() if auto_calibrate else None
        self.rest_pose = rest_pose or (lambda t: Expression.neutral())
        self.hold_s, self.ease_s = hold_s, ease_s
        min_cutoff = np.full(NUM_BLENDSHAPES, SHAPE_MIN_CUTOFF)
        beta = np.full(NUM_BLENDSHAPES, SHAPE_BETA)
        for name in CRISP_CHANNELS:
            min_cutoff[BLENDSHAPE_INDEX[name]] = CRISP_MIN_CUTOFF
            beta[BLENDSHAPE_INDEX[name]] = CRISP_BETA
        self._shapes = OneEuroFilter(min_cutoff, beta)
        self._head = OneEuroFilter(HEAD_MIN_CUTOFF, HEAD_BETA)
        self._gaze = OneEuroFilter(GAZE_MIN_CUTOFF, GAZE_BETA)
        self._quat: np.ndarray | None = None
        self._shown = Expression.neutral()  # what the avatar showed last
        self._last_tracked: Expression | None = None  # last expression from a real face
        self._last_seen: float | None = None
        self._lost_from: Expression | None = None  # shown when the face went missing
        self._return: tuple[float, Expression] | None = None  # (start, from) while easing back
        self._capture: list[FaceState] | None = None  # neutral frames being collected
        self._capture_s = CALIBRATION_S
        self._capture_until: float | None = None

    def calibrate(self, faces: FaceState | Iterable[FaceState]) -> Calibration:
        """Take the given frame(s) of a neutral face as this person's rest; returns and keeps it."""
        faces = [faces] if isinstance(faces, FaceState) else list(faces)
        self.calibration = Calibration.from_neutral(faces)
        if self.auto is not None:
            self.auto.reset()  # the new neutral is the reference now
        return self.calibration

    def calibrate_next(self, seconds: float = CALIBRATION_S) -> None:
        """Take the next ``seconds`` of tracked frames as the neutral face (the hotkey): the
        person relaxes and looks at the screen; frames without a face are skipped."""
        self._capture, self._capture_s, self._capture_until = [], seconds, None

    @property
    def calibrating(self) -> bool:
        """Whether a ``calibrate_next`` capture is still collecting frames."""
        return self._capture is not None

    def update(self, face: FaceState, t: float) -> Expression:
        if self._capture is not None:
            self._collect(face, t)
        if face.found:
            expression = self._tracked(face, t)
            if self._lost_from is not None:  # back after a loss: ease in from what is shown
                self._return, self._lost_from = (t, self._shown), None
            if self._return is not None:
                start, origin = self._return
                w = _smoothstep((t - start) / RETURN_S)
                if w >= 1.0:
                    self._return = None
                else:
                    expression = blend(origin, expression, w)
            self._last_tracked, self._last_seen = expression, t
        else:
            expression = self._missing(t)
        if face.arms is not None:  # smoothed and eased by the tracker, face or no face
            expression = dataclasses.replace(expression, arms=face.arms)
        self._shown = expression
        return expression

    def _collect(self, face: FaceState, t: float) -> None:
        if not face.found:
            return
        if self._capture_until is None:
            self._capture_until = t + self._capture_s
        self._capture.append(face)
        if t >= self._capture_until:
            self.calibration = Calibration.from_neutral(self._capture)
            if self.auto is not None:
                self.auto.reset()
            log.info("calibrated on %d neutral frames", len(self._capture))
            self._capture = None

    def _tracked(self, face: FaceState, t: float) -> Expression:
        shapes = self.calibration.apply(face)
        if self.auto is not None and face.landmarks is not None:
            shapes = self.auto.update(shapes, t)
        shapes = self._shapes(shapes, t)
        quat = quat_from_matrix(self.calibration.relative_head(face.head))
        if self._quat is not None and np.dot(quat, self._quat) < 0:
            quat = -quat  # q and -q are the same rotation; keep the filter on one side
        quat = self._head(quat, t)
        quat /= np.linalg.norm(quat)
        self._quat = quat
        gaze = self._gaze(face.gaze - self.calibration.gaze_rest, t)
        return Expression(np.clip(shapes, 0.0, 1.0).astype(np.float32), _head_matrix(quat),
                          gaze.astype(np.float32))

    def _missing(self, t: float) -> Expression:
        if self._last_seen is None or self._last_tracked is None:
            return self.rest_pose(t)
        if self._lost_from is None:
            self._lost_from, self._return = self._shown, None
            for f in (self._shapes, self._head, self._gaze):
                f.reset()  # the next face starts fresh; the return ease hides the jump
            self._quat = None
        away = t - self._last_seen
        if away <= self.hold_s:
            return self._lost_from
        weight = _smoothstep((away - self.hold_s) / self.ease_s)
        return blend(self._lost_from, self.rest_pose(t), weight)
