"""Idle life: what the avatar does while nobody is driving it.

When the face is lost, tracking is paused or the privacy blank is on, an avatar that simply holds
its last expression looks broken (a face frozen mid-word is exactly the embarrassment a clinician
must never have). ``IdleLife`` sits after the retargeter: while the face is present it passes the
tracked expression through; when the face goes it eases from the last tracked expression to
neutral over ``ease_out_s``, and layers on breathing (a slow nod and a hint of jaw) and blinks at
natural, irregular intervals; when the face returns it eases back over ``ease_in_s``.

All of it is a pure function of time and the inputs, so it is the same live and offline.
"""

from __future__ import annotations

import math

import numpy as np

from engine.types import BLENDSHAPE_INDEX, NUM_BLENDSHAPES, Expression

_BLINK = (BLENDSHAPE_INDEX["eyeBlinkLeft"], BLENDSHAPE_INDEX["eyeBlinkRight"])
_JAW = BLENDSHAPE_INDEX["jawOpen"]
_BREATH_HZ = 0.22  # about 13 breaths a minute, calm adult at rest
_BLINK_S = 0.16  # one blink, closing and opening


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def _pitch(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    matrix = np.eye(4, dtype=np.float32)
    matrix[1, 1], matrix[1, 2], matrix[2, 1], matrix[2, 2] = c, -s, s, c
    return matrix


def _blend_rotation(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """Rotation part of ``a`` moved ``weight`` of the way to ``b``, kept orthonormal (the
    nearest rotation of the linear mix: exact enough for head poses, which differ little)."""
    mixed = (1.0 - weight) * a[:3, :3] + weight * b[:3, :3]
    u, _, vt = np.linalg.svd(mixed)
    rotation = u @ vt
    if np.linalg.det(rotation) < 0:
        u[:, -1] *= -1
        rotation = u @ vt
    out = np.eye(4, dtype=np.float32)
    out[:3, :3] = rotation
    out[:3, 3] = (1.0 - weight) * a[:3, 3] + weight * b[:3, 3]
    return out


class IdleLife:
    """Eases between the tracked face and a living neutral face."""

    def __init__(self, ease_out_s: float = 0.8, ease_in_s: float = 0.35, seed: int = 7) -> None:
        self.ease_out_s = ease_out_s
        self.ease_in_s = ease_in_s
        self._rng = np.random.default_rng(seed)
        self._presence = 1.0  # 1: the tracked face shows fully; 0: idle neutral fully
        self._last_t: float | None = None
        self._held = Expression.neutral()  # the last tracked expression
        self._next_blink: float | None = None
        self._blink_start = -1.0

    @property
    def presence(self) -> float:
        """How much of the tracked face shows, 0..1 (the HUD and tests read it)."""
        return self._presence

    def reset(self) -> None:
        self._presence, self._last_t = 1.0, None

    def apply(self, expression: Expression, present: bool, t: float) -> Expression:
        """The expression to show at time ``t``; ``present`` says whether ``expression`` comes
        from a face the tracker sees now."""
        dt = 0.0 if self._last_t is None else max(0.0, min(t - self._last_t, 0.25))
        self._last_t = t
        if present:
            self._held = expression
            self._presence = min(1.0, self._presence + dt / self.ease_in_s)
        else:
            self._presence = max(0.0, self._presence - dt / self.ease_out_s)
        if self._presence >= 1.0 and present:
            return expression
        weight = _smoothstep(self._presence)
        rest = self.rest_pose(t)
        blendshapes = self._held.blendshapes * weight + rest.blendshapes * (1.0 - weight)
        head = _blend_rotation(rest.head, self._held.head, weight)
        return Expression(np.clip(blendshapes, 0.0, 1.0).astype(np.float32), head,
                          (self._held.gaze * weight).astype(np.float32))

    def rest_pose(self, t: float) -> Expression:
        """The living neutral at time ``t``: breathing and blinks on a neutral face. Also the
        ``rest_pose`` hook of ``engine.retarget.Retargeter``, which does its own easing."""
        breath = math.sin(2 * math.pi * _BREATH_HZ * t)
        blendshapes = np.zeros(NUM_BLENDSHAPES, np.float32)
        blendshapes[_JAW] = 0.03 * (0.5 + 0.5 * breath)
        closure = self._blink(t)
        for index in _BLINK:
            blendshapes[index] = closure
        return Expression(blendshapes, _pitch(math.radians(1.2) * breath),
                          np.zeros(2, np.float32))

    def _blink(self, t: float) -> float:
        """Eyelid closure 0..1 for blinks every 2–6 s (people blink irregularly, more often
        than the 4 s average suggests when talking, less when listening)."""
        if self._next_blink is None:
            self._next_blink = t + float(self._rng.uniform(1.0, 3.0))
        if t >= self._next_blink and t - self._blink_start > _BLINK_S:
            self._blink_start = t
            self._next_blink = t + float(self._rng.uniform(2.0, 6.0))
        phase = (t - self._blink_start) / _BLINK_S
        if 0.0 <= phase <= 1.0:
            return 1.0 - abs(2.0 * phase - 1.0)
        return 0.0
