"""An append-only audit log whose entries are chained by HMAC-SHA256, so edits are detectable.

One JSON object per line: ``seq``, ``time`` (UTC, ISO 8601), ``event``, ``names`` (short labels
such as a scene or avatar name), ``prev`` (the previous entry's hash) and ``hash``: HMAC-SHA256,
under the user's audit key, of the entry without its own hash (canonical JSON). The key
(``audit.key`` beside the user's data, 32 random bytes, mode 0600, made on first use) is what
makes the chain worth anything: without it anyone could delete a line and recompute the hashes
after it. Whoever lacks the key file cannot edit, delete, insert or reorder a line without
``persona audit verify`` naming the first line that no longer fits. Removing entries from the
*end* cannot be seen from the file alone, which is why ``verify`` prints the count and last hash
for the reader to note elsewhere.

Any number of sessions may append to one log at once: each append takes an exclusive ``flock``
on the file, reads the last entry's hash and sequence number from the file itself and appends
under the lock, so concurrent writers extend one chain instead of interleaving two.

It records what happened, never who or what was said: no frames, audio, landmarks or free text.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from engine.errors import AssetError
from engine.resources import USER_ROOT
from engine.safe_write import replace_on_success

log = logging.getLogger(__name__)

# Live sessions keep their log here unless the settings say otherwise (audit_log = "" for none).
DEFAULT_LOG = USER_ROOT / "audit.jsonl"
KEY_FILE = USER_ROOT / "audit.key"
KEY_BYTES = 32
GENESIS = "0" * 64
MAX_NAME_LENGTH = 120
MAX_LINE_BYTES = 64 * 1024  # one entry is a few hundred bytes; a longer line is not an entry
LOCK_TIMEOUT_S = 2.0  # a session waits this long for another writer, then logs and goes on
_DOMAIN = b"persona-audit-v1\n"  # so the key can never authenticate anything but an entry


def audit_log_path(setting: str | None) -> Path | None:
    """The log a session keeps for the ``audit_log`` setting: the default when it is unset,
    none when it is empty."""
    if setting is None:
        return DEFAULT_LOG
    return Path(setting) if setting else None


def entry_mac(entry: dict, key: bytes) -> str:
    """The keyed hash of ``entry`` (without its own ``hash``)."""
    body = {name: value for name, value in entry.items() if name != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, _DOMAIN + canonical.encode("ascii"), hashlib.sha256).hexdigest()


def _authentic(entry: dict, key: bytes) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters, which a forged line may hold.
    return hmac.compare_digest(entry["hash"].encode(), entry_mac(entry, key).encode())


def _load_key(key_file: Path, create: bool) -> bytes:
    """The audit key; with ``create``, a new one is made when there is none yet."""
    try:
        key = key_file.read_bytes()
    except FileNotFoundError:
        if not create:
            raise AssetError(f"audit key {key_file} is missing: a keyed log can only be checked "
                             f"or continued with the key it was written with") from None
        return _new_key(key_file)
    except OSError as error:
        raise AssetError(f"cannot read audit key {key_file}: {error.strerror}") from None
    if len(key) != KEY_BYTES:
        raise AssetError(f"audit key {key_file} is damaged ({len(key)} bytes, expected "
                         f"{KEY_BYTES})")
    return key


def _new_key(key_file: Path) -> bytes:
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # Published whole or not at all; when another session made one first, use that one.
        with replace_on_success(key_file, replace=False) as staged:
            staged.file.write(os.urandom(KEY_BYTES))
    except FileExistsError:
        return _load_key(key_file, create=False)
    log.info("made a new audit key %s", key_file)
    return key_file.read_bytes()


def _label(value: object) -> str | int | float | bool:
    """Names only: numbers and booleans stay, anything else becomes a short string."""
    if isinstance(value, (bool, int, float)):
        return value
    return str(value)[:MAX_NAME_LENGTH]


def _parse(raw: bytes) -> dict:
    """One line as an entry; ValueError saying why it is not one."""
    try:
        entry = json.loads(raw)
    except RecursionError:  # deeply nested arrays: no entry nests more than one level
        raise ValueError("nested too deeply") from None
    if not isinstance(entry, dict):
        raise ValueError("not an object")
    missing = [name for name in ("seq", "prev", "hash") if name not in entry]
    if missing:
        raise ValueError(f"no {', '.join(missing)}")
    if not isinstance(entry["seq"], int) or not isinstance(entry["hash"], str):
        raise ValueError("seq or hash of the wrong type")
    return entry


class AuditLog:
    """Append entries with ``record("scene_switch", scene="calm")``; safe to call from the loop
    and from several sessions writing one file.

    Opening checks that the key is there and that the last entry verifies with it, so a
    session never extends a damaged or foreign chain. A log that fails (edited, cut, or written
    before logs were keyed) is set aside under a new name — kept as evidence for
    ``persona audit verify`` — and a new chain starts whose first entry names it: an audit
    problem is reported loudly but never keeps a clinician from their session.
    """

    def __init__(self, path: str | os.PathLike, key_file: str | os.PathLike | None = None) -> None:
        self.path = Path(path)
        key_file = Path(key_file) if key_file is not None else KEY_FILE
        aside = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._locked() as fd:
                problem = self._unusable(fd, key_file)
                if problem is not None:
                    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
                    aside = self.path.with_name(f"{self.path.name}.{stamp}.set-aside")
                    os.rename(self.path, aside)  # under the lock: no writer extends it now
                    log.error("audit log %s %s: set aside as %s, and a new log started; check "
                              "it with 'persona audit verify %s'", self.path, problem,
                              aside.name, aside)
            self._key = _load_key(key_file, create=True)
        except OSError as error:
            raise AssetError(f"cannot open audit log {self.path}: {error.strerror}") from None
        if aside is not None:
            self.record("log_set_aside", file=aside.name)

    def _unusable(self, fd: int, key_file: Path) -> str | None:
        """Why the open log cannot be continued, or None when its last entry verifies."""
        if os.fstat(fd).st_size == 0:
            return None
        if not key_file.exists():
            return "was written without the audit key (by Persona 0.2, or the key was lost)"
        self._key = _load_key(key_file, create=False)
        try:
            self._tail(fd)
        except ValueError as error:
            return f"ends in an entry that does not verify ({error})"
        return None

    @contextmanager
    def _locked(self) -> Iterator[int]:
        """The log open for appending, under an exclusive lock shared with every other writer."""
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise OSError(errno.ETIMEDOUT, "another writer holds the lock") from None
                    time.sleep(0.005)
            yield fd  # closing the descriptor releases the lock
        finally:
            os.close(fd)

    def _tail(self, fd: int) -> tuple[int, str]:
        """(next sequence number, last hash) from the file's last entry, which must verify."""
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, GENESIS
        tail = os.pread(fd, min(size, MAX_LINE_BYTES + 1), max(0, size - MAX_LINE_BYTES - 1))
        if not tail.endswith(b"\n"):
            raise ValueError("the last line is incomplete")
        lines = tail[:-1].split(b"\n")
        if len(lines) == 1 and size > len(tail):
            raise ValueError("the last line is too long")
        last = _parse(lines[-1])
        if not _authentic(last, self._key):
            raise ValueError("its hash does not match the audit key")
        return last["seq"] + 1, last["hash"]

    def record(self, event: str, **names: object) -> None:
        """Append one entry; a failure is logged, never raised (the session goes on)."""
        try:
            with self._locked() as fd:
                seq, prev = self._tail(fd)
                entry = {"seq": seq,
                         "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                         "event": _label(event),
                         "names": {key: _label(value) for key, value in sorted(names.items())},
                         "prev": prev}
                entry["hash"] = entry_mac(entry, self._key)
                line = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
                # O_APPEND: the single write lands whole at the end of the file.
                os.write(fd, line.encode())
                os.fsync(fd)
        except (OSError, ValueError) as error:
            log.error("audit log %s: could not record %s (%s)", self.path, event, error)


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    last_hash: str
    problems: list[str]
    first_bad_line: int | None  # the first line that does not fit the chain, if any


