"""Fit the photo avatar's expression basis (engine/avatar/photo/basis.npz) on rendered faces.

The photo warp moves a photo's 478 landmarks by ``B · weights``: one displacement field per ARKit
channel, in the face frame (template centimetres, pose and scale removed). B is fitted here by
ridge regression on faces with known weights: generated personas (engine/avatar/procedural.py)
rendered by the engine at random poses and expressions and tracked back with MediaPipe
(engine/tracking/fidelity.py), so each displacement is what our tracker sees the channel do.
Each identity's own face is removed by centring its samples (per-identity intercept).

Identities: ``fidelity.TRAIN_SEEDS`` fit B, ``VALIDATION_SEEDS`` choose the ridge lambda,
``TEST_SEEDS`` are held out; the script prints the landmark reconstruction error on them
(neutral + B·w against the tracked landmarks) next to the error of the neutral face alone.

Left out of B: the eyeLook* channels (the warp moves the irises by ``Expression.gaze`` instead,
so gaze is not counted twice) and tongueOut (the renders do not show it). The blinks are
replaced per photo when it loads (engine/avatar/photo/geometry.py: the upper lid margin onto the
lower one), since a fitted average cannot close every eye exactly.

Usage:
    python tools/build_photo_basis.py [--seed 0] [--per-identity 40] [--cache /tmp/photo_fid.npz]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from engine.avatar.photo.basis import BASIS_PATH, UNFITTED_CHANNELS
from engine.tracking import fidelity
from engine.types import BLENDSHAPE_INDEX, NUM_BLENDSHAPES, NUM_LANDMARKS

LAMBDAS = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)


def centred(samples: fidelity.Samples) -> tuple[np.ndarray, np.ndarray]:
    """Weights and flattened points with each identity's mean removed."""
    x = samples.weights.astype(np.float64).copy()
    y = samples.points.reshape(len(x), -1).copy()
    for seed in np.unique(samples.seed):
        rows = samples.seed == seed
        x[rows] -= x[rows].mean(0)
        y[rows] -= y[rows].mean(0)
    return x, y


def ridge(x: np.ndarray, y: np.ndarray, lam: float, used: np.ndarray) -> np.ndarray:
    basis = np.zeros((NUM_BLENDSHAPES, y.shape[1]))
    xs = x[:, used]
    basis[used] = np.linalg.solve(xs.T @ xs + lam * len(xs) * np.eye(used.sum()), xs.T @ y)
    return basis


def reconstruction_cm(samples: fidelity.Samples, basis: np.ndarray | None) -> float:
    """RMS landmark error (cm) of each identity's neutral sample + B·w over its other samples."""
    errors = []
    for seed in np.unique(samples.seed):
        rows = np.flatnonzero(samples.seed == seed)
        neutral = samples.points[rows[0]]  # render_samples: the first sample is neutral, frontal
        for row in rows[1:]:
            predicted = neutral.copy()
            if basis is not None:
                predicted += (samples.weights[row] @ basis).reshape(NUM_LANDMARKS, 3)
            errors.append(((predicted - samples.points[row]) ** 2).sum(1).mean())
    return float(np.sqrt(np.mean(errors)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-identity", type=int, default=40)
    parser.add_argument("--cache", type=Path, help="reuse/keep the rendered samples here")
    parser.add_argument("--out", type=Path, default=BASIS_PATH)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    seeds = fidelity.TRAIN_SEEDS + fidelity.VALIDATION_SEEDS + fidelity.TEST_SEEDS
    samples = fidelity.cached_samples(seeds, args.per_identity, args.seed, args.cache)
    train = samples.subset(fidelity.TRAIN_SEEDS)
    valid = samples.subset(fidelity.VALIDATION_SEEDS)
    test = samples.subset(fidelity.TEST_SEEDS)
    used = np.ones(NUM_BLENDSHAPES, bool)
    used[[BLENDSHAPE_INDEX[name] for name in UNFITTED_CHANNELS]] = False
    x, y = centred(train)
    scores = {lam: reconstruction_cm(valid, ridge(x, y, lam, used)) for lam in LAMBDAS}
    lam = min(scores, key=scores.get)
    basis = ridge(x, y, lam, used).reshape(NUM_BLENDSHAPES, NUM_LANDMARKS, 3)
    logging.info("%d train, %d validation, %d test samples (%d missed); lambda %.2g "
                 "(validation RMS %s)", len(train.seed), len(valid.seed), len(test.seed),
                 samples.missed, lam, {k: round(v, 4) for k, v in scores.items()})
    flat = basis.reshape(NUM_BLENDSHAPES, -1)
    logging.info("held-out identities %s: landmark RMS %.3f cm with the basis, %.3f cm neutral "
                 "only", fidelity.TEST_SEEDS, reconstruction_cm(test, flat),
                 reconstruction_cm(test, None))
    np.savez_compressed(args.out, basis=basis.astype(np.float32), ridge_lambda=lam,
                        seed=args.seed, per_identity=args.per_identity)
    logging.info("wrote %s (%d bytes)", args.out, args.out.stat().st_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
