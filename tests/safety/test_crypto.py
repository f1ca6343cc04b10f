"""Encrypted recordings: a fragmented MP4 through EncryptedWriter, decrypted and decoded;
a truncated file restores up to its last complete chunk."""

from __future__ import annotations

import os

import numpy as np
import pytest

from engine.cli import main
from engine.safety.commands import EXIT_PARTIAL
from engine.safety.crypto import (HEADER, DecryptionError, EncryptedWriter, decrypt_file,
                                  key_from_passphrase)

PASSPHRASE = "correct horse battery staple"
FRAMES = 60


@pytest.fixture(scope="module")
def key():
    return key_from_passphrase(PASSPHRASE, log2_n=14)  # cheaper than the default; same code


def write_fragmented_mp4(file, frames: int = FRAMES) -> None:
    import av

    with av.open(file, "w", format="mp4",
                 options={"movflags": "frag_keyframe+empty_moov"}) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"g": "10"}  # a fragment every 10 frames
        rng = np.random.default_rng(1)
        for i in range(frames):
            rgb = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)  # incompressible: many chunks
            rgb[:, :, 0] = i * 2
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def decoded_frames(path) -> int:
    import av

    count = 0
    try:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                count += 1
    except av.FFmpegError:
        pass  # a cut-short fragment at the end; the frames before it count
    return count


@pytest.fixture(scope="module")
def recording(tmp_path_factory, key):
    folder = tmp_path_factory.mktemp("rec")
    writer = EncryptedWriter(folder / "rec.enc", key)
    assert writer.writable() and not writer.seekable()
    write_fragmented_mp4(writer)
    writer.close()
    return folder / "rec.enc"


def test_round_trip_decodes_every_frame(recording, tmp_path):
    result = decrypt_file(recording, tmp_path / "out.mp4", PASSPHRASE)
    assert result.complete and result.chunks > 3
    assert decoded_frames(tmp_path / "out.mp4") == FRAMES


def test_ciphertext_hides_the_container(recording):
    data = recording.read_bytes()
    assert b"ftyp" not in data and b"moof" not in data
    assert recording.stat().st_mode & 0o077 == 0


def test_truncated_file_decrypts_up_to_last_full_chunk(recording, tmp_path):
    data = recording.read_bytes()
    cut = tmp_path / "cut.enc"
    cut.write_bytes(data[:len(data) * 2 // 3])
    result = decrypt_file(cut, tmp_path / "cut.mp4", PASSPHRASE)
    assert not result.complete and result.chunks >= 1
    restored = (tmp_path / "cut.mp4").read_bytes()
    full = tmp_path / "full.mp4"
    decrypt_file(recording, full, PASSPHRASE)
    assert full.read_bytes().startswith(restored)
    assert len(restored) % (64 * 1024) == 0  # whole chunks only
    assert 0 < decoded_frames(tmp_path / "cut.mp4") < FRAMES


def test_wrong_passphrase_writes_nothing(recording, tmp_path):
    with pytest.raises(DecryptionError, match="wrong passphrase"):
        decrypt_file(recording, tmp_path / "out.mp4", "not it")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["header", "chunk"])
def test_tampering_is_detected(recording, tmp_path, where):
    data = bytearray(recording.read_bytes())
    data[5 if where == "header" else HEADER.size + 100] ^= 0x01
    bad = tmp_path / "bad.enc"
    bad.write_bytes(bytes(data))
    with pytest.raises(DecryptionError):
        decrypt_file(bad, tmp_path / "out.mp4", PASSPHRASE)
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "out.mp4.part").exists()


def test_chunks_cannot_be_reordered(tmp_path, key):
    path = tmp_path / "x.enc"
    with EncryptedWriter(path, key, chunk_bytes=1000) as writer:
        writer.write(bytes(range(256)) * 16)
    data = path.read_bytes()
    sealed = 4 + 1000 + 16
    first, second = HEADER.size, HEADER.size + sealed
    swapped = data[:first] + data[second:second + sealed] + data[first:second] + data[second + sealed:]
    path.write_bytes(swapped)
    with pytest.raises(DecryptionError, match="chunk 0 failed"):
        decrypt_file(path, tmp_path / "x.bin", key=key)


def test_flush_seals_what_was_written(tmp_path, key):
    path = tmp_path / "x.enc"
    writer = EncryptedWriter(path, key)
    writer.write(b"first fragment")
    writer.flush()
    # The process dies here: no close(), so no final chunk.
    result = decrypt_file(path, tmp_path / "x.bin", key=key)
    assert not result.complete
    assert (tmp_path / "x.bin").read_bytes() == b"first fragment"
    writer.close()


def test_cli_decrypt(recording, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REC_PASS", PASSPHRASE)
    out = tmp_path / "out.mp4"
    assert main(["decrypt", str(recording), str(out), "--passphrase-env", "REC_PASS"]) == 0
    assert out.stat().st_size > 0
    cut = tmp_path / "cut.enc"
    cut.write_bytes(recording.read_bytes()[:HEADER.size + 70_000])
    assert main(["decrypt", str(cut), str(tmp_path / "c.mp4"),
                 "--passphrase-env", "REC_PASS"]) == EXIT_PARTIAL
    assert "cut short" in capsys.readouterr().err
    monkeypatch.setenv("REC_PASS", "wrong")
    assert main(["decrypt", str(recording), str(tmp_path / "w.mp4"),
                 "--passphrase-env", "REC_PASS"]) == 1
    assert "wrong passphrase" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "w.mp4")
