"""docs/img/neural_strip.png: a held-out real face, driving frame / photo warp / neural model.

Rows: the driving square (frame t of ``pyfeat_single_face.mp4``, never trained on), the photo
avatar built from the clip's first frame driven by our tracker, and the shipped neural model
animating the clip's first square; columns spread over the clip (``engine.neural.evaluate``).
Also prints the clip's mean L1 figures.

    python tools/neural_strip.py [--out docs/img/neural_strip.png] [--columns 6]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCALE = 2  # 64-pixel squares shown at 128, nearest: the model's own pixels
LABELS = ("driving", "photo warp", "neural")


def strip(rows: list[list[np.ndarray]]) -> np.ndarray:
    from PIL import Image, ImageDraw

    side = rows[0][0].shape[0] * SCALE
    label_width = 96
    sheet = Image.new("RGB", (label_width + side * len(rows[0]), side * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        draw.text((6, r * side + side // 2 - 6), LABELS[r], fill="black")
        for c, square in enumerate(row):
            tile = Image.fromarray(square).resize((side, side), Image.NEAREST)
            sheet.paste(tile, (label_width + c * side, r * side))
    return np.asarray(sheet)


def main(argv: list[str] | None = None) -> int:
    import torch
    from PIL import Image

    from engine.avatar.loader import prepare_avatar
    from engine.neural.evaluate import score_clip
    from engine.neural.kind import SHIPPED_AVATAR
    from engine.resources import SHARED_ASSETS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "neural_strip.png")
    parser.add_argument("--columns", type=int, default=6)
    parser.add_argument("--clip", type=Path,
                        default=SHARED_ASSETS / "video" / "pyfeat_single_face.mp4")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = prepare_avatar(SHIPPED_AVATAR, use="demo").files.model
    scores = score_clip(model, args.clip, frames=args.columns)
    if not scores.photo_warp:
        print(f"{args.clip}: the photo builder refused its first frame; choose another clip",
              file=sys.stderr)
        return 1
    rows = [[pictures[i] for pictures in scores.pictures] for i in range(3)]
    Image.fromarray(strip(rows)).save(args.out)
    print(json.dumps({"clip": args.clip.name, "frames": scores.frames,
                      "l1_model": round(float(np.mean(scores.model)), 4),
                      "l1_no_motion": round(float(np.mean(scores.no_motion)), 4),
                      "l1_photo_warp": round(float(np.mean(scores.photo_warp)), 4)}))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
