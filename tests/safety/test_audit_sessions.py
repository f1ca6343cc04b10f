"""The audit log of real sessions: `persona run` writes the log that `persona audit verify`
checks with no argument, and the consent check of every avatar a session loads is in it."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.safety import audit


@pytest.fixture
def user_data(tmp_path, monkeypatch):
    """The user's data folder (audit key, default log) in tmp_path; no settings file."""
    folder = tmp_path / "share"
    monkeypatch.setattr(audit, "KEY_FILE", folder / "audit.key")
    monkeypatch.setattr(audit, "DEFAULT_LOG", folder / "audit.jsonl")
    config = tmp_path / "settings.toml"
    config.write_text("")
    monkeypatch.setenv("PERSONA_CONFIG", str(config))
    monkeypatch.delenv("PERSONA_AUDIT_LOG", raising=False)
    return folder


def events(path) -> list[tuple[str, dict]]:
    return [(e["event"], e["names"]) for e in map(json.loads, path.read_text().splitlines())]


def test_verify_without_a_path_checks_the_log_run_writes(user_data, capsys):
    assert main(["run", "--source", "synthetic", "--sink", "null", "--size", "128x96",
                 "--seconds", "0.1"]) == 0
    log = user_data / "audit.jsonl"
    assert ("consent_check", {"avatar": "default", "outcome": "synthetic", "signer": "-",
                              "use": "privacy"}) in events(log)
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith(f"{log}: intact; {len(events(log))} entries")


def test_verify_without_a_path_follows_the_setting(user_data, tmp_path, monkeypatch, capsys):
    log = tmp_path / "clinic.jsonl"
    audit.AuditLog(log).record("scene_switch", scene="calm")
    monkeypatch.setenv("PERSONA_AUDIT_LOG", str(log))
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith(f"{log}: intact; 1 entries")
    monkeypatch.setenv("PERSONA_AUDIT_LOG", "")
    assert main(["audit", "verify"]) == 1
    assert "turn audit logging off" in capsys.readouterr().err


def test_a_render_logs_its_consent_checks(user_data, tmp_path, monkeypatch):
    log = tmp_path / "render.jsonl"
    monkeypatch.setenv("PERSONA_AUDIT_LOG", str(log))
    assert main(["render", "--size", "128x96", "--script", "smile@0.1",
                 "-o", str(tmp_path / "still.png")]) == 0
    checks = [names for event, names in events(log) if event == "consent_check"]
    assert {"avatar": "default", "outcome": "synthetic", "signer": "-", "use": "demo"} in checks
    assert audit.verify(log).ok
