"""The sink grammar (``--sink``): parsing, alternatives, and alternatives in a real session."""

from __future__ import annotations

import logging
import os

import pytest

from engine.cli import main
from engine.errors import ConfigError
from engine.output.factory import SinkSpec, open_sinks, parse_sinks
from engine.output.null import NullSink
from engine.output.storage import PASSPHRASE_ENV
from engine.safety.crypto import MAGIC
from tests.io.sessions import decoded_frames, run_session, session_settings

W, H, FPS = 96, 64, 30


@pytest.mark.parametrize("text, expected", [
    ("null", [SinkSpec("null")]),
    ("memory", [SinkSpec("memory")]),
    ("window", [SinkSpec("window")]),
    ("window:mirrored", [SinkSpec("window", mirrored=True)]),
    ("window:unmirrored", [SinkSpec("window", mirrored=False)]),
    ("virtualcam", [SinkSpec("virtualcam")]),
    ("virtualcam:obs", [SinkSpec("virtualcam", backend="obs")]),
    ("virtualcam:v4l2loopback:/dev/video9",
     [SinkSpec("virtualcam", backend="v4l2loopback", device="/dev/video9")]),
    ("y4m:-", [SinkSpec("y4m", path="-")]),
    ("y4m:clip.mp4", [SinkSpec("y4m", path="clip.mp4")]),  # the named kind wins over .mp4
    ("record:/a/b.mkv", [SinkSpec("record", path="/a/b.mkv")]),
    ("out/Take 1.MP4", [SinkSpec("record", path="out/Take 1.MP4")]),
    (" virtualcam | rec.mp4 ", [SinkSpec("virtualcam"), SinkSpec("record", path="rec.mp4")]),
    ("virtualcam|y4m:/tmp/p|null",
     [SinkSpec("virtualcam"), SinkSpec("y4m", path="/tmp/p"), SinkSpec("null")]),
])
def test_parse_sinks(text, expected):
    assert parse_sinks(text) == expected


@pytest.mark.parametrize("text, message", [
    ("hologram", "unknown sink 'hologram'; expected one of"),
    ("", "empty sink spec"),
    ("virtualcam||null", "empty sink spec"),
    ("y4m:", "needs a path: y4m:PATH"),
    ("record", "needs a path: record:PATH"),
    ("null:4", "takes no argument"),
    ("window:flipped", "window:mirrored .the default. or window:unmirrored"),
])
def test_bad_specs_are_one_line_config_errors(text, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_sinks(text)
    assert "\n" not in str(caught.value)


def test_a_bad_spec_fails_before_any_sink_opens(tmp_path):
    with pytest.raises(ConfigError):
        open_sinks([f"y4m:{tmp_path / 'a.y4m'}", "hologram"], W, H, FPS)
    assert not (tmp_path / "a.y4m").exists()


def test_skipped_alternatives_are_warned_and_listed(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="engine.output.factory"):
        opened = open_sinks(["memory", f"virtualcam:nope|y4m:{tmp_path / 'no' / 'x.y4m'}|null"],
                            W, H, FPS)
    assert [type(sink).__name__ for sink in opened] == ["MemorySink", "NullSink"]
    assert len(opened.fallbacks) == 2
    assert "nope" in opened.fallbacks[0] and "x.y4m" in opened.fallbacks[1]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("using NullSink() instead" in w for w in warnings)
    for sink in opened:
        sink.close()


def test_a_recording_not_used_leaves_no_file(tmp_path):
    (sink,) = open_sinks([f"null|record:{tmp_path / 'rec.mp4'}"], W, H, FPS)
    assert isinstance(sink, NullSink)
    sink.close()
    assert not (tmp_path / "rec.mp4").exists()


def _skip_if_a_virtual_camera_could_open():
    if any(os.path.exists(f"/dev/video{i}") for i in range(10)):
        pytest.skip("this machine has video devices, so the virtual camera may open")


def test_virtualcam_or_recording_records_when_there_is_no_camera(tmp_path, caplog):
    # persona run --sink 'virtualcam|OUT.mp4' --unencrypted, on a machine with no v4l2loopback.
    _skip_if_a_virtual_camera_could_open()
    out = tmp_path / "OUT.mp4"
    with caplog.at_level(logging.WARNING):
        run_session(session_settings(tmp_path, [f"virtualcam|{out}"], unencrypted=True))
    assert decoded_frames(out) > 0
    skipped = [r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING and r.name == "engine.output.factory"]
    assert len(skipped) == 1
    assert "VirtualCameraSink" in skipped[0] and "modprobe v4l2loopback" in skipped[0]


def test_virtualcam_or_encrypted_recording_decrypts_with_persona_decrypt(tmp_path, monkeypatch):
    _skip_if_a_virtual_camera_could_open()
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse battery staple")
    encrypted, restored = tmp_path / "rec.mp4", tmp_path / "restored.mp4"
    run_session(session_settings(tmp_path, [f"virtualcam|record:{encrypted}"]))
    assert encrypted.read_bytes().startswith(MAGIC)
    assert main(["decrypt", str(encrypted), str(restored), "--passphrase-env", PASSPHRASE_ENV]) == 0
    assert decoded_frames(restored) > 0
