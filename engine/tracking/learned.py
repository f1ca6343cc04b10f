"""The learned blendshape mapping: ridge regression from the geometric half-measures to the
coefficients, trained on rendered faces with known weights (``tools/train_blendshapes.py``).

Inputs are the signed geometric channels of ``blendshapes.halves``, i.e. the formulas' ramps
before clamping, for the face's own left half and for its mirror image's left half (= the right
half). Each half's features are its ``HALF`` channels clipped to [-3, 2] and to [0, 1] (the
clamped copy lets a linear model bend at rest). The same weights predict the person's left
channels from ``[own half, other half]`` and the right channels from ``[other half, own half]``,
so mirror symmetry holds by construction; the unpaired channels are the mean of the two.

``blendshapes_ridge.npz`` beside this module holds ``weights (2F + 1, len(HALF))``, ``use (52,)``
(per channel: learned where it beat the formulas on the validation identities, else geometric)
and provenance (seeds, ridge lambda). When the file is missing, the formulas alone are used.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.types import BLENDSHAPE_NAMES, NUM_BLENDSHAPES

WEIGHTS_PATH = Path(__file__).with_name("blendshapes_ridge.npz")
FEATURE_FLOOR = -3.0  # signed ramps are computed down to this for the features


def half_channels() -> np.ndarray:
    """Channel indices one half predicts: the person's left ones and the unpaired ones."""
    from engine.tracking.blendshapes import LEFT, UNPAIRED

    keep = [i for i in np.concatenate([LEFT, UNPAIRED]) if BLENDSHAPE_NAMES[i] != "tongueOut"]
    return np.array(sorted(keep), np.intp)



def half_features(half: np.ndarray) -> np.ndarray:
    """(..., 2 len(HALF)) features of one half's (..., 52) signed channels."""
    values = half[..., _half()]
    return np.concatenate([np.clip(values, FEATURE_FLOOR, 2.0), np.clip(values, 0.0, 1.0)], -1)


def design(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Design rows for the left view ``[own, other, 1]`` and the right view ``[other, own, 1]``."""
    fl, fr = half_features(left), half_features(right)
    one = np.ones(fl.shape[:-1] + (1,))
    return np.concatenate([fl, fr, one], -1), np.concatenate([fr, fl, one], -1)


@lru_cache(maxsize=1)
def _half() -> np.ndarray:
    return half_channels()


class RidgeMapping:
    def __init__(self, weights: np.ndarray, use: np.ndarray) -> None:
        from engine.tracking.blendshapes import LEFT, RIGHT, UNPAIRED

        self.weights = np.asarray(weights, np.float64)
        self.use = np.asarray(use, bool)
        half = _half()
        # Positions in the half's output of the left channels and the unpaired ones.
        where = {int(c): k for k, c in enumerate(half)}
        self._left = np.array([where.get(int(c), -1) for c in LEFT])
        self._right_target = RIGHT
        self._left_target = LEFT
        self._unpaired = np.array([i for i in UNPAIRED if int(i) in where], np.intp)
        self._unpaired_at = np.array([where[int(i)] for i in self._unpaired], np.intp)

    def raw(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """(52,) learned coefficients, unclamped (tongueOut 0)."""
        xl, xr = design(left, right)
        pl, pr = xl @ self.weights, xr @ self.weights
        out = np.zeros(NUM_BLENDSHAPES)
        valid = self._left >= 0
        out[self._left_target[valid]] = pl[self._left[valid]]
        out[self._right_target[valid]] = pr[self._left[valid]]
        out[self._unpaired] = 0.5 * (pl[self._unpaired_at] + pr[self._unpaired_at])
        return out

    def predict(self, left: np.ndarray, right: np.ndarray, geometric: np.ndarray,
                floor: float = 0.0) -> np.ndarray:
        """(52,) float32 in [floor, 1]: learned where ``use``, ``geometric`` elsewhere."""
        out = np.where(self.use, self.raw(left, right), geometric)
        return np.clip(out, floor, 1.0).astype(np.float32)


@lru_cache(maxsize=1)
def load(path: Path = WEIGHTS_PATH) -> RidgeMapping | None:
    """The shipped mapping, or None without a (readable) weights file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            weights, use = data["weights"], data["use"]
    except (OSError, KeyError, ValueError):
        return None
    if use.shape != (NUM_BLENDSHAPES,) or weights.shape != (4 * len(_half()) + 1, len(_half())):
        return None
    return RidgeMapping(weights, use)


def targets(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Training targets of the left view and the right view (the mirror's left channels)."""
    from engine.tracking.blendshapes import SWAP

    half = _half()
    return weights[..., half], weights[..., SWAP][..., half]


def fit(left: np.ndarray, right: np.ndarray, weights: np.ndarray, lam: float) -> np.ndarray:
    """Ridge weights from (N, 52) half-channels and (N, 52) set weights (bias not penalised)."""
    xl, xr = design(left, right)
    yl, yr = targets(weights)
    x, y = np.concatenate([xl, xr]), np.concatenate([yl, yr])
    penalty = lam * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0
    return np.linalg.solve(x.T @ x + penalty, x.T @ y)


