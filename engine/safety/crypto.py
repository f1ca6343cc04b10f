"""Encrypted files for recordings and track files: AES-256-GCM in authenticated chunks.

Layout (all integers big-endian)::

    header   MAGIC(8) version(1) kdf(1) log2_n(1) r(1) p(1) salt(16) file_id(16) check(16)
    chunk*   length(4) ciphertext(length)      -- plaintext <= CHUNK_BYTES, plus a 16-byte tag

The stream key is derived from the passphrase with scrypt (salt and cost in the header), then a
per-file key with HKDF over a random ``file_id``, so reusing one passphrase-derived key for many
files never reuses a (key, nonce) pair. Chunk ``i`` is sealed with nonce ``i`` (96-bit counter)
and associated data ``header || final flag``: reordering, dropping or splicing chunks from
another file fails authentication, and a file that ends without a chunk flagged final was cut
short. ``check`` lets the reader tell a wrong passphrase from a damaged file.

An interrupted recording therefore decrypts up to its last complete chunk; ``flush()`` seals what
is buffered as a chunk, so a writer that flushes after each MP4 fragment loses at most the
fragment in progress.

Cut short or tampered with? A crash leaves a prefix of a valid file: it ends at a chunk boundary,
inside a length field, or inside the body of the chunk being written, whose length field is
genuine and so at most one chunk (``CHUNK_BYTES`` plus the tag). A length outside that bound is
therefore damage, never a cut. A length within the bound that runs past the end of the file
reads as a cut: editing one costs the reader at most that last chunk, no more than cutting the
file would, and no reader can tell a cut made on purpose from a crash.
"""

from __future__ import annotations

import hmac
import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.errors import AssetError
from engine.safe_write import create_new, replace_on_success

MAGIC = b"PERSONA\x1a"
VERSION = 1
KDF_SCRYPT, KDF_RAW = 1, 0
CHUNK_BYTES = 64 * 1024  # most plaintext in a chunk: writers never seal more, readers refuse more
TAG_BYTES = 16
SALT_BYTES = FILE_ID_BYTES = CHECK_BYTES = 16
HEADER = struct.Struct(">8sBBBBB16s16s16s")
LENGTH = struct.Struct(">I")
# ~32 MiB, ~0.1 s: the cost paid once per file. Readers accept only these values, so a forged
# header cannot make a failing decrypt take seconds and gigabytes.
SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P = 15, 8, 1


class DecryptionError(AssetError):
    """Wrong passphrase, or the file was damaged or tampered with."""


@dataclass(frozen=True)
class StreamKey:
    """A 32-byte key and how it was derived (stored in each file's header)."""

    key: bytes
    salt: bytes = bytes(SALT_BYTES)
    kdf: int = KDF_RAW
    log2_n: int = 0
    r: int = 0
    p: int = 0

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ValueError("AES-256 needs a 32-byte key")

    def __repr__(self) -> str:  # never print key material into a log
        return f"StreamKey(kdf={self.kdf}, log2_n={self.log2_n})"


def key_from_passphrase(passphrase: str, salt: bytes | None = None) -> StreamKey:
    """scrypt(passphrase, salt) at the one cost Persona uses; a fresh random salt when none is
    given."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    if not passphrase:
        raise ValueError("empty passphrase")
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    if len(salt) != SALT_BYTES:
        raise ValueError(f"salt must be {SALT_BYTES} bytes")
    key = Scrypt(salt=salt, length=32, n=1 << SCRYPT_LOG2_N, r=SCRYPT_R,
                 p=SCRYPT_P).derive(passphrase.encode())
    return StreamKey(key, salt, KDF_SCRYPT, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)


def _file_keys(key: bytes, file_id: bytes) -> tuple[bytes, bytes]:
    """(chunk key, passphrase check) for one file."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    material = HKDF(hashes.SHA256(), 32 + CHECK_BYTES, salt=file_id,
                    info=b"persona-stream-v1").derive(key)
    return material[:32], material[32:]


def _nonce(counter: int) -> bytes:
    return counter.to_bytes(12, "big")


