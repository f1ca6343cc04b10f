"""A quiet terminal: repeated warnings become counts, C libraries' stderr goes through the same
filter, and ``persona run`` prints a line only for what a clinician should know (the stats JSON
only with ``--stats``)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest

from engine.logs import RepeatFilter, native_record

UNDERRUN = "ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def terminal():
    """A logger whose records go through a RepeatFilter on a fake clock into a string."""
    clock = FakeClock()
    repeats = RepeatFilter(window_s=60.0, burst=3, clock=clock)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(repeats)
    logger = logging.getLogger("tests.terminal")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, repeats, stream, clock
    logger.removeHandler(handler)


def test_repeats_from_one_place_come_down_to_a_burst_then_one_a_minute(terminal):
    logger, repeats, stream, clock = terminal
    def underrun(n: int) -> None:  # one place in the code
        logger.warning("underrun at sample %d", n)

    for n in range(40):  # one second of underruns
        clock.now = n / 40
        underrun(n)
    assert stream.getvalue().splitlines() == [
        "underrun at sample 0", "underrun at sample 1", "underrun at sample 2"]
    assert repeats.suppressed == 37
    clock.now = 61.0
    underrun(99)
    assert stream.getvalue().splitlines()[-1] == (
        "underrun at sample 99 (and 37 more in the last 61 s)")
    assert repeats.most_repeated() == (("underrun at sample 0", 41),)


def test_other_places_and_lower_levels_pass(terminal):
    logger, repeats, stream, _ = terminal
    for _ in range(5):
        logger.info("mute on")  # a clinician's own toggles repeat by nature
    for _ in range(5):
        logger.warning("REAL VOICE: the morph is off")
    logger.warning("another place")
    lines = stream.getvalue().splitlines()
    assert lines.count("mute on") == 5
    assert lines.count("REAL VOICE: the morph is off") == 3 and lines[-1] == "another place"


def test_native_lines_are_sorted_into_banners_and_warnings():
    assert native_record("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")[0] == (
        logging.DEBUG)
    assert native_record("WARNING: All log messages before absl::InitializeLog() is called are "
                         "written to STDERR")[0] == logging.DEBUG
    level, key, text = native_record(
        "W0000 00:00:1796118753.907839    1403 inference_feedback_manager.cc:114] Feedback "
        "manager requires a model with a single signature inference.")
    assert level == logging.INFO and key == "inference_feedback_manager.cc:114"
    assert text.startswith("Feedback manager")
    assert native_record("E0000 00:00:1.5    7 gl_context.cc:9] no context")[0] == logging.WARNING
    level, key, _ = native_record(UNDERRUN)
    assert level == logging.WARNING
    assert native_record(UNDERRUN.replace("8570", "8571"))[1] == key  # one warning, any line


def test_what_c_libraries_print_to_fd_2_is_filtered_too():
    # As ALSA and MediaPipe print: straight to file descriptor 2, past Python.
    script = f"""
import logging, os, sys
from engine import logs
logs.configure(logging.WARNING, native=True)
os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
for _ in range(200):
    os.write(2, b"{UNDERRUN}\\n")
print("python's own stderr", file=sys.stderr)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert "python's own stderr" in lines
    assert lines.count(f"WARNING native: {UNDERRUN}") == 3
    assert len(lines) == 4, lines


def persona_run(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PERSONA_AUDIT_LOG": str(tmp_path / f"audit{len(extra)}.jsonl")}
    return subprocess.run([sys.executable, "-m", "engine.cli", "run", "--source", "synthetic",
                           "--sink", "null", *extra], capture_output=True, text=True,
                          timeout=300, env=env)


def test_persona_run_is_quiet_and_prints_stats_only_when_asked(tmp_path):
    quiet = persona_run(tmp_path, "--seconds", "3")
    assert quiet.returncode == 0, quiet.stderr
    lines = quiet.stderr.splitlines()
    # A slow machine may say that a stage cannot keep up; nothing else belongs here.
    assert len(lines) <= 3, lines
    assert not any(line.startswith(("INFO: ", "W0000", "I0000", "WARNING: All log messages"))
                   for line in lines), lines
    assert "{" not in quiet.stdout

    asked = persona_run(tmp_path, "--seconds", "1", "--stats")
    assert asked.returncode == 0, asked.stderr
    stats = json.loads(asked.stdout.splitlines()[-1])
    for key in ("longest_stall_ms", "dropped_frames", "over_budget_s", "slow_stage",
                "on_time_pct"):
        assert key in stats
    assert stats["frames"] == 30.0
