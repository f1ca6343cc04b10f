"""``persona avatar neural --checkpoint FILE --source PHOTO --name NAME``: a neural avatar
folder from a FOMM-layout checkpoint and one photo (registered by engine.avatar.commands)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _avatar(args: argparse.Namespace) -> int:
    from engine.neural.build import build_neural_avatar
    from engine.safety.likeness import consent_from_options, read_photo, sign_or_explain

    consent = consent_from_options(args, "avatar neural")
    photo = Path(args.source)
    image, photo_bytes = read_photo(photo)
    out = Path(args.out) if args.out else Path("avatars") / args.name
    folder, sha256 = build_neural_avatar(Path(args.checkpoint), image, str(photo), photo_bytes,
                                         args.name, args.model, out, consent)
    print(f"checkpoint sha256 {sha256}")
    print(f"wrote {folder}")
    if not args.synthetic and not args.camera:
        print("note: without [consent] camera = true the camera cannot drive it; rebuild with "
              "--camera once the person agreed")
    sign_or_explain(folder, args)
    return 0


def register(commands) -> None:
    from engine.safety.likeness import add_consent_options

    parser = commands.add("neural", _avatar, group="avatar",
                          help="make a neural avatar (kind \"neural\") from a FOMM checkpoint "
                               "and one source photo")
    parser.add_argument("--checkpoint", required=True,
                        help="FOMM-layout checkpoint (.pth.tar); read weights-only, never "
                             "downloaded")
    parser.add_argument("--source", required=True, help="the source photo: one face, facing "
                                                        "the camera")
    parser.add_argument("--name", required=True, help="the avatar's name")
    parser.add_argument("--model", default="vox-256", help="model size: vox-256, small-64 or tiny")
    parser.add_argument("--out", help="folder to write (new or empty); default avatars/NAME")
    add_consent_options(parser, camera=True)