def verify(path: str | os.PathLike, key_file: str | os.PathLike | None = None,
           max_problems: int = 20) -> Verification:
    """Check every line: an entry, its keyed hash, the link to the previous one, its sequence."""
    path = Path(path)
    if not path.is_file():
        raise AssetError(f"{path}: no such audit log")
    key = _load_key(Path(key_file) if key_file is not None else KEY_FILE, create=False)
    problems: list[str] = []
    first_bad: int | None = None
    prev, expected_seq, count = GENESIS, 0, 0
    with open(path, "rb") as file:
        number = 0
        while raw := file.readline(MAX_LINE_BYTES + 1):
            number += 1
            where = f"{path}:{number}"
            found = len(problems)
            try:
                if len(raw) > MAX_LINE_BYTES:
                    file.readline()  # skip the rest of it; the count of lines stays right
                    raise ValueError("line too long")
                entry = _parse(raw)
            except ValueError as error:
                problems.append(f"{where}: not an audit entry ({error})")
                prev, expected_seq = None, None
            else:
                if not _authentic(entry, key):
                    problems.append(f"{where}: entry was edited or written without this audit "
                                    f"key (hash does not match)")
                if prev is not None and entry["prev"] != prev:
                    problems.append(f"{where}: chain broken (an entry before it was removed, "
                                    f"edited or moved)")
                if expected_seq is not None and entry["seq"] != expected_seq:
                    problems.append(f"{where}: sequence {entry['seq']}, expected {expected_seq}")
                prev, expected_seq = entry["hash"], entry["seq"] + 1
                count += 1
            if first_bad is None and len(problems) > found:
                first_bad = number
            if len(problems) >= max_problems:
                problems.append(f"{path}: stopped after {max_problems} problems")
                break
    return Verification(not problems, count, prev or "", problems, first_bad)

