"""The consent an avatar builder records for a photo: what ``[consent]`` says, and the command
line options that fill it (``persona avatar build-photo``, ``persona avatar neural``).

A real person's photo needs who consented and what they agreed to (``--consent-from``,
``--consent-note``); the folder it makes loads live only once signed (``engine.safety.consent``),
so the builder signs it when given a key and otherwise says how. A generated face is written as
``likeness = "synthetic"`` and needs nothing more.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import ConfigError

CONSENT_YEARS = 1  # a consent expires after this, and must be renewed


@dataclass(frozen=True)
class Consent:
    """What ``[consent]`` will say. ``synthetic``: a generated face, no real person."""

    person: str | None = None  # whose likeness; None with synthetic
    consented_by: str | None = None
    note: str | None = None
    uses: tuple[str, ...] = ("privacy",)
    synthetic: bool = False
    public_key: str | None = None  # "ed25519:..." of the key that will sign it
    camera: bool | None = None  # may the live camera drive it; None: not asked (not written)

    def check_uses(self) -> None:
        from engine.safety.consent import USES

        bad = [use for use in self.uses if use not in USES]
        if bad:
            raise ConfigError(f"uses: {bad[0]!r} is not one of {', '.join(USES)}")


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string."""
    return json.dumps(text, ensure_ascii=True)


def consent_lines(consent: Consent, name: str, source: str) -> list[str]:
    """The ``[consent]`` table for an avatar called ``name`` built from ``source`` (file names
    and SHA-256 of what it was made from)."""
    q = toml_string
    lines = ["[consent]"]
    if consent.synthetic:
        lines.append('likeness = "synthetic"')
    else:
        today = dt.date.today()
        lines.append(f"likeness = {q(consent.person or name)}")
        if consent.consented_by:
            lines.append(f"consented_by = {q(consent.consented_by)}")
        lines += [f"date = {today.isoformat()}",
                  f"uses = [{', '.join(q(use) for use in consent.uses)}]",
                  f"expires = {today.replace(year=today.year + CONSENT_YEARS).isoformat()}"]
        if consent.camera is not None:
            lines.append(f"camera = {'true' if consent.camera else 'false'}")
        if consent.public_key:
            lines.append(f"public_key = {q(consent.public_key)}")
    lines.append(f"source = {q(source)}")
    if consent.note:
        lines.append(f"note = {q(consent.note)}")
    return lines


def read_photo(path: Path) -> tuple[np.ndarray, bytes]:
    """A builder's source photo: (H, W, 3) uint8 RGB through the bounded image reader, and its
    bytes, whose SHA-256 the manifest records."""
    from engine.images import read_image
    from engine.safety.regular_file import read_bytes

    image = np.ascontiguousarray(np.asarray(read_image(path)))
    return image, read_bytes(path, 64 << 20, lambda why: ConfigError(f"{path}: {why}"))


def add_consent_options(parser: argparse.ArgumentParser, camera: bool = False) -> None:
    parser.add_argument("--person", help="whose likeness it is; default the name")
    parser.add_argument("--consent-from", help="who gave consent (the person or a guardian)")
    parser.add_argument("--consent-note", help="the consent statement, as given")
    parser.add_argument("--uses", default="privacy",
                        help="comma-separated uses consented to: therapy, privacy, demo")
    if camera:
        parser.add_argument("--camera", action="store_true",
                            help="the person agreed to be animated by the live camera picture")
    parser.add_argument("--synthetic", action="store_true",
                        help="the photo shows a generated face, no real person")
    parser.add_argument("--key", help="sign the manifest with this key (from avatar keygen); "
                                      "the [consent] table then names its public key")


def consent_from_options(args: argparse.Namespace, command: str) -> Consent:
    """The ``Consent`` the options ask for; a real person's photo without who consented and
    what they agreed to is refused."""
    if not args.synthetic and not (args.consent_from and args.consent_note):
        raise ConfigError(f"{command}: a real person's photo needs --consent-from and "
                          "--consent-note (who consented and what they agreed to); use "
                          "--synthetic for a generated face")
    public_key = None
    if args.key:
        from engine.safety.keys import load_private, public_text

        public_key = public_text(load_private(args.key).public_key())
    camera = getattr(args, "camera", None)
    consent = Consent(person=None if args.synthetic else (args.person or args.name),
                      consented_by=args.consent_from, note=args.consent_note,
                      uses=tuple(use.strip() for use in args.uses.split(",") if use.strip()),
                      synthetic=args.synthetic, public_key=public_key,
                      camera=None if args.synthetic else camera)
    consent.check_uses()
    return consent


def sign_or_explain(folder: Path, args: argparse.Namespace) -> None:
    """Sign the new folder with ``--key``, or say that a real likeness must be signed first."""
    if args.synthetic:
        return
    if args.key:
        from engine.safety.consent import sign_avatar

        print(f"signed: {sign_avatar(folder, args.key)}")
    else:
        print(f"not loadable live until signed: persona avatar sign {folder} --key KEY")
