"""Idle life: what the avatar does while nobody is driving it.

When the face is lost, tracking is paused or the privacy blank is on, an avatar that simply holds
its last expression looks broken (a face frozen mid-word is exactly the embarrassment a clinician
must never have). ``IdleLife.rest_pose(t)`` is a living neutral — breathing (a slow nod and a
hint of jaw) and blinks at natural, irregular intervals. The retargeter eases to it when the face
is lost and back when it returns (``engine.retarget``); the director hands it over.

It is a function of time alone, so it is the same live and offline.
"""

from __future__ import annotations

import math

import numpy as np

from engine.types import BLENDSHAPE_INDEX, NUM_BLENDSHAPES, Expression

_BLINK = (BLENDSHAPE_INDEX["eyeBlinkLeft"], BLENDSHAPE_INDEX["eyeBlinkRight"])
_JAW = BLENDSHAPE_INDEX["jawOpen"]
_BREATH_HZ = 0.22  # about 13 breaths a minute, calm adult at rest
_BLINK_S = 0.16  # one blink, closing and opening


def _pitch(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    matrix = np.eye(4, dtype=np.float32)
    matrix[1, 1], matrix[1, 2], matrix[2, 1], matrix[2, 2] = c, -s, s, c
    return matrix


class IdleLife:
    """The avatar's rest pose while nobody drives it."""

    def __init__(self, seed: int = 7) -> None:
        self._rng = np.random.default_rng(seed)
        self._next_blink: float | None = None
        self._blink_start = -1.0

    def rest_pose(self, t: float) -> Expression:
        """The living neutral at time ``t``: breathing and blinks on a neutral face (the
        ``rest_pose`` hook of ``engine.retarget.Retargeter``)."""
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
