"""``persona avatar keygen|sign|verify|pack|import``, ``watermark verify``, ``audit verify``,
``decrypt``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from engine.errors import ConfigError

log = logging.getLogger(__name__)

EXIT_PARTIAL = 2  # decrypt: the file was cut short; everything up to the last full chunk restored


def register(commands) -> None:
    parser = commands.add("keygen", _keygen, group="avatar",
                          help="make an Ed25519 key for signing consent manifests")
    parser.add_argument("-o", "--output", default="persona-signing.key",
                        help="private key file (the public key goes to FILE.pub)")

    parser = commands.add("sign", _sign, group="avatar",
                          help="sign an avatar's [consent] manifest and model file")
    parser.add_argument("dir", type=Path, help="avatar folder (holds avatar.toml)")
    parser.add_argument("--key", required=True, type=Path, help="private key from keygen")

    parser = commands.add("verify", _verify, group="avatar",
                          help="check an avatar's consent manifest and signature")
    parser.add_argument("dir", type=Path, help="avatar folder (holds avatar.toml)")
    parser.add_argument("--use", default=None, choices=("therapy", "privacy", "demo"),
                        help="check this use only (default: each use the manifest lists)")

    parser = commands.add("pack", _pack, group="avatar", help="zip an avatar folder to share it")
    parser.add_argument("dir", type=Path, help="avatar folder (holds avatar.toml)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="the .zip to write")

    parser = commands.add("import", _import, group="avatar",
                          help="unpack an avatar pack after checking it is safe")
    parser.add_argument("pack", type=Path, help="the .zip made by 'persona avatar pack'")
    parser.add_argument("--into", type=Path, default=None,
                        help="folder to unpack into (default: the first avatars folder on the "
                             "search path)")

    parser = commands.add("verify", _watermark_verify, group="watermark",
                          help="say whether an image or video carries Persona's watermark")
    parser.add_argument("file", type=Path, help="image or video file")
    parser.add_argument("--frames", type=int, default=240, help="video frames to read at most")
    parser.add_argument("--json", action="store_true", help="print one JSON object")

    parser = commands.add("verify", _audit_verify, group="audit",
                          help="check an audit log's hash chain for edits, deletions, reordering")
    parser.add_argument("path", nargs="?", type=Path,
                        help="audit log (default: the one sessions write, audit_log from the "
                             "settings or ~/.local/share/persona/audit.jsonl)")
    parser.add_argument("--config", help="settings TOML (default ~/.config/persona/settings.toml)")
    parser.add_argument("--key", type=Path, default=None,
                        help="the audit key the log was written with (default "
                             "~/.local/share/persona/audit.key)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")

    parser = commands.add("decrypt", _decrypt,
                          help="decrypt a recording or track file (exit 2: cut short, "
                               "restored up to its last complete chunk)")
    parser.add_argument("input", type=Path, help="encrypted file")
    parser.add_argument("output", type=Path, help="where to write the plain file")
    parser.add_argument("--passphrase-env", metavar="VAR",
                        help="read the passphrase from this environment variable "
                             "(default: ask on the terminal)")


def _keygen(args: argparse.Namespace) -> int:
    from engine.safety import keys

    public = keys.generate(args.output)
    print(f"private key: {args.output} (keep it secret)")
    print(f"public key:  {args.output}.pub  fingerprint {keys.fingerprint(public)}")
    print("add to the [consent] table of each avatar you sign:")
    print(f'public_key = "{public}"')
    return 0


def _sign(args: argparse.Namespace) -> int:
    from engine.safety.consent import sign_avatar

    path = sign_avatar(args.dir, args.key)
    print(f"signed: {path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from engine.safety import strict_toml
    from engine.safety.consent import USES, check_avatar_consent

    toml_dict = strict_toml.load(args.dir / "avatar.toml")
    table = toml_dict.get("consent") if isinstance(toml_dict.get("consent"), dict) else {}
    listed = table.get("uses") if isinstance(table.get("uses"), list) else []
    uses = [args.use] if args.use else [use for use in USES if use in listed] or ["privacy"]
    for use in uses:
        result = check_avatar_consent(args.dir, toml_dict, use)
        if result.synthetic:
            print(f"{args.dir}: synthetic likeness; no consent needed")
            return 0
        print(f"{args.dir}: valid for {use}: likeness {result.likeness}, consent by "
              f"{result.consented_by}, expires {result.expires}, signed by key {result.signer}")
    return 0


def _pack(args: argparse.Namespace) -> int:
    from engine.safety.packs import pack

    print(f"wrote {pack(args.dir, args.output)}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from engine.resources import SearchPath
    from engine.safety.packs import import_pack

    into = args.into or SearchPath().roots[0] / "avatars"
    print(f"imported {import_pack(args.pack, into)}")
    return 0


def _watermark_verify(args: argparse.Namespace) -> int:
    from engine.safety.watermark import detect_file

    result = detect_file(args.file, max_frames=max(1, args.frames))
    if args.json:
        print(json.dumps(result.to_dict()))
    elif result.detected:
        session = f"session {result.session:08x}" if result.session is not None \
            else "session unreadable"
        print(f"{args.file}: Persona watermark found ({session}, confidence "
              f"{result.confidence:.2f}, {result.frames} frames)")
    else:
        print(f"{args.file}: no Persona watermark found (score {result.score:.1f}, "
              f"{result.frames} frames)")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from engine.config import Settings, settings_path
    from engine.safety.audit import audit_log_path, verify

    path = args.path
    if path is None:
        # The same rule as the sessions that write it, so the log they keep is the one checked.
        path = audit_log_path(Settings.load(args.config or settings_path()).audit_log)
        if path is None:
            raise ConfigError('no audit log given, and the settings turn audit logging off '
                              '(audit_log = ""); name the log to check')
    result = verify(path, key_file=args.key)
    if args.json:
        print(json.dumps({"ok": result.ok, "entries": result.entries,
                          "last_hash": result.last_hash, "first_bad_line": result.first_bad_line,
                          "problems": result.problems}))
    else:
        for problem in result.problems:
            print(problem)
        state = "intact" if result.ok else f"TAMPERED from line {result.first_bad_line}"
        print(f"{path}: {state}; {result.entries} entries; last hash {result.last_hash}")
    return 0 if result.ok else 1


def _passphrase(variable: str | None) -> str:
    if variable:
        value = os.environ.get(variable)
        if not value:
            raise ConfigError(f"environment variable {variable} is not set or empty")
        return value
    if not sys.stdin.isatty():
        raise ConfigError("no terminal to ask for the passphrase; use --passphrase-env VAR")
    import getpass

    return getpass.getpass("passphrase: ")


def _decrypt(args: argparse.Namespace) -> int:
    from engine.safe_write import output_path
    from engine.safety.crypto import decrypt_file

    if not args.input.is_file():
        raise ConfigError(f"{args.input}: no such file")
    output_path(args.output)  # before asking for the passphrase: a typo should not cost one
    result = decrypt_file(args.input, args.output, passphrase=_passphrase(args.passphrase_env))
    if not result.complete:
        print(f"warning: {args.input} was cut short (recording interrupted?); restored "
              f"{result.bytes_out} bytes in {result.chunks} complete chunks to {args.output}",
              file=sys.stderr)
        return EXIT_PARTIAL
    print(f"decrypted {args.output} ({result.bytes_out} bytes)")
    return 0
