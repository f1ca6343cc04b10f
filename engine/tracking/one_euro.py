"""The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012), vectorised over channels.

A low-pass filter whose cutoff rises with the signal's speed: still signals are smoothed hard
(no jitter), fast ones barely (little lag). ``min_cutoff`` (Hz) sets the smoothing at rest,
``beta`` how quickly the cutoff opens with speed, ``d_cutoff`` (Hz) the smoothing of the speed
estimate. Each may be a scalar or an array broadcast against the signal, so one filter can hold
different settings per channel (a crisp blink beside smooth brows).
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray, dt: float) -> np.ndarray:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters a stream of same-shaped arrays, each with its time stamp in seconds."""

    def __init__(self, min_cutoff=1.0, beta=0.0, d_cutoff=1.0) -> None:
        self.min_cutoff = np.asarray(min_cutoff, np.float64)
        self.beta = np.asarray(beta, np.float64)
        self.d_cutoff = np.asarray(d_cutoff, np.float64)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self._x is None or self._t is None or x.shape != self._x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        if dt == 0.0:  # the same moment again: keep the current estimate
            return self._x.copy()
        if dt < 0.0:  # time went backwards (a looping source restarted): start over
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x.copy()
