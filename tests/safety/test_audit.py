"""Audit log: append-only, hash-chained; edits, deletions and reordering are detected."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.errors import AssetError
from engine.safety.audit import AuditLog, verify


def make_log(path, count=5):
    log = AuditLog(path)
    for i in range(count):
        log.record("scene_switch", scene=f"scene{i}")
    return path


def test_entries_hold_names_and_times_only(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.record("avatar_load", avatar="robot", scene="calm")
    log.record("badge_off")
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["event"] for e in entries] == ["avatar_load", "badge_off"]
    assert entries[0]["names"] == {"avatar": "robot", "scene": "calm"}
    assert set(entries[0]) == {"seq", "time", "event", "names", "prev", "hash"}
    assert entries[1]["prev"] == entries[0]["hash"]
    assert verify(path).ok


def test_reopening_continues_the_chain(tmp_path):
    path = make_log(tmp_path / "a.jsonl", 3)
    AuditLog(path).record("consent_check", avatar="robot", result="synthetic")
    result = verify(path)
    assert result.ok and result.entries == 4


def test_long_values_are_cut_to_a_label(tmp_path):
    path = tmp_path / "a.jsonl"
    AuditLog(path).record("scene_switch", scene="x" * 5000)
    assert len(json.loads(path.read_text())["names"]["scene"]) == 120


@pytest.mark.parametrize("tamper", ["edit", "delete", "swap", "garbage"])
def test_tampering_is_detected(tmp_path, tamper):
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
    assert not result.ok
    assert any(f"a.jsonl:{n}" in p for p in result.problems for n in (2, 3, 4))


def test_edit_with_recomputed_hash_still_breaks_the_chain(tmp_path):
    from engine.safety.audit import entry_hash

    path = make_log(tmp_path / "a.jsonl")
    lines = path.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["names"]["scene"] = "forged"
    entry["hash"] = entry_hash(entry)
    lines[1] = json.dumps(entry)
    path.write_text("\n".join(lines) + "\n")
    assert any("chain broken" in p for p in verify(path).problems)


def test_damaged_tail_refuses_to_append(tmp_path):
    path = make_log(tmp_path / "a.jsonl", 2)
    with open(path, "a") as file:
        file.write('{"seq": 9}\n')
    with pytest.raises(AssetError, match="damaged"):
        AuditLog(path)


def test_cli_audit_verify(tmp_path, capsys):
    path = make_log(tmp_path / "a.jsonl")
    assert main(["audit", "verify", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["ok"] and report["entries"] == 5
    path.write_text(path.read_text().replace("scene3", "scene9"))
    assert main(["audit", "verify", str(path)]) == 1
    assert "TAMPERED" in capsys.readouterr().out
