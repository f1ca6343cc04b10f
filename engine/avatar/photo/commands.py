"""``persona avatar build-photo PHOTO --name NAME``: a photo avatar folder from one photo."""

from __future__ import annotations

import argparse
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    import numpy as np

    from engine.avatar.photo.build import Consent, build_photo_avatar
    from engine.errors import ConfigError
    from engine.images import read_image
    from engine.safety.regular_file import read_bytes

    if not args.synthetic and not (args.consent_from and args.consent_note):
        raise ConfigError("build-photo: a real person's photo needs --consent-from and "
                          "--consent-note (who consented and what they agreed to); use "
                          "--synthetic for a generated face")
    photo = Path(args.photo)
    image = np.ascontiguousarray(np.asarray(read_image(photo)))
    source = read_bytes(photo, 64 << 20, lambda why: ConfigError(f"{photo}: {why}"))
    uses = tuple(use.strip() for use in args.uses.split(",") if use.strip())
    public_key = None
    if args.key:
        from engine.safety.keys import load_private, public_text

        public_key = public_text(load_private(args.key).public_key())
    consent = Consent(person=None if args.synthetic else (args.person or args.name),
                      consented_by=args.consent_from, note=args.consent_note, uses=uses,
                      synthetic=args.synthetic, public_key=public_key)
    out = Path(args.out) if args.out else Path("avatars") / args.name
    folder = build_photo_avatar(image, str(photo), args.name, out, consent, source)
    print(f"wrote {folder}")
    if args.key and not args.synthetic:
        from engine.safety.consent import sign_avatar

        print(f"signed: {sign_avatar(folder, args.key)}")
    elif not args.synthetic:
        print(f"not loadable live until signed: persona avatar sign {folder} --key KEY")
    return 0


def register(commands) -> None:
    parser = commands.add("build-photo", _build, group="avatar",
                          help="build a photo avatar (kind \"photo\") from one face photo")
    parser.add_argument("photo", help="the photo (.png, .jpg): one face, facing the camera")
    parser.add_argument("--name", required=True, help="the avatar's name")
    parser.add_argument("--out", help="folder to write (new or empty); default avatars/NAME")
    parser.add_argument("--person", help="whose likeness it is; default the name")
    parser.add_argument("--consent-from", help="who gave consent (the person or a guardian)")
    parser.add_argument("--consent-note", help="the consent statement, as given")
    parser.add_argument("--uses", default="privacy",
                        help="comma-separated uses consented to: therapy, privacy, demo")
    parser.add_argument("--synthetic", action="store_true",
                        help="the photo shows a generated face, no real person")
    parser.add_argument("--key", help="sign the manifest with this key (from avatar keygen); "
                                      "the [consent] table then names its public key")
