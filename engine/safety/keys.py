"""Ed25519 signing keys for consent manifests: make, save, load, and name them.

A private key is a PKCS#8 PEM file readable only by its owner; the public key travels inside
the manifest as ``ed25519:<base64 of the 32 raw bytes>``. The fingerprint (first 16 hex digits
of its SHA-256) is what people compare when they want to know who signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import ConfigError
from engine.safety import regular_file

PREFIX = "ed25519:"
MAX_KEY_FILE_BYTES = 16 * 1024

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def generate(path: str | os.PathLike) -> str:
    """Write a new private key to ``path`` (mode 0600, never overwriting); returns the public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path}: already exists; not overwriting a key") from None
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    public = public_text(key.public_key())
    Path(f"{path}.pub").write_text(public + "\n")
    return public


def load_private(path: str | os.PathLike) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path``; ConfigError naming the file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    # A regular file of bounded size, opened without blocking: a FIFO named as the key must
    # fail at once, not wait for a writer.
    data = regular_file.read_bytes(path, MAX_KEY_FILE_BYTES,
                                   lambda reason: ConfigError(f"{path}: key file: {reason}"))
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{path}: not an unencrypted PEM private key ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 key (make one with 'persona avatar keygen')")
    return key


def public_text(public_key) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PREFIX + base64.b64encode(raw).decode("ascii")


def parse_public(text: object, where: str):
    """The Ed25519 public key written as ``ed25519:BASE64``; ConfigError naming ``where``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not isinstance(text, str) or not text.startswith(PREFIX):
        raise ConfigError(f"{where}: expected \"{PREFIX}<base64>\"")
    try:
        raw = base64.b64decode(text[len(PREFIX):], validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}: not a valid Ed25519 public key") from None


def fingerprint(public: str) -> str:
    return hashlib.sha256(public.encode("ascii")).hexdigest()[:16]
