"""``persona train``: train a FOMM-style model from consented videos (``engine.neural.train``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _train(args: argparse.Namespace) -> int:
    from engine.neural.train import TrainOptions, train

    from engine.errors import ConfigError

    if args.synthetic == bool(args.consent):
        raise ConfigError("train: give --consent \"WHO agreed to WHAT\" for videos of real "
                          "people, or --synthetic for generated ones (one of the two)")
    options = TrainOptions(videos=[Path(v) for v in args.videos], out=Path(args.out),
                           consent=args.consent or "synthetic", size=args.size,
                           steps=args.steps, batch=args.batch, lr=args.lr,
                           resume=args.resume, checkpoint_every=args.checkpoint_every,
                           device=args.device, seed=args.seed, tps=not args.no_tps,
                           minutes=args.minutes, threads=args.threads)
    for line in train(options):
        print(line, flush=True)
    return 0


def register(commands) -> None:
    parser = commands.add("train", _train,
                          help="train a FOMM-style model from consented videos (reconstruction "
                               "and equivariance losses; checkpoints in FOMM's layout)")
    parser.add_argument("videos", nargs="+", help="video files of the consenting person(s), or "
                                                  ".npz clips of face squares")
    parser.add_argument("--consent", help="who consented to these videos being trained on, and "
                                          "to what (recorded in the checkpoint)")
    parser.add_argument("--synthetic", action="store_true", help="the videos show generated "
                                                                 "faces, no real person")
    parser.add_argument("--out", required=True, help="checkpoint to write (.pth.tar)")
    parser.add_argument("--size", default="tiny", help="model size: tiny, small-64 or vox-256")
    parser.add_argument("--steps", type=int, default=1000, help="optimiser steps in all")
    parser.add_argument("--batch", type=int, default=4, help="frame pairs per step")
    parser.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate")
    parser.add_argument("--resume", action="store_true", help="continue from --out")
    parser.add_argument("--checkpoint-every", type=int, default=100,
                        help="write the checkpoint every N steps (and at the end)")
    parser.add_argument("--device", default=None, help="cuda or cpu; default cuda when present")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-tps", action="store_true",
                        help="affine equivariance only (no thin-plate spline warps)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop after this many minutes of training (checkpointed)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
