"""Consent manifests: an avatar of a real person loads only with a signed, current manifest.

The ``[consent]`` table of ``avatar.toml``::

    [consent]
    likeness = "Jane Doe"          # or "synthetic" when no real person is depicted
    consented_by = "Jane Doe"      # who gave consent (the person, or their guardian)
    date = 2026-03-01              # when
    uses = ["therapy", "demo"]     # any of: therapy, privacy, demo
    expires = 2027-03-01           # last day the consent holds
    public_key = "ed25519:..."     # the artist's key that signed it
    camera = false                 # optional: may the likeness be combined with the live
                                   # camera picture (face swap)? Synthetic avatars may.

``consent.sig`` beside it holds the base64 Ed25519 signature over :func:`signed_bytes`: the
whole ``avatar.toml`` in canonical JSON plus the name and SHA-256 of every file the avatar's kind
says carries the likeness (a glTF's model, ``.bin`` buffers and texture images; a photo; a
checkpoint), so changing the words, or any file of the face they cover, voids the signature.

A valid signature proves that the holder of that key signed exactly this manifest for exactly
this model; it cannot prove that the person really consented (see docs/ethics.md). Synthetic
avatars need no signature.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import AssetError, ConfigError, ConsentError
from engine.safety import keys

if TYPE_CHECKING:
    from engine.safety.audit import AuditLog

SIGNATURE_FILE = "consent.sig"
USES = ("therapy", "privacy", "demo")
SYNTHETIC = "synthetic"
DOMAIN = b"persona-consent-v2\n"
REQUIRED = ("likeness", "consented_by", "date", "uses", "expires", "public_key")


@dataclass(frozen=True)
class ConsentResult:
    likeness: str
    synthetic: bool
    use: str
    consented_by: str | None = None
    expires: dt.date | None = None
    signer: str | None = None  # fingerprint of the signing key
    camera: bool = False  # the person agreed to be combined with the live camera picture


def _check_use(use: str) -> None:
    if use not in USES:
        raise ConfigError(f"use {use!r} is not one of {', '.join(USES)}")


def _consent_table(toml_dict: dict, where: str) -> dict:
    table = toml_dict.get("consent")
    if table is None:
        raise ConsentError(f"{where}: no [consent] table; add likeness = \"synthetic\" if the "
                           f"avatar depicts no real person, or a signed manifest if it does")
    if not isinstance(table, dict):
        raise ConsentError(f"{where}: 'consent' must be a table")
    return table


def likeness_files(avatar_dir: Path, toml_dict: dict) -> list[Path]:
    """Every file the signature covers, as the avatar's kind declares them (checked inside the
    avatar folder)."""
    from engine.avatar.manifest import manifest_from_toml

    try:
        files = manifest_from_toml(avatar_dir, toml_dict).likeness_files()
    except (ConfigError, AssetError) as error:
        raise ConsentError(f"{avatar_dir / 'avatar.toml'}: cannot tell which files carry the "
                           f"likeness: {error}") from None
    root = avatar_dir.resolve()
    outside = [path for path in files if not path.resolve().is_relative_to(root)]
    if outside:
        raise ConsentError(f"{avatar_dir / 'avatar.toml'}: {outside[0]} lies outside the "
                           "avatar folder")
    return files


def file_sha256(path: Path) -> str:
    """The hash of one likeness file, read as warily as the loaders read it (no FIFO waits)."""
    from engine.avatar.gltf import MAX_FILE_BYTES
    from engine.safety.regular_file import open_regular

    digest = hashlib.sha256()
    with open_regular(path, MAX_FILE_BYTES, lambda why: ConsentError(f"{path}: {why}")) as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _jsonable(value: object) -> object:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def signed_bytes(avatar_dir: Path, toml_dict: dict) -> bytes:
    """What the signature covers: canonical JSON of the manifest and of every likeness file's
    name (relative to the folder) and hash."""
    _consent_table(toml_dict, str(avatar_dir / "avatar.toml"))
    root = avatar_dir.resolve()
    files = [{"file": path.resolve().relative_to(root).as_posix(), "sha256": file_sha256(path)}
             for path in likeness_files(avatar_dir, toml_dict)]
    document = {"manifest": _jsonable(toml_dict), "files": files}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return DOMAIN + canonical.encode("ascii")


def _missing_fields(table: dict) -> list[str]:
    problems = [f"'{name}' is missing" for name in REQUIRED if name not in table]
    for name in ("likeness", "consented_by"):
        if name in table and (not isinstance(table[name], str) or not table[name].strip()):
            problems.append(f"'{name}' must be a non-empty string")
    for name in ("date", "expires"):
        if name in table and not isinstance(table[name], dt.date):
            problems.append(f"'{name}' must be a TOML date such as 2027-01-31")
    if "camera" in table and not isinstance(table["camera"], bool):
        problems.append("'camera' must be true or false")
    uses = table.get("uses")
    if "uses" in table and (not isinstance(uses, list) or not uses
                            or any(use not in USES for use in uses)):
        problems.append(f"'uses' must be a list of {', '.join(USES)}")
    return problems


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def check_avatar_consent(avatar_dir: str | os.PathLike, toml_dict: dict, use: str,
                         now: dt.date | dt.datetime | None = None,
                         audit: AuditLog | None = None) -> ConsentResult:
    """Allow a synthetic avatar, or a real person's with a valid manifest covering ``use``.

    Raises ``ConsentError`` saying exactly what is missing; ``now`` is for tests (default today).
    With ``audit``, the outcome is recorded (folder name, use, outcome, signer fingerprint; never
    the person's name).
    """
    avatar_dir = Path(avatar_dir)
    try:
        result = _check(avatar_dir, toml_dict, use, now)
    except ConsentError:
        if audit is not None:
            audit.record("consent_check", avatar=avatar_dir.name, use=use, outcome="refused")
        raise
    if audit is not None:
        audit.record("consent_check", avatar=avatar_dir.name, use=use,
                     outcome="synthetic" if result.synthetic else "signed",
                     signer=result.signer or "-")
    return result


def _check(avatar_dir: Path, toml_dict: dict, use: str,
           now: dt.date | dt.datetime | None) -> ConsentResult:
    _check_use(use)
    where = f"{avatar_dir / 'avatar.toml'} [consent]"
    table = _consent_table(toml_dict, str(avatar_dir / "avatar.toml"))
    likeness = table.get("likeness")
    if likeness == SYNTHETIC:
        return ConsentResult(SYNTHETIC, True, use, camera=True)
    problems = _missing_fields(table)
    if problems:
        raise ConsentError(f"{where}: this avatar depicts a real person and its consent manifest "
                           f"is incomplete: {'; '.join(problems)}")
    _verify_signature(avatar_dir, toml_dict, where)
    today = _as_date(now or dt.date.today())
    expires = _as_date(table["expires"])
    if today > expires:
        raise ConsentError(f"{where}: consent expired on {expires.isoformat()}; ask "
                           f"{table['consented_by']} to renew it and sign a new manifest")
    if today < _as_date(table["date"]):
        raise ConsentError(f"{where}: consent date {table['date']} is in the future")
    if use not in table["uses"]:
        raise ConsentError(f"{where}: consent covers {', '.join(table['uses'])}, not {use!r}")
    return ConsentResult(str(likeness), False, use, str(table["consented_by"]), expires,
                         keys.fingerprint(table["public_key"]), camera=table.get("camera") is True)


def _verify_signature(avatar_dir: Path, toml_dict: dict, where: str) -> None:
    from cryptography.exceptions import InvalidSignature

    table = toml_dict["consent"]
    try:
        public = keys.parse_public(table["public_key"], f"{where} public_key")
    except ConfigError as error:
        raise ConsentError(str(error)) from None
    signature_path = avatar_dir / SIGNATURE_FILE
    if not signature_path.is_file():
        raise ConsentError(f"{signature_path}: missing; sign the manifest with "
                           f"'persona avatar sign {avatar_dir} --key KEY'")
    try:
        signature = base64.b64decode(signature_path.read_bytes()[:1024].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConsentError(f"{signature_path}: not a base64 signature") from None
    try:
        public.verify(signature, signed_bytes(avatar_dir, toml_dict))
    except InvalidSignature:
        names = ", ".join(path.name for path in likeness_files(avatar_dir, toml_dict))
        raise ConsentError(f"{signature_path}: signature does not match; the manifest or one of "
                           f"its files ({names}) changed after signing, or another key signed "
                           f"it") from None


def sign_avatar(avatar_dir: str | os.PathLike, key_path: str | os.PathLike) -> Path:
    """Sign ``avatar_dir``'s manifest and model with the private key; writes consent.sig."""
    from engine.safety import strict_toml

    avatar_dir = Path(avatar_dir)
    toml_dict = strict_toml.load(avatar_dir / "avatar.toml")
    where = f"{avatar_dir / 'avatar.toml'} [consent]"
    table = _consent_table(toml_dict, str(avatar_dir / "avatar.toml"))
    if table.get("likeness") == SYNTHETIC:
        raise ConsentError(f"{where}: likeness is \"synthetic\"; nothing to sign")
    problems = _missing_fields(table)
    private = keys.load_private(key_path)
    public = keys.public_text(private.public_key())
    if table.get("public_key") not in (None, public):
        problems.append(f"'public_key' is not the public key of {key_path}")
    if problems:
        hint = f" (add: public_key = \"{public}\")" if "public_key" not in table else ""
        raise ConsentError(f"{where}: cannot sign: {'; '.join(problems)}{hint}")
    signature = private.sign(signed_bytes(avatar_dir, toml_dict))
    path = avatar_dir / SIGNATURE_FILE
    path.write_text(base64.b64encode(signature).decode("ascii") + "\n")
    return path
