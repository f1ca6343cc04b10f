"""``persona avatar build-photo PHOTO --name NAME`` (a photo avatar) and ``build-faceswap``
(a face-swap persona): an avatar folder from one photo."""

from __future__ import annotations

import argparse
from pathlib import Path


def _builder(kind: str, command: str):
    def build(args: argparse.Namespace) -> int:
        from engine.avatar.photo.build import build_photo_avatar
        from engine.safety.likeness import consent_from_options, read_photo, sign_or_explain

        consent = consent_from_options(args, command)
        photo = Path(args.photo)
        image, source = read_photo(photo)
        out = Path(args.out) if args.out else Path("avatars") / args.name
        folder = build_photo_avatar(image, str(photo), args.name, out, consent, source, kind=kind)
        print(f"wrote {folder}")
        sign_or_explain(folder, args)
        return 0

    return build


def register(commands) -> None:
    from engine.safety.likeness import add_consent_options

    for kind, command, what in (
            ("photo", "build-photo", "build a photo avatar (kind \"photo\") from one face photo"),
            ("faceswap", "build-faceswap", "build a face-swap persona (kind \"faceswap\"): "
                                           "this face drawn onto the performer's live face")):
        parser = commands.add(command, _builder(kind, command), group="avatar", help=what)
        parser.add_argument("photo", help="the photo (.png, .jpg): one face, facing the camera")
        parser.add_argument("--name", required=True, help="the avatar's name")
        parser.add_argument("--out", help="folder to write (new or empty); default avatars/NAME")
        add_consent_options(parser, camera=kind == "faceswap")
