"""Encryption at rest: what a real session writes for a recording and a track file.

With ``PERSONA_PASSPHRASE`` set nothing reaches the disk in the clear; without it the session
is refused; ``--unencrypted`` writes plain files and says so in the audit log. ``record:PATH``
and a bare ``PATH.mp4`` follow the same rules.
"""

from __future__ import annotations

import io
import json
import tempfile
from functools import partial

import pytest

from engine.cli import main
from engine.config import Settings
from engine.errors import ConfigError, SinkError
from engine.output.factory import open_sinks
from engine.output.storage import PASSPHRASE_ENV, StoredRecording
from engine.safety.audit import verify
from engine.safety.crypto import MAGIC, decrypt_chunks, decrypt_file
from engine.tracking.replay import read_track
from tests.io.sessions import decoded_frames, run_session, session_settings

PASSPHRASE = "correct horse battery staple"
FRAMES = 5


@pytest.fixture(params=["record:{}", "{}"], ids=["record:PATH", "PATH.mp4"])
def recording_spec(request):
    """``recording_spec(path)``: the sink spec that records to ``path``, in each form."""
    return request.param.format


@pytest.fixture
def no_passphrase(monkeypatch):
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)


@pytest.fixture
def own_tmpdir(tmp_path, monkeypatch):
    """A fresh, empty $TMPDIR, so a test can see that nothing was left in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # tempfile caches $TMPDIR on first use
    return folder


def test_encrypted_recording_and_track_leave_nothing_plain(tmp_path, monkeypatch, own_tmpdir,
                                                           recording_spec):
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    folder = tmp_path / "out"
    folder.mkdir()
    recording, track = folder / "take.mp4", folder / "take.track"
    run_session(session_settings(folder, [recording_spec(recording)], record_track=str(track)),
                frames=FRAMES)

    assert sorted(p.name for p in folder.iterdir()) == ["audit.jsonl", "take.mp4", "take.track"]
    assert list(own_tmpdir.iterdir()) == []
    video, faces = recording.read_bytes(), track.read_bytes()
    assert video.startswith(MAGIC) and faces.startswith(MAGIC)
    for box in (b"ftyp", b"moov", b"moof", b"mdat"):
        assert box not in video
    for key in (b"persona-track", b"blendshapes", b"confidence"):
        assert key not in faces

    restored = tmp_path / "restored.mp4"
    assert decrypt_file(recording, restored, PASSPHRASE).complete
    assert decoded_frames(restored) == FRAMES
    plain_track = b"".join(decrypt_chunks(track, PASSPHRASE))
    assert len(read_track(io.BytesIO(plain_track))) == FRAMES


@pytest.mark.usefixtures("no_passphrase")
@pytest.mark.parametrize("alternatives", ["{}", "virtualcam|{}"], ids=["alone", "alternative"])
def test_recording_without_passphrase_is_refused_in_one_line(tmp_path, monkeypatch, capsys,
                                                             recording_spec, alternatives):
    config = tmp_path / "settings.toml"
    config.write_text("")
    monkeypatch.setenv("PERSONA_CONFIG", str(config))
    monkeypatch.setenv("PERSONA_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    recording = tmp_path / "take.mp4"
    spec = alternatives.format(recording_spec(recording))
    # Refused even where the virtual camera would open: the fallback must work when needed.
    code = main(["run", "--source", "synthetic", "--size", "128x96", "--sink", spec,
                 "--seconds", "0.1"])

    assert code == 1
    errors = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("persona: error:")]
    assert len(errors) == 1
    assert f"set {PASSPHRASE_ENV}" in errors[0] and "--unencrypted" in errors[0]
    assert not recording.exists()


@pytest.mark.usefixtures("no_passphrase")
def test_track_file_without_passphrase_is_refused(tmp_path):
    track = tmp_path / "take.track"
    with pytest.raises(ConfigError, match=f"set {PASSPHRASE_ENV}.*--unencrypted") as caught:
        run_session(session_settings(tmp_path, ["null"], record_track=str(track)))
    assert "\n" not in str(caught.value)
    assert not track.exists()


@pytest.mark.usefixtures("no_passphrase")
def test_unencrypted_is_plain_and_audited(tmp_path, recording_spec):
    recording, track = tmp_path / "take.mp4", tmp_path / "take.track"
    audit = tmp_path / "audit.jsonl"
    run_session(session_settings(tmp_path, [recording_spec(recording)], record_track=str(track),
                                 unencrypted=True), frames=FRAMES)

    assert b"ftyp" in recording.read_bytes() and decoded_frames(recording) == FRAMES
    assert len(read_track(track)) == FRAMES
    assert verify(audit).ok
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    opted_out = {e["names"]["what"] for e in entries if e["event"] == "unencrypted_storage"}
    assert opted_out == {"recording", "track file"}


def test_a_recording_that_cannot_start_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    recording = tmp_path / "take.mp4"
    stored = partial(StoredRecording, settings=Settings(), audit=None)
    with pytest.raises(SinkError, match="even width and height"):
        open_sinks([f"record:{recording}"], 127, 96, 30, recorder=stored)  # H.264 needs even
    assert not recording.exists()
