"""The command line's contract: exit 0 on success, 1 with one line naming the problem."""

from __future__ import annotations

import subprocess
import sys


def persona(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_help_lists_commands():
    result = persona("--help")
    assert result.returncode == 0
    for command in ("run", "demo", "render", "bench"):
        assert command in result.stdout


def test_explain_prints_the_stage_order():
    result = persona("run", "--explain")
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("1. controls") and lines[-2].startswith("8. output")
    assert "(wait)" in lines[-1]


def test_unknown_benchmark_is_one_line_exit_1():
    result = persona("bench", "no-such-bench")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "no-such-bench" in result.stderr and "Traceback" not in result.stderr


def test_bad_settings_file_names_the_file(tmp_path):
    bad = tmp_path / "settings.toml"
    bad.write_text("fps = [\n")
    result = persona("run", "--config", str(bad), "--seconds", "0.1")
    assert result.returncode == 1
    assert str(bad) in result.stderr and "Traceback" not in result.stderr


def test_bad_script_names_the_expression(tmp_path):
    result = persona("render", "--script", "smile,grimace", "-o", str(tmp_path / "x.png"))
    assert result.returncode == 1
    assert "grimace" in result.stderr and "Traceback" not in result.stderr
