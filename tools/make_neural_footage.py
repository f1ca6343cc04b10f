"""Training and held-out footage for the neural avatar: face crops the project can produce itself.

Each identity is an avatar we ship or build: the blendshape personas (``avatars/*``) and photo
avatars built from ``skimage.data.astronaut()`` and the photos in ``../shared/assets/face``
(``engine.avatar.photo.build``). Each performs

* the head motion and expressions of ``../shared/assets/video/WolfgangLanger_Pexels.mp4``
  (``persona render --drive``: our tracker on the video drives the avatar; the woman's own
  face never enters the footage), and
* a random expression script with head turns (``engine.expression_script``), drawn from
  ``--seed``.

Every render is cut to face squares with the live driving crop's framing
(``engine.neural.train.read_faces``) and saved as ``<split>/<identity>__<performance>.npz``
(``faces``: (N, S, S, 3) uint8) under ``--out``, an ignored folder; ``persona train`` reads
these files. The held-out split (other identities) keeps its rendered videos too
(``heldout/*.mp4``): ``persona bench neural`` scores on them (``engine.neural.evaluate``), and
on the real clip ``pyfeat_single_face.mp4``, held out as well.

    python tools/make_neural_footage.py --out out/neural_footage --seed 0
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "assets"
DRIVE_VIDEO = SHARED / "video" / "WolfgangLanger_Pexels.mp4"
PERSONAS_TRAIN = ("default", "marlow", "toon")
PERSONAS_HELD_OUT = ("juniper",)
PHOTOS_TRAIN = {"astronaut": None, "obama": SHARED / "face" / "obama_official_portrait_2012.jpg"}
PHOTOS_HELD_OUT = {"pyfeat": SHARED / "face" / "pyfeat_single_face.jpg"}
SCRIPT_EXPRESSIONS = ("neutral", "smile", "laugh", "surprise", "sad", "angry", "pucker",
                      "wink", "blink", "talk", "jawOpen", "browInnerUp", "mouthFunnel")
RENDER_SIZE = "384x384"  # the face fills ~60 % of it: ample for 64 or 128 squares


def random_script(rng: random.Random, seconds: float) -> str:
    """A TOML expression script: a key every 0.5-1.2 s, random expression, intensity and head
    turn (yaw within 25 degrees, pitch within 15)."""
    lines, at = [f"duration = {seconds:.2f}"], 0.0
    while at < seconds - 0.5:
        lines += ["", "[[key]]", f"at = {at:.2f}",
                  f'expression = "{rng.choice(SCRIPT_EXPRESSIONS)}"',
                  f"intensity = {rng.uniform(0.5, 1.3):.2f}",
                  f"ease_s = {rng.uniform(0.15, 0.5):.2f}",
                  f"head = {{ yaw = {rng.uniform(-25, 25):.1f}, "
                  f"pitch = {rng.uniform(-15, 15):.1f} }}"]
        at += rng.uniform(0.5, 1.2)
    return "\n".join(lines) + "\n"


def photo_avatar(name: str, photo: Path | None, work: Path) -> Path:
    """A photo avatar folder built from ``photo`` (None: the astronaut) under ``work``, its
    consent manifest signed with a throwaway key (a real person's likeness must be signed)."""
    from engine.avatar.photo.build import build_signed_photo_avatar
    from engine.errors import EngineError
    from engine.safety.likeness import Consent, read_photo

    consent = Consent(person=name, consented_by="public sample photo",
                      note="training footage for the project's own neural model; never shipped",
                      uses=("demo", "privacy", "therapy"))
    try:
        if photo is None:
            from skimage import data

            image, origin = data.astronaut(), "astronaut (skimage)"
        else:
            image, origin = read_photo(photo)[0], str(photo)
        return build_signed_photo_avatar(image, origin, name, work / f"photo_{name}", consent,
                                         work / "footage.key")
    except EngineError as error:
        raise SystemExit(f"building the photo avatar {name!r} failed: {error}") from None


def render(avatar: str, performance: list[str], seconds: float, out: Path) -> None:
    from engine.cli import main

    code = main(["render", "--avatar", avatar, *performance, "--seconds", f"{seconds:g}",
                 "--size", RENDER_SIZE, "--silent", "--no-badge", "--use", "demo",
                 "-o", str(out)])
    if code != 0:
        raise SystemExit(f"rendering {avatar} failed")


def save_faces(video: Path, size: int, out: Path, max_frames: int) -> int:
    from engine.neural.train import read_faces
    from engine.safe_write import replace_on_success

    faces, _ = read_faces(video, size, max_frames)
    out.parent.mkdir(parents=True, exist_ok=True)
    with replace_on_success(out) as staged:
        np.savez_compressed(staged.file, faces=faces)
    return len(faces)


def make(out: Path, size: int, seed: int, drive_seconds: float, script_seconds: float,
         scripts: int, max_frames: int, splits: tuple[str, ...] = ("train", "heldout"),
         only: tuple[str, ...] | None = None) -> dict:
    """Render and cut the footage of ``splits`` (``only``: just these identities)."""
    rng = random.Random(seed)
    made = []
    with tempfile.TemporaryDirectory(prefix="neural_footage_") as tmp:
        work = Path(tmp)
        # The training split first: training may start while the held-out split renders.
        identities = []
        for split, personas, photos in (("train", PERSONAS_TRAIN, PHOTOS_TRAIN),
                                        ("heldout", PERSONAS_HELD_OUT, PHOTOS_HELD_OUT)):
            identities += [(p, p, split) for p in personas]
            identities += [(name, photo, split) for name, photo in photos.items()]
        for name, avatar, split in identities:
            # The scripts are drawn for every identity, so a split made alone gets the same.
            scripts_text = [random_script(rng, script_seconds) for _ in range(scripts)]
            if split not in splits or (only is not None and name not in only):
                continue
            if name in PHOTOS_TRAIN or name in PHOTOS_HELD_OUT:
                avatar = str(photo_avatar(name, avatar, work))
            performances = [("drive", ["--drive", str(DRIVE_VIDEO)], drive_seconds)]
            for n, text in enumerate(scripts_text):
                script = work / f"{name}_script{n}.toml"
                script.write_text(text)
                performances.append((f"script{n}", ["--script", str(script)], script_seconds))
            for label, performance, seconds in performances:
                started = time.perf_counter()
                video = work / f"{name}__{label}.mp4"
                render(avatar, performance, seconds, video)
                target = out / split / f"{name}__{label}.npz"
                count = save_faces(video, size, target, max_frames)
                if split == "heldout":  # scored whole by engine.neural.evaluate
                    shutil.move(video, target.with_suffix(".mp4"))
                made.append({"split": split, "identity": name, "performance": label,
                             "file": str(target.relative_to(out)), "faces": count})
                print(f"{target}: {count} faces ({time.perf_counter() - started:.1f} s)",
                      flush=True)
    index = {"seed": seed, "size": size, "drive": DRIVE_VIDEO.name, "clips": made}
    (out / f"index_{'_'.join(splits)}.json").write_text(json.dumps(index, indent=1) + "\n")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "neural_footage")
    parser.add_argument("--size", type=int, default=64, help="face square side (64 or 128)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drive-seconds", type=float, default=19.5,
                        help="seconds of the driving video each identity performs")
    parser.add_argument("--script-seconds", type=float, default=12.0)
    parser.add_argument("--scripts", type=int, default=1, help="random scripts per identity")
    parser.add_argument("--max-frames", type=int, default=300, help="face squares per clip")
    parser.add_argument("--split", choices=("train", "heldout", "all"), default="all")
    parser.add_argument("--only", nargs="+", default=None, help="just these identities")
    args = parser.parse_args(argv)
    if args.size not in (64, 128, 256):
        print(f"--size: {args.size} is not 64, 128 or 256", file=sys.stderr)
        return 1
    splits = ("train", "heldout") if args.split == "all" else (args.split,)
    make(args.out, args.size, args.seed, args.drive_seconds, args.script_seconds, args.scripts,
         args.max_frames, splits, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
