"""Every file Persona writes: renders are complete or not there (a killed or failing render keeps
the previous file), live recordings stream to a fresh name and never overwrite or follow a link,
and an output that cannot be a file is refused in one line."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from engine.cli import main
from engine.errors import ConfigError
from engine.output.storage import PASSPHRASE_ENV
from tests.io.sessions import run_session, session_settings

PREVIOUS = b"previous good render"


@pytest.fixture
def no_settings(tmp_path, monkeypatch):
    config = tmp_path / "settings.toml"
    config.write_text("")
    monkeypatch.setenv("PERSONA_CONFIG", str(config))
    monkeypatch.setenv("PERSONA_AUDIT_LOG", "")  # these tests are about the other files
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse battery staple")


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("persona: error:")]
    assert len(errors) == 1 and "Traceback" not in captured.err
    return errors[0]


def record(spec: str, *extra: str) -> int:
    return main(["run", "--source", "synthetic", "--size", "128x96", "--sink", spec,
                 "--seconds", "0.1", *extra])


@pytest.mark.usefixtures("no_settings")
@pytest.mark.parametrize("where, message", [("folder", "is a folder"),
                                            ("missing folder", "does not exist")])
def test_a_recording_that_cannot_be_a_file_is_one_line(tmp_path, capsys, where, message):
    target = tmp_path / "take"
    if where == "folder":
        target.mkdir()
    else:
        target = target / "take.mp4"
    assert record(f"record:{target}") == 1
    assert message in one_line_error(capsys)


@pytest.mark.usefixtures("no_settings")
@pytest.mark.parametrize("unencrypted", [False, True], ids=["encrypted", "unencrypted"])
def test_a_recording_never_overwrites_or_follows_a_link(tmp_path, capsys, unencrypted):
    earlier, link, victim = tmp_path / "monday.mp4", tmp_path / "take.mp4", tmp_path / "victim"
    earlier.write_bytes(b"monday's session")
    link.symlink_to(victim)
    flags = ["--unencrypted"] if unencrypted else []
    for target in (earlier, link):
        assert record(f"record:{target}", *flags) == 1
        assert "already exists" in one_line_error(capsys)
    assert earlier.read_bytes() == b"monday's session"
    assert not victim.exists()


def test_a_track_file_never_overwrites(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse battery staple")
    track = tmp_path / "take.track"
    track.write_bytes(b"monday's faces")
    with pytest.raises(ConfigError, match="already exists"):
        run_session(session_settings(tmp_path, ["null"], record_track=str(track)))
    assert track.read_bytes() == b"monday's faces"


def render(*args: str) -> list[str]:
    return [sys.executable, "-m", "engine.cli", "render", "--size", "128x96", "--silent", *args]


@pytest.mark.usefixtures("no_settings")
def test_a_killed_render_leaves_the_previous_file(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(PREVIOUS)
    env = dict(os.environ)  # no_settings: no settings file, no audit log
    process = subprocess.Popen(render("--script", "neutral@600", "-o", str(out)), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".out.mp4.") and p.stat().st_size > 0
                  for p in tmp_path.iterdir()):  # frames are reaching the temporary file
        assert process.poll() is None, process.stdout.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert out.read_bytes() == PREVIOUS


@pytest.mark.usefixtures("no_settings")
def test_a_failing_render_leaves_the_previous_file_and_no_temporary(tmp_path, capsys):
    out = tmp_path / "out.mp4"
    out.write_bytes(PREVIOUS)
    # H.264 4:2:0 refuses an odd width when the recorder opens.
    assert main(["render", "--size", "129x96", "--silent", "-o", str(out)]) == 1
    assert "even width" in one_line_error(capsys)
    assert out.read_bytes() == PREVIOUS and os.listdir(tmp_path) == ["out.mp4", "settings.toml"]


@pytest.mark.usefixtures("no_settings")
def test_an_empty_render_never_says_wrote(tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["render", "--size", "128x96", "--silent", "--script", "smile@-1",
                 "-o", str(out)]) == 1
    assert "wrote" not in capsys.readouterr().out
    assert not out.exists()


@pytest.mark.usefixtures("no_settings")
def test_a_render_replaces_the_previous_file_when_done(tmp_path, capsys):
    out = tmp_path / "out.png"
    out.write_bytes(PREVIOUS)
    assert main(["render", "--size", "128x96", "--script", "smile@0.1", "-o", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {out}"
    assert out.read_bytes().startswith(b"\x89PNG") and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["out.png", "settings.toml"]
