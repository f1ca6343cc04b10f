"""``persona avatar neural --checkpoint FILE --source PHOTO --name NAME``: a neural avatar
folder from a FOMM-layout checkpoint and one photo (registered by engine.avatar.commands)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _avatar(args: argparse.Namespace) -> int:
    import numpy as np

    from engine.avatar.photo.build import Consent
    from engine.errors import ConfigError
    from engine.images import read_image
    from engine.neural.build import build_neural_avatar
    from engine.safety.regular_file import read_bytes

    if not args.synthetic and not (args.consent_from and args.consent_note):
        raise ConfigError("avatar neural: a real person's photo needs --consent-from and "
                          "--consent-note (who consented and what they agreed to); use "
                          "--synthetic for a generated face")
    photo = Path(args.source)
    image = np.ascontiguousarray(np.asarray(read_image(photo)))
    photo_bytes = read_bytes(photo, 64 << 20, lambda why: ConfigError(f"{photo}: {why}"))
    public_key = None
    if args.key:
        from engine.safety.keys import load_private, public_text

        public_key = public_text(load_private(args.key).public_key())
    uses = tuple(use.strip() for use in args.uses.split(",") if use.strip())
    consent = Consent(person=None if args.synthetic else (args.person or args.name),
                      consented_by=args.consent_from, note=args.consent_note, uses=uses,
                      synthetic=args.synthetic, public_key=public_key)
    out = Path(args.out) if args.out else Path("avatars") / args.name
    folder, sha256 = build_neural_avatar(Path(args.checkpoint), image, str(photo), photo_bytes,
                                         args.name, args.model, out, consent, args.camera)
    print(f"checkpoint sha256 {sha256}")
    print(f"wrote {folder}")
    if not args.synthetic and not args.camera:
        print("note: without [consent] camera = true the camera cannot drive it; rebuild with "
              "--camera once the person agreed")
    if args.key and not args.synthetic:
        from engine.safety.consent import sign_avatar

        print(f"signed: {sign_avatar(folder, args.key)}")
    elif not args.synthetic:
        print(f"not loadable live until signed: persona avatar sign {folder} --key KEY")
    return 0


def register(commands) -> None:
    parser = commands.add("neural", _avatar, group="avatar",
                          help="make a neural avatar (kind \"neural\") from a FOMM checkpoint "
                               "and one source photo")
    parser.add_argument("--checkpoint", required=True,
                        help="FOMM-layout checkpoint (.pth.tar); read weights-only, never "
                             "downloaded")
    parser.add_argument("--source", required=True, help="the source photo: one face, facing "
                                                        "the camera")
    parser.add_argument("--name", required=True, help="the avatar's name")
    parser.add_argument("--model", default="vox-256", help="model size: vox-256 or tiny")
    parser.add_argument("--out", help="folder to write (new or empty); default avatars/NAME")
    parser.add_argument("--person", help="whose likeness it is; default the name")
    parser.add_argument("--consent-from", help="who gave consent (the person or a guardian)")
    parser.add_argument("--consent-note", help="the consent statement, as given")
    parser.add_argument("--uses", default="privacy",
                        help="comma-separated uses consented to: therapy, privacy, demo")
    parser.add_argument("--camera", action="store_true",
                        help="the person agreed to be animated by the live camera picture")
    parser.add_argument("--synthetic", action="store_true",
                        help="the photo shows a generated face, no real person")
    parser.add_argument("--key", help="sign the manifest with this key (from avatar keygen)")
