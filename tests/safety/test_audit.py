"""Audit log: append-only, chained by a keyed hash; edits, deletions and reordering are detected
even when the hashes are recomputed, and concurrent sessions extend one chain."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import threading

import pytest

from engine.cli import main
from engine.errors import AssetError
from engine.safety import audit
from engine.safety.audit import AuditLog, entry_mac, verify


@pytest.fixture(autouse=True)
def user_data(tmp_path, monkeypatch):
    """The user's data folder (audit key, default log) in tmp_path, never the real one."""
    folder = tmp_path / "share"
    monkeypatch.setattr(audit, "KEY_FILE", folder / "audit.key")
    monkeypatch.setattr(audit, "DEFAULT_LOG", folder / "audit.jsonl")
    return folder


def make_log(path, count=5):
    log = AuditLog(path)
    for i in range(count):
        log.record("scene_switch", scene=f"scene{i}")
    return path


def lines_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_lines(path, entries: list[dict]) -> None:
    path.write_text("".join(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n"
                            for e in entries))


def rechain(entries: list[dict], mac) -> list[dict]:
    """What a forger does after deleting a line: renumber and recompute every hash."""
    prev = audit.GENESIS
    for seq, entry in enumerate(entries):
        entry.update(seq=seq, prev=prev)
        entry["hash"] = prev = mac(entry)
    return entries


def test_entries_hold_names_and_times_only(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.record("avatar_load", avatar="robot", scene="calm")
    log.record("badge_off")
    entries = lines_of(path)
    assert [e["event"] for e in entries] == ["avatar_load", "badge_off"]
    assert entries[0]["names"] == {"avatar": "robot", "scene": "calm"}
    assert set(entries[0]) == {"seq", "time", "event", "names", "prev", "hash"}
    assert entries[1]["prev"] == entries[0]["hash"]
    assert verify(path).ok


def test_the_key_is_made_once_private_and_random(tmp_path, user_data):
    make_log(tmp_path / "a.jsonl", 1)
    key_file = user_data / "audit.key"
    key = key_file.read_bytes()
    assert len(key) == 32 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    make_log(tmp_path / "b.jsonl", 1)
    assert key_file.read_bytes() == key  # one key for the user's logs, not one per log
    assert sorted(p.name for p in user_data.iterdir()) == ["audit.key"]  # no temp left


def test_reopening_continues_the_chain(tmp_path):
    path = make_log(tmp_path / "a.jsonl", 3)
    AuditLog(path).record("consent_check", avatar="robot", result="synthetic")
    result = verify(path)
    assert result.ok and result.entries == 4


def test_long_values_are_cut_to_a_label(tmp_path):
    path = tmp_path / "a.jsonl"
    AuditLog(path).record("scene_switch", scene="x" * 5000)
    assert len(json.loads(path.read_text())["names"]["scene"]) == 120


@pytest.mark.parametrize("tamper, first_bad", [("edit", 3), ("delete", 3), ("swap", 2),
                                                ("garbage", 4)])
def test_tampering_is_detected_at_the_first_bad_line(tmp_path, tamper, first_bad):
    path = make_log(tmp_path / "a.jsonl")
    lines = path.read_text().splitlines()
    if tamper == "edit":
        lines[2] = lines[2].replace("scene2", "sceneX")
    elif tamper == "delete":
        del lines[2]
    elif tamper == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    else:
        lines[3] = "{not json"
    path.write_text("\n".join(lines) + "\n")
    result = verify(path)
    assert not result.ok and result.first_bad_line == first_bad
    assert result.problems[0].startswith(f"{path}:{first_bad}:")


def test_a_deleted_line_with_recomputed_hashes_is_detected(tmp_path):
    # The unkeyed SHA-256 chain verified this forgery as intact.
    path = make_log(tmp_path / "a.jsonl")
    entries = lines_of(path)
    del entries[2]

    def sha256(entry):
        body = {k: v for k, v in entry.items() if k != "hash"}
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"))
                              .encode()).hexdigest()

    write_lines(path, rechain(entries, sha256))
    result = verify(path)
    assert not result.ok and result.first_bad_line == 1
    assert "written without this audit key" in result.problems[0]


def test_a_forgery_with_another_key_is_detected_and_with_the_key_is_not(tmp_path):
    path = make_log(tmp_path / "a.jsonl")
    entries = lines_of(path)
    del entries[1]
    write_lines(path, rechain(entries, lambda e: entry_mac(e, os.urandom(32))))
    assert verify(path).first_bad_line == 1
    # What the key proves: whoever holds it can rewrite the log (docs/safety.md).
    key = audit.KEY_FILE.read_bytes()
    write_lines(path, rechain(entries, lambda e: entry_mac(e, key)))
    assert verify(path).ok


