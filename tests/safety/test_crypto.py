"""Encrypted recordings: a fragmented MP4 through EncryptedWriter, decrypted and decoded;
a truncated file restores up to its last complete chunk, a tampered one restores nothing; the
plain output is complete or not there, never written through a link."""

from __future__ import annotations

import os
import stat
import time

import numpy as np
import pytest

from engine.cli import main
from engine.safety.commands import EXIT_PARTIAL
from engine.errors import ConfigError
from engine.safety.crypto import (CHUNK_BYTES, HEADER, LENGTH, TAG_BYTES, DecryptionError,
                                  EncryptedWriter, decrypt_file, key_from_passphrase)

PASSPHRASE = "correct horse battery staple"
FRAMES = 60


@pytest.fixture(scope="module")
def key():
    return key_from_passphrase(PASSPHRASE)


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


def decrypt_cli(source, target, capsys) -> tuple[int, str]:
    """``persona decrypt SOURCE TARGET`` with the right passphrase: (exit status, stderr)."""
    os.environ["REC_PASS"] = PASSPHRASE
    try:
        code = main(["decrypt", str(source), str(target), "--passphrase-env", "REC_PASS"])
    finally:
        del os.environ["REC_PASS"]
    return code, capsys.readouterr().err


def test_links_planted_at_the_output_are_never_written_through(recording, tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    victim.chmod(0o644)
    out = tmp_path / "out.mp4"
    for planted in (out, out.with_name("out.mp4.part")):
        planted.symlink_to(victim)
    with pytest.raises(DecryptionError, match="wrong passphrase"):
        decrypt_file(recording, out, "not it")
    assert victim.read_text() == "keep me" and out.is_symlink()  # untouched on failure

    assert decrypt_cli(recording, out, capsys)[0] == 0
    assert victim.read_text() == "keep me"
    assert not out.is_symlink() and decoded_frames(out) == FRAMES
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "out.mp4.part", "victim"]


def test_an_existing_output_is_replaced_only_on_success(recording, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous good file")
    bad = tmp_path / "bad.enc"
    data = bytearray(recording.read_bytes())
    data[HEADER.size + CHUNK_BYTES] ^= 0x01  # inside the first chunk's ciphertext
    bad.write_bytes(bytes(data))
    assert decrypt_cli(bad, out, capsys)[0] == 1
    assert out.read_bytes() == b"previous good file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.enc", "out.mp4"]  # no temp left
    assert decrypt_cli(recording, out, capsys)[0] == 0
    assert decoded_frames(out) == FRAMES


@pytest.mark.parametrize("where", ["folder", "missing folder"])
def test_output_that_cannot_be_a_file_is_one_line(recording, tmp_path, capsys, where):
    out = tmp_path / "out"
    if where == "folder":
        out.mkdir()
    else:
        out = out / "x.mp4"
    code, err = decrypt_cli(recording, out, capsys)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("persona: error:") and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == (["out"] if where == "folder" else [])


def sealed_chunks(path) -> list[tuple[int, int]]:
    """(offset, length) of each chunk's length field and sealed body, read from the file."""
    data, chunks, at = path.read_bytes(), [], HEADER.size
    while at < len(data):
        (length,) = LENGTH.unpack_from(data, at)
        chunks.append((at, length))
        at += LENGTH.size + length
    return chunks


@pytest.mark.parametrize("cut", ["boundary", "length", "body", "header only"])
def test_a_crash_anywhere_reads_as_cut_short(recording, tmp_path, capsys, cut):
    chunks = sealed_chunks(recording)
    at, length = chunks[2]
    end = {"boundary": at, "length": at + 2, "body": at + LENGTH.size + length // 2,
           "header only": HEADER.size}[cut]
    short = tmp_path / "short.enc"
    short.write_bytes(recording.read_bytes()[:end])
    code, err = decrypt_cli(short, tmp_path / "out.mp4", capsys)
    assert code == EXIT_PARTIAL and "cut short" in err
    assert (tmp_path / "out.mp4").stat().st_size == (0 if cut == "header only" else 2 * CHUNK_BYTES)


@pytest.mark.parametrize("length", [1 << 20, CHUNK_BYTES + TAG_BYTES + 1, TAG_BYTES - 1],
                         ids=["1 MiB", "one over the bound", "shorter than a tag"])
def test_an_impossible_chunk_length_is_tampering_not_a_cut(recording, tmp_path, capsys, length):
    # A length that runs past the end of the file used to read as "cut short" (exit 2).
    data = bytearray(recording.read_bytes())
    at, _ = sealed_chunks(recording)[-2]
    data[at:at + LENGTH.size] = LENGTH.pack(length)
    bad = tmp_path / "bad.enc"
    bad.write_bytes(bytes(data))
    code, err = decrypt_cli(bad, tmp_path / "out.mp4", capsys)
    assert code == 1 and "impossible length" in err and "cut short" not in err
    assert not (tmp_path / "out.mp4").exists()


def test_a_forged_header_cannot_make_decryption_slow(recording, tmp_path, capsys):
    data = bytearray(recording.read_bytes())
    data[10:13] = bytes([20, 16, 4])  # scrypt log2(N), r, p: 2 GiB and ~25 s when honoured
    bad = tmp_path / "bad.enc"
    bad.write_bytes(bytes(data))
    started = time.perf_counter()
    code, err = decrypt_cli(bad, tmp_path / "out.mp4", capsys)
    assert code == 1 and "key-derivation parameters" in err
    assert time.perf_counter() - started < 1.0
    assert not (tmp_path / "out.mp4").exists()


def test_writer_refuses_an_existing_name_or_link(tmp_path, key):
    earlier = tmp_path / "earlier.enc"
    earlier.write_bytes(b"last week's recording")
    link = tmp_path / "link.enc"
    link.symlink_to(tmp_path / "elsewhere")
    for path in (earlier, link):
        with pytest.raises(ConfigError, match="already exists"):
            EncryptedWriter(path, key)
    assert earlier.read_bytes() == b"last week's recording"
    assert not (tmp_path / "elsewhere").exists()


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
