"""Consent manifests: synthetic passes, a real person's likeness needs a valid signed manifest."""

from __future__ import annotations

import datetime as dt
import json
import struct
from pathlib import Path

import pytest

from engine.cli import main
from engine.errors import ConfigError, ConsentError
from engine.safety import keys, strict_toml
from engine.safety.consent import check_avatar_consent, sign_avatar

TODAY = dt.date(2026, 6, 1)


def tiny_glb(document: dict) -> bytes:
    """A GLB holding only a JSON chunk: enough for the signature to read which files it uses."""
    text = json.dumps({"asset": {"version": "2.0"}, **document}).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def write_avatar(folder: Path, public_key: str, uses: str = '["therapy", "demo"]',
                 expires: str = "2027-01-31") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "face.glb").write_bytes(tiny_glb({}))
    (folder / "avatar.toml").write_text(f"""\
kind = "gltf"
model = "face.glb"

[consent]
likeness = "Jane Example"
consented_by = "Jane Example"
date = 2026-01-15
uses = {uses}
expires = {expires}
public_key = "{public_key}"
""")
    return folder


@pytest.fixture(scope="module")
def key(tmp_path_factory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("keys") / "artist.key"
    return path, keys.generate(path)


@pytest.fixture
def signed(tmp_path, key) -> Path:
    folder = write_avatar(tmp_path / "jane", key[1])
    sign_avatar(folder, key[0])
    return folder


def check(folder: Path, use: str = "therapy", now=TODAY):
    return check_avatar_consent(folder, strict_toml.load(folder / "avatar.toml"), use, now=now)


def test_synthetic_avatar_needs_no_signature(tmp_path):
    (tmp_path / "avatar.toml").write_text('model = "x.glb"\n[consent]\nlikeness = "synthetic"\n')
    result = check(tmp_path, "demo")
    assert result.synthetic and result.likeness == "synthetic"


def test_no_consent_table_is_refused(tmp_path):
    (tmp_path / "avatar.toml").write_text('model = "x.glb"\n')
    with pytest.raises(ConsentError, match=r"no \[consent\] table"):
        check(tmp_path)


def test_valid_signed_manifest_passes(signed, key):
    result = check(signed, "therapy")
    assert not result.synthetic
    assert result.consented_by == "Jane Example"
    assert result.expires == dt.date(2027, 1, 31)
    assert result.signer == keys.fingerprint(key[1])


def test_key_file_is_private_and_not_overwritten(key):
    assert key[0].stat().st_mode & 0o077 == 0
    with pytest.raises(ConfigError, match="already exists"):
        keys.generate(key[0])


def test_missing_signature_is_refused(tmp_path, key):
    folder = write_avatar(tmp_path / "jane", key[1])
    with pytest.raises(ConsentError, match="consent.sig: missing"):
        check(folder)


def test_tampered_manifest_is_refused(signed):
    manifest = signed / "avatar.toml"
    manifest.write_text(manifest.read_text().replace('"demo"]', '"demo", "privacy"]'))
    with pytest.raises(ConsentError, match="signature does not match"):
        check(signed, "privacy")


def test_changed_model_is_refused(signed):
    (signed / "face.glb").write_bytes(b"someone else's face")
    with pytest.raises(ConsentError, match="face.glb"):
        check(signed)


def test_signature_by_another_key_is_refused(signed, tmp_path):
    other = tmp_path / "other.key"
    keys.generate(other)
    manifest = signed / "avatar.toml"
    # Swap in the other public key and sign with it: valid for that key, but the original
    # signature no longer verifies against the manifest as it now reads.
    public = (tmp_path / "other.key.pub").read_text().strip()
    text = manifest.read_text()
    manifest.write_text(text[:text.index("public_key")] + f'public_key = "{public}"\n')
    with pytest.raises(ConsentError, match="signature does not match"):
        check(signed)


def test_expired_manifest_is_refused(signed):
    assert check(signed, now=dt.date(2027, 1, 31))  # the expiry day itself is still valid
    with pytest.raises(ConsentError, match="expired on 2027-01-31"):
        check(signed, now=dt.date(2027, 2, 1))


def test_use_not_covered_is_refused(signed):
    with pytest.raises(ConsentError, match="not 'privacy'"):
        check(signed, "privacy")


def test_unknown_use_is_a_config_error(signed):
    with pytest.raises(ConfigError, match="not one of"):
        check(signed, "marketing")


def test_incomplete_manifest_names_every_missing_field(tmp_path):
    (tmp_path / "avatar.toml").write_text('model = "face.glb"\n[consent]\nlikeness = "Jane"\n'
                                          'uses = ["ads"]\n')
    with pytest.raises(ConsentError) as error:
        check(tmp_path)
    message = str(error.value)
    for name in ("consented_by", "date", "expires", "public_key", "'uses' must be"):
        assert name in message


def test_sign_refuses_a_key_that_is_not_the_manifests(tmp_path, key):
    folder = write_avatar(tmp_path / "jane", key[1])
    other = tmp_path / "other.key"
    keys.generate(other)
    with pytest.raises(ConsentError, match="not the public key"):
        sign_avatar(folder, other)


def test_cli_keygen_sign_verify(tmp_path, capsys):
    key_path = tmp_path / "k.key"
    assert main(["avatar", "keygen", "-o", str(key_path)]) == 0
    public_line = [line for line in capsys.readouterr().out.splitlines()
                   if line.startswith("public_key")][0]
    public = public_line.split('"')[1]
    folder = write_avatar(tmp_path / "jane", public, expires="2099-01-01")
    assert main(["avatar", "sign", str(folder), "--key", str(key_path)]) == 0
    assert main(["avatar", "verify", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "valid for therapy" in out and "valid for demo" in out
    (folder / "face.glb").write_bytes(b"changed")
    assert main(["avatar", "verify", str(folder)]) == 1
    assert "signature does not match" in capsys.readouterr().err


def test_consent_checks_are_audited_without_names(signed, tmp_path):
    import json

    from engine.safety.audit import AuditLog

    audit = AuditLog(tmp_path / "audit.jsonl")
    toml_dict = strict_toml.load(signed / "avatar.toml")
    check_avatar_consent(signed, toml_dict, "therapy", now=TODAY, audit=audit)
    with pytest.raises(ConsentError):
        check_avatar_consent(signed, toml_dict, "privacy", now=TODAY, audit=audit)
    text = (tmp_path / "audit.jsonl").read_text()
    entries = [json.loads(line) for line in text.splitlines()]
    assert [e["names"]["outcome"] for e in entries] == ["signed", "refused"]
    assert entries[0]["names"]["avatar"] == "jane"
    assert "Jane Example" not in text


def test_bundled_avatars_are_synthetic_or_signed():
    """Every avatar shipped in avatars/ is synthetic, or has a valid manifest for the uses it
    lists (the default use, privacy, is checked for each)."""
    from engine.resources import PROJECT_ROOT

    manifests = sorted((PROJECT_ROOT / "avatars").glob("*/avatar.toml"))
    assert manifests, "the project ships avatars"
    for manifest in manifests:
        toml_dict = strict_toml.load(manifest)
        listed = toml_dict.get("consent", {}).get("uses", [])
        for use in {"privacy", *listed}:
            check_avatar_consent(manifest.parent, toml_dict, use)
