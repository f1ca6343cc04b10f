"""An append-only audit log whose entries are chained by SHA-256, so edits are detectable.

One JSON object per line: ``seq``, ``time`` (UTC, ISO 8601), ``event``, ``names`` (short labels
such as a scene or avatar name), ``prev`` (the previous entry's hash) and ``hash`` (SHA-256 of
the entry without its own hash, canonical JSON). Editing, deleting or reordering an entry breaks
the chain at that line; removing entries from the *end* cannot be seen from the file alone, which
is why ``persona audit verify`` prints the count and last hash for the reader to note elsewhere.

It records what happened, never who or what was said: no frames, audio, landmarks or free text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from engine.errors import AssetError

log = logging.getLogger(__name__)

GENESIS = "0" * 64
MAX_NAME_LENGTH = 120
MAX_TAIL_BYTES = 64 * 1024  # one entry is a few hundred bytes; read no more than this to resume


def entry_hash(entry: dict) -> str:
    body = {key: value for key, value in entry.items() if key != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _label(value: object) -> str | int | float | bool:
    """Names only: numbers and booleans stay, anything else becomes a short string."""
    if isinstance(value, (bool, int, float)):
        return value
    return str(value)[:MAX_NAME_LENGTH]


class AuditLog:
    """Append entries with ``record("scene_switch", scene="calm")``; safe to call from the loop."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._seq, self._prev = self._resume()

    def _resume(self) -> tuple[int, str]:
        """Continue the chain from the file's last entry (a new file starts at the genesis hash)."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0, GENESIS
        with open(self.path, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - MAX_TAIL_BYTES))
            lines = file.read().splitlines()
        try:
            last = json.loads(lines[-1])
            if last["hash"] != entry_hash(last):
                raise ValueError("hash does not match")
            return int(last["seq"]) + 1, str(last["hash"])
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise AssetError(f"{self.path}: last audit entry is damaged ({error}); run "
                             f"'persona audit verify {self.path}' and start a new log") from None

    def record(self, event: str, **names: object) -> None:
        """Append one entry; an I/O failure is logged, never raised (the session goes on)."""
        entry = {"seq": self._seq,
                 "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                 "event": _label(event),
                 "names": {key: _label(value) for key, value in sorted(names.items())},
                 "prev": self._prev}
        entry["hash"] = entry_hash(entry)
        line = (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            # O_APPEND makes each single write land whole at the end of the file.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            log.error("audit log %s: could not record %s (%s)", self.path, event, error)
            return
        self._seq += 1
        self._prev = entry["hash"]


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    last_hash: str
    problems: list[str]


def verify(path: str | os.PathLike, max_problems: int = 20) -> Verification:
    """Check every line: valid JSON, its own hash, the link to the previous one, and sequence."""
    path = Path(path)
    if not path.is_file():
        raise AssetError(f"{path}: no such audit log")
    problems: list[str] = []
    prev, expected_seq, count = GENESIS, 0, 0
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):
            where = f"{path}:{number}"
            try:
                entry = json.loads(raw)
                if not isinstance(entry, dict):
                    raise ValueError("not an object")
                recorded = entry["hash"]
                seq = entry["seq"]
                link = entry["prev"]
            except (ValueError, KeyError) as error:
                problems.append(f"{where}: not an audit entry ({error})")
                prev, expected_seq = None, None
                continue
            if entry_hash(entry) != recorded:
                problems.append(f"{where}: entry was edited (hash does not match its contents)")
            if prev is not None and link != prev:
                problems.append(f"{where}: chain broken (an entry before it was removed, "
                                f"edited or moved)")
            if expected_seq is not None and seq != expected_seq:
                problems.append(f"{where}: sequence {seq}, expected {expected_seq}")
            prev = recorded
            expected_seq = seq + 1 if isinstance(seq, int) else None
            count += 1
            if len(problems) >= max_problems:
                problems.append(f"{path}: stopped after {max_problems} problems")
                break
    return Verification(not problems, count, prev or "", problems)
