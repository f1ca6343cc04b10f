"""Train the learned blendshape mapping (engine/tracking/blendshapes_ridge.npz) on rendered faces.

Generated personas (engine/avatar/procedural.py) with known ARKit weights are rendered by the
engine's renderer at random poses (yaw/pitch within ±20°) and camera distances and tracked back
with MediaPipe (engine/tracking/fidelity.py). The identities are split by seed:
``fidelity.TRAIN_SEEDS`` fit the ridge regression, ``fidelity.VALIDATION_SEEDS`` choose the ridge
lambda and, per channel, whether the learned output or the geometric formula is shipped;
``fidelity.TEST_SEEDS`` are never seen here (``persona bench fidelity`` reports on them).
Everything is drawn from ``--seed``, so the same command rebuilds the same file.

Usage:
    python tools/train_blendshapes.py [--seed 0] [--per-identity 36] [--cache /tmp/fid.npz]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from engine.tracking import blendshapes, fidelity, learned
from engine.types import BLENDSHAPE_NAMES

LAMBDAS = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)


def halves_of(samples: fidelity.Samples) -> tuple[np.ndarray, np.ndarray]:
    pairs = [blendshapes.halves(p, e, learned.FEATURE_FLOOR)
             for p, e in zip(samples.points, samples.eyes)]
    return np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-identity", type=int, default=36)
    parser.add_argument("--cache", type=Path, help="reuse/keep the rendered samples here")
    parser.add_argument("--out", type=Path, default=learned.WEIGHTS_PATH)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    seeds = fidelity.TRAIN_SEEDS + fidelity.VALIDATION_SEEDS
    samples = fidelity.cached_samples(seeds, args.per_identity, args.seed, args.cache)
    train, valid = samples.subset(fidelity.TRAIN_SEEDS), samples.subset(fidelity.VALIDATION_SEEDS)
    logging.info("%d training, %d validation samples (%d missed)", len(train.seed),
                 len(valid.seed), samples.missed)
    tl, tr = halves_of(train)
    vl, vr = halves_of(valid)
    geometric_valid = np.array([blendshapes._merge(np.maximum(a, 0), np.maximum(b, 0))
                                for a, b in zip(vl, vr)])
    geometric_mae = np.abs(np.clip(geometric_valid, 0, 1) - valid.weights).mean(0)
    best = None
    for lam in LAMBDAS:
        weights = learned.fit(tl, tr, train.weights, lam)
        model = learned.RidgeMapping(weights, np.ones(len(BLENDSHAPE_NAMES), bool))
        predicted = np.clip([model.raw(a, b) for a, b in zip(vl, vr)], 0, 1)
        mae = np.abs(predicted - valid.weights).mean(0)
        logging.info("lambda %5.1f: validation MAE %.4f", lam, np.minimum(mae, geometric_mae).mean())
        if best is None or np.minimum(mae, geometric_mae).mean() < best[0]:
            best = (np.minimum(mae, geometric_mae).mean(), lam, weights, mae)
    _, lam, weights, mae = best
    # Decided per pair (a channel and its mirror partner together), so symmetry holds.
    use = (mae + mae[blendshapes.SWAP]) < (geometric_mae + geometric_mae[blendshapes.SWAP])
    use[BLENDSHAPE_NAMES.index("tongueOut")] = False
    for name, m, g, u in zip(BLENDSHAPE_NAMES, mae, geometric_mae, use):
        logging.info("%-20s learned %.3f geometric %.3f -> %s", name, m, g,
                     "learned" if u else "geometric")
    np.savez_compressed(args.out, weights=weights.astype(np.float32), use=use, lam=lam,
                        seed=args.seed, train_seeds=np.array(fidelity.TRAIN_SEEDS),
                        validation_seeds=np.array(fidelity.VALIDATION_SEEDS))
    logging.info("wrote %s (lambda %s, learned on %d of 52 channels)", args.out, lam, use.sum())
    return 0


if __name__ == "__main__":
    sys.exit(main())
