"""The shipped neural avatar: a trained checkpoint, stripped for shipping, and a synthetic source.

The checkpoint keeps FOMM's layout (all seven entries; the optimizer states emptied: they are
for resuming a run, not for animating, and triple the file) with its ``config`` and
``training`` record, the weights stored as fp16 (2.7 MB; the loader copies them into the
fp32 model). The source is a render of a shipped persona (``avatars/<persona>``,
neutral, facing the camera): a synthetic face, so the avatar's consent is ``synthetic`` and it
needs no camera consent. ``persona avatar neural`` writes the folder (checkpoint hash in the
manifest).

    python tools/ship_neural_model.py out/neural_train/small64.pth.tar \\
        --persona marlow --out avatars/marlow-neural
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_SHIPPED_BYTES = 20 << 20


def strip_checkpoint(trained: Path, out: Path) -> int:
    """Write ``trained`` without its optimizer states to ``out``; returns the bytes written."""
    import torch

    from engine.neural.checkpoint import parse_checkpoint, read_checkpoint_bytes
    from engine.safe_write import replace_on_success

    content = parse_checkpoint(read_checkpoint_bytes(trained), trained)
    for name in ("optimizer_generator", "optimizer_kp_detector", "optimizer_discriminator"):
        content[name] = {}
    for name in ("generator", "kp_detector"):  # half the file; loading copies them into fp32
        content[name] = {key: value.half() if value.is_floating_point() else value
                         for key, value in content[name].items()}
    with replace_on_success(out) as staged:
        torch.save(content, staged.file)
    return out.stat().st_size


def persona_still(persona: str, work: Path) -> Path:
    """A neutral, front-facing frame of the persona (PNG)."""
    from PIL import Image

    from engine.cli import main
    from engine.tracking.media import read_frames

    video = work / "still.mp4"
    if main(["render", "--avatar", persona, "--script", "neutral@1", "--seconds", "0.5",
             "--size", "512x512", "--silent", "--no-badge", "-o", str(video)]) != 0:
        raise SystemExit(f"rendering {persona} failed")
    *_, last = read_frames(video)
    still = work / f"{persona}.png"
    Image.fromarray(last.image).save(still)
    return still


def main(argv: list[str] | None = None) -> int:
    from engine.cli import main as persona

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path, help="the trained checkpoint (persona train)")
    parser.add_argument("--persona", default="marlow")
    parser.add_argument("--model", default="small-64")
    parser.add_argument("--out", type=Path, required=True, help="the avatar folder to write")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ship_neural_") as tmp:
        work = Path(tmp)
        stripped = work / "model.pth.tar"
        size = strip_checkpoint(args.checkpoint, stripped)
        if size > MAX_SHIPPED_BYTES:
            print(f"{args.checkpoint}: {size} bytes stripped, over the {MAX_SHIPPED_BYTES} "
                  "shipped limit", file=sys.stderr)
            return 1
        still = persona_still(args.persona, work)
        return persona(["avatar", "neural", "--checkpoint", str(stripped), "--source",
                        str(still), "--name", f"{args.persona}-neural", "--model", args.model,
                        "--synthetic", "--out", str(args.out)])


if __name__ == "__main__":
    sys.exit(main())
