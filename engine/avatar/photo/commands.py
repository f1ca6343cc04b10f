"""``persona avatar build-photo PHOTO --name NAME``: a photo avatar folder from one photo."""

from __future__ import annotations

import argparse
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    import numpy as np

    from engine.avatar.photo.build import build_photo_avatar
    from engine.errors import ConfigError
    from engine.images import read_image
    from engine.safety.likeness import consent_from_options, sign_or_explain
    from engine.safety.regular_file import read_bytes

    consent = consent_from_options(args, "build-photo")
    photo = Path(args.photo)
    image = np.ascontiguousarray(np.asarray(read_image(photo)))
    source = read_bytes(photo, 64 << 20, lambda why: ConfigError(f"{photo}: {why}"))
    out = Path(args.out) if args.out else Path("avatars") / args.name
    folder = build_photo_avatar(image, str(photo), args.name, out, consent, source)
    print(f"wrote {folder}")
    sign_or_explain(folder, args)
    return 0


def register(commands) -> None:
    from engine.safety.likeness import add_consent_options

    parser = commands.add("build-photo", _build, group="avatar",
                          help="build a photo avatar (kind \"photo\") from one face photo")
    parser.add_argument("photo", help="the photo (.png, .jpg): one face, facing the camera")
    parser.add_argument("--name", required=True, help="the avatar's name")
    parser.add_argument("--out", help="folder to write (new or empty); default avatars/NAME")
    add_consent_options(parser)