class EncryptedWriter(io.RawIOBase):
    """A new write-only, non-seekable binary file that encrypts everything written to it.

    It streams to ``path`` itself, so a crash keeps every sealed chunk; ``path`` must not exist
    yet (``engine.safe_write.create_new``): an earlier file is never overwritten and a link
    planted at the name is never followed.
    """

    def __init__(self, path: str | os.PathLike, key: StreamKey,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not 1 <= chunk_bytes <= CHUNK_BYTES:
            raise ValueError(f"chunk size must be 1..{CHUNK_BYTES} bytes")
        super().__init__()
        self.path = Path(path)
        self._chunk_bytes = chunk_bytes
        file_id = os.urandom(FILE_ID_BYTES)
        chunk_key, check = _file_keys(key.key, file_id)
        self._aead = AESGCM(chunk_key)
        self._header = HEADER.pack(MAGIC, VERSION, key.kdf, key.log2_n, key.r, key.p,
                                   key.salt, file_id, check)
        self._file = create_new(self.path)
        self._file.write(self._header)
        self._buffer = bytearray()
        self._counter = 0
        self._position = 0

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._position

    def write(self, data) -> int:
        if self.closed:
            raise ValueError("write to a closed EncryptedWriter")
        view = memoryview(data).cast("B")
        self._buffer += view
        self._position += len(view)
        while len(self._buffer) >= self._chunk_bytes:
            self._seal(bytes(self._buffer[:self._chunk_bytes]), final=False)
            del self._buffer[:self._chunk_bytes]
        return len(view)

    def flush(self) -> None:
        """Seal what is buffered and push it to the OS, so a crash loses nothing written so far."""
        if self.closed or self._file.closed:  # io.IOBase.close() calls flush() once more
            return
        if self._buffer:
            self._seal(bytes(self._buffer), final=False)
            self._buffer.clear()
        self._file.flush()

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._seal(bytes(self._buffer), final=True)
            self._buffer.clear()
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()
            super().close()

    def _seal(self, plain: bytes, final: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._counter), plain, self._header + bytes([final]))
        self._file.write(LENGTH.pack(len(sealed)) + sealed)
        self._counter += 1


@dataclass
class DecryptResult:
    bytes_out: int
    chunks: int
    complete: bool  # False: the file was cut short; everything up to the last full chunk was kept


def read_header(file: BinaryIO, path: Path, passphrase: str | None,
                key: StreamKey | None) -> tuple[bytes, bytes]:
    """Check the header at the start of ``file``; returns it (the chunks' associated data) and
    the chunk key. Raises DecryptionError for a foreign, damaged or forged header and for a
    wrong passphrase."""
    raw = file.read(HEADER.size)
    if len(raw) < HEADER.size:
        raise DecryptionError(f"{path}: too short to be a Persona encrypted file")
    magic, version, kdf, log2_n, r, p, salt, file_id, check = HEADER.unpack(raw)
    if magic != MAGIC:
        raise DecryptionError(f"{path}: not a Persona encrypted file")
    if version != VERSION:
        raise DecryptionError(f"{path}: format version {version} is not supported")
    if key is None:
        if kdf != KDF_SCRYPT:
            raise DecryptionError(f"{path}: encrypted with a raw key, not a passphrase")
        if (log2_n, r, p) != (SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P):
            raise DecryptionError(f"{path}: key-derivation parameters (scrypt N=2^{log2_n} "
                                  f"r={r} p={p}) are not the ones Persona writes: damaged or "
                                  f"tampered with")
        key = key_from_passphrase(passphrase or "", salt)
    chunk_key, expected = _file_keys(key.key, file_id)
    if not hmac.compare_digest(check, expected):
        raise DecryptionError(f"{path}: wrong passphrase")
    return raw, chunk_key


def decrypt_chunks(path: str | os.PathLike, passphrase: str | None = None,
                   key: StreamKey | None = None, status: DecryptResult | None = None
                   ) -> Iterator[bytes]:
    """Yield the plaintext chunk by chunk; ``status.complete`` says whether the end was seen."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    path = Path(path)
    status = status if status is not None else DecryptResult(0, 0, False)
    max_sealed = CHUNK_BYTES + TAG_BYTES
    with open(path, "rb") as file:
        header, chunk_key = read_header(file, path, passphrase, key)
        aead = AESGCM(chunk_key)
        counter = 0
        while True:
            prefix = file.read(LENGTH.size)
            if len(prefix) < LENGTH.size:
                return  # cut at a chunk boundary or inside a length: no final chunk
            (length,) = LENGTH.unpack(prefix)
            # No writer seals more than one chunk, so a longer length is damage, not a cut.
            if not TAG_BYTES <= length <= max_sealed:
                raise DecryptionError(f"{path}: chunk {counter} has an impossible length "
                                      f"({length} bytes; damaged or tampered with)")
            sealed = file.read(length)
            if len(sealed) < length:
                return  # the last chunk was being written when the recording stopped
            for final in (False, True):
                try:
                    plain = aead.decrypt(_nonce(counter), sealed, header + bytes([final]))
                    break
                except InvalidTag:
                    continue
            else:
                raise DecryptionError(f"{path}: chunk {counter} failed authentication "
                                      f"(damaged or tampered with)")
            counter += 1
            status.chunks = counter
            status.bytes_out += len(plain)
            yield plain
            if final:
                if file.read(1):
                    raise DecryptionError(f"{path}: data after the final chunk")
                status.complete = True
                return


def decrypt_file(source: str | os.PathLike, target: str | os.PathLike,
                 passphrase: str | None = None, key: StreamKey | None = None) -> DecryptResult:
    """Decrypt to ``target`` (mode 0600), which appears or is replaced only once everything
    readable was decrypted and authenticated; on failure nothing is written."""
    status = DecryptResult(0, 0, False)
    with replace_on_success(target) as staged:
        for plain in decrypt_chunks(source, passphrase, key, status):
            staged.file.write(plain)
    return status
