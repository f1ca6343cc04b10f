"""Track files: what is recorded replays exactly, and malformed files are refused clearly."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.tracking.replay import ReplayTracker, read_track, record_track
from engine.types import FaceState, Frame, blendshape_vector

BLANK = np.zeros((4, 4, 3), np.uint8)


def faces() -> list[FaceState]:
    out = []
    for i in range(10):
        head = np.eye(4, dtype=np.float32)
        head[:3, 3] = (1.0, 2.0, 50.0 + i)
        found = i != 4
        shapes = blendshape_vector({"jawOpen": i / 10}) if found else np.zeros(52, np.float32)
        out.append(FaceState(t=100.0 + i / 10, found=found, head=head, blendshapes=shapes,
                             gaze=np.array([0.1, -0.05], np.float32),
                             confidence=0.9 if found else 0.0,
                             landmarks=np.zeros((478, 3), np.float32)))
    return out


@pytest.mark.parametrize("binary", [True, False])
def test_record_then_replay(binary):
    sink = io.BytesIO() if binary else io.StringIO()
    recorder = record_track(sink)
    for face in faces():
        recorder.write(face)
    text = sink.getvalue().decode() if binary else sink.getvalue()
    assert "landmarks" not in text  # biometric data stays out of track files
    frames = read_track(io.BytesIO(text.encode()))
    assert [round(t, 6) for t, _ in frames] == [round(i / 10, 6) for i in range(10)]
    replay = ReplayTracker(io.BytesIO(text.encode()), loop=False)
    # Playback starts at the first call; each later frame asks a little after a recorded one.
    times = [5.0] + [5.0 + i / 10 + 0.02 for i in range(1, 10)]
    got = [replay.track(Frame(BLANK, t, i)) for i, t in enumerate(times)]
    for face, original, t in zip(got, faces(), times):
        assert face.found == original.found and face.t == t
        np.testing.assert_allclose(face.blendshapes, original.blendshapes, atol=1e-4)
        np.testing.assert_allclose(face.head, original.head, atol=1e-5)
    assert not replay.track(Frame(BLANK, 7.0, 20)).found  # past the end without looping


def test_replay_loops(tmp_path):
    path = tmp_path / "t.jsonl"
    with open(path, "w") as sink:
        recorder = record_track(sink)
        for face in faces():
            recorder.write(face)
    replay = ReplayTracker(path, loop=True)
    first = replay.track(Frame(BLANK, 0.0, 0))
    later = replay.track(Frame(BLANK, replay.duration + 0.05, 1))
    np.testing.assert_allclose(later.blendshapes, first.blendshapes)


@pytest.mark.parametrize("content, message", [
    (b"", "no frames"),
    (b"hello\n", ":1: not a persona track file"),
    (b'{"format": "persona-track", "version": 9}\n', "version 9"),
    (b'{"format": "persona-track", "version": 1}\n{"t": 0}\n', ":2: not a track frame"),
    (b'{"format": "persona-track", "version": 1}\n{"t": 0, "found": true, "head": [1], '
     b'"blendshapes": [], "gaze": [0, 0]}\n', ":2:"),
    (b'{"format": "persona-track", "version": 1}\n' + b"x" * 100_000 + b"\n", "longer than"),
])
def test_malformed_track_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as error:
        ReplayTracker(path)
    assert "bad.jsonl" in str(error.value)


def test_non_finite_numbers_are_refused(tmp_path):
    header = json.dumps({"format": "persona-track", "version": 1})
    frame = json.dumps({"t": 0, "found": True, "head": [0] * 16, "blendshapes": [0] * 52,
                        "gaze": [0, 0]})
    path = tmp_path / "nan.jsonl"
    path.write_text(header + "\n" + frame.replace('"t": 0', '"t": NaN') + "\n")
    with pytest.raises(ConfigError, match="non-finite"):
        read_track(path)
    with pytest.raises(ConfigError, match="cannot open"):
        read_track(tmp_path / "missing.jsonl")