def set_aside(path):
    """The one copy of ``path`` that opening it set aside."""
    (found,) = path.parent.glob(f"{path.name}.*.set-aside")
    return found


def test_a_damaged_log_is_never_extended_but_set_aside(tmp_path):
    path = make_log(tmp_path / "a.jsonl", 2)
    with open(path, "a") as file:
        file.write('{"seq": 9}\n')
    AuditLog(path).record("scene_switch", scene="calm")  # the session goes on
    old = set_aside(path)
    assert not verify(old).ok and verify(old).first_bad_line == 3  # kept as evidence
    assert verify(path).ok and [e["event"] for e in lines_of(path)] == ["log_set_aside",
                                                                         "scene_switch"]
    assert lines_of(path)[0]["names"] == {"file": old.name}


def test_a_log_without_its_key_is_not_continued(tmp_path, capsys):
    path = make_log(tmp_path / "a.jsonl", 2)
    audit.KEY_FILE.unlink()  # a Persona 0.2 log, written before logs were keyed, or a lost key
    AuditLog(path)
    old = set_aside(path)
    assert main(["audit", "verify", str(old)]) == 1  # the new key does not vouch for it
    assert "TAMPERED" in capsys.readouterr().out
    assert verify(path).ok  # a new chain under a new key


@pytest.mark.parametrize("line, why", [
    ("[" * 30_000 + "]" * 30_000, "nested too deeply"),  # under the line limit: parser depth
    ('{"seq": 2, "prev": "0", "hash": "\u00e9"}', "hash does not match"),
    ('{"seq": 2, "prev": "0", "hash": "' + "0" * 100_000 + '"}', "too long"),
], ids=["nested", "non-ASCII hash", "long line"])
def test_hostile_lines_are_reported_not_tracebacks(tmp_path, capsys, line, why):
    path = make_log(tmp_path / "a.jsonl", 2)
    with open(path, "a") as file:
        file.write(line + "\n")
    assert main(["audit", "verify", str(path)]) == 1
    out = capsys.readouterr()
    assert out.out.startswith(f"{path}:3: ") and why in out.out.splitlines()[0]
    assert "Traceback" not in out.err
    AuditLog(path)
    assert not verify(set_aside(path)).ok and verify(path).ok


APPENDER = """
import sys
from engine.safety.audit import AuditLog
log = AuditLog(sys.argv[1], key_file=sys.argv[2])
for i in range(int(sys.argv[3])):
    log.record("scene_switch", scene=f"{sys.argv[4]}{i}")
"""


def test_concurrent_sessions_extend_one_chain(tmp_path):
    # Two processes and two threads of this one, each with its own AuditLog on the same file.
    path, count = tmp_path / "shared.jsonl", 60
    AuditLog(path)  # makes the key, so the writers below share it
    writers = [subprocess.Popen([sys.executable, "-c", APPENDER, str(path), str(audit.KEY_FILE),
                                 str(count), name]) for name in ("p", "q")]
    threads = [threading.Thread(target=make_log_named, args=(path, count, name))
               for name in ("t", "u")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]

    result = verify(path)
    assert result.ok, result.problems[:3]
    assert result.entries == 4 * count
    scenes = {e["names"]["scene"] for e in lines_of(path)}
    assert scenes == {f"{name}{i}" for name in "pqtu" for i in range(count)}


def make_log_named(path, count, name) -> None:
    log = AuditLog(path)
    for i in range(count):
        log.record("scene_switch", scene=f"{name}{i}")


def test_cli_audit_verify(tmp_path, capsys):
    path = make_log(tmp_path / "a.jsonl")
    assert main(["audit", "verify", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["ok"] and report["entries"] == 5 and report["first_bad_line"] is None
    path.write_text(path.read_text().replace("scene3", "scene9"))
    assert main(["audit", "verify", str(path)]) == 1
    assert "TAMPERED from line 4" in capsys.readouterr().out


def test_cli_audit_verify_with_the_key_from_elsewhere(tmp_path, capsys):
    path = make_log(tmp_path / "a.jsonl")
    moved = tmp_path / "client.key"
    audit.KEY_FILE.rename(moved)
    assert main(["audit", "verify", str(path), "--key", str(moved)]) == 0
    assert "intact; 5 entries" in capsys.readouterr().out
