"""Transparent output: the default avatar rendered over transparency by the real loop into VP9
WebM, ProRes 4444 MOV and a PNG sequence, offline and live (``--sink avatar.webm``), decoded
back and the alpha checked — transparent around the avatar, opaque on it."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from engine.capture.synthetic import SyntheticSource
from engine.cli import main
from engine.config import Settings
from engine.errors import ConfigError
from engine.output.alpha import PngSequenceSink
from engine.output.factory import parse_sinks, refuse_mixed_frames
from engine.output.recorder import RecorderSink, straight_alpha
from engine.performer import ScriptedPerformer
from engine.scenes import Scene
from engine.types import AudioBlock, Frame
from engine.session import build_app, offline_clock

SIZE = (160, 96)


def _decode_rgba(source) -> list[np.ndarray]:
    """Every frame of a file (path) or stream as RGBA. VP9 keeps alpha in a side channel only
    libvpx's decoder reads."""
    with av.open(source if isinstance(source, io.IOBase) else str(source)) as container:
        stream = container.streams.video[0]
        if stream.codec_context.name == "vp9":
            decoder = av.CodecContext.create("libvpx-vp9", "r")
            return [frame.to_ndarray(format="rgba")
                    for packet in container.demux(stream) for frame in decoder.decode(packet)]
        return [frame.to_ndarray(format="rgba") for frame in container.decode(stream)]


def _check_alpha(rgba: np.ndarray) -> None:
    height, width = rgba.shape[:2]
    alpha = rgba[..., 3]
    corners = np.concatenate([alpha[:8, :8].ravel(), alpha[:8, -8:].ravel()])
    assert corners.max() <= 2  # the background is gone: transparent around the avatar
    face = rgba[height // 3:height // 2, width // 2 - 8:width // 2 + 8]
    assert face[..., 3].min() >= 250  # opaque on it
    assert face[..., :3].mean() > 60  # and its colours are there (straight, not premultiplied)
    assert 0.05 < np.mean(alpha > 250) < 0.6


@pytest.mark.parametrize("suffix, codec", [(".webm", "vp9"), (".mov", "prores")])
def test_render_writes_a_video_with_alpha(tmp_path, suffix, codec):
    output = tmp_path / f"avatar{suffix}"
    assert main(["render", "-o", str(output), "--size", "x".join(map(str, SIZE)),
                 "--script", "smile@0.3", "--silent"]) == 0
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_context.name == codec
    frames = _decode_rgba(output)
    assert len(frames) == 9
    for frame in frames[::4]:
        _check_alpha(frame)


def test_a_png_sequence_of_the_live_loop_keeps_alpha(tmp_path):
    settings = Settings(width=SIZE[0], height=SIZE[1], fps=30.0, source="synthetic",
                        audit_log=None)
    pattern = str(tmp_path / "avatar_%03d.png")
    session = build_app(settings, source=SyntheticSource(SIZE, 30.0, realtime=False),
                        tracker=ScriptedPerformer(frame_rate=30.0),
                        sinks=[PngSequenceSink(pattern)], clock=offline_clock(30.0),
                        scenes=[Scene("default", avatar="default")], realtime=False)
    try:
        session.app.run(max_frames=3)
    finally:
        session.close()
    files = sorted(tmp_path.glob("avatar_*.png"))
    assert [path.name for path in files] == ["avatar_000.png", "avatar_001.png",
                                             "avatar_002.png"]
    with Image.open(files[-1]) as picture:
        assert picture.mode == "RGBA"
        _check_alpha(np.asarray(picture))


def test_straight_alpha_undoes_premultiplication():
    premultiplied = np.array([[[100, 50, 0, 128], [0, 0, 0, 0], [255, 255, 255, 255]]],
                             np.uint8)
    straight = straight_alpha(premultiplied)
    assert straight[0, 0].tolist() == [199, 100, 0, 128]
    assert straight[0, 1].tolist() == [0, 0, 0, 0]
    assert straight[0, 2].tolist() == [255, 255, 255, 255]


def test_a_png_sequence_needs_a_frame_number_pattern(tmp_path):
    with pytest.raises(ConfigError, match="frame number pattern"):
        PngSequenceSink(str(tmp_path / "frames.png"))


@pytest.mark.parametrize("suffix, codec", [(".webm", "vp9"), (".mov", "prores")])
def test_a_live_session_records_the_avatar_over_transparency(tmp_path, suffix, codec):
    """``persona run --sink avatar.webm``: the sink spec, the storage rules (written unencrypted
    here, as asked), the live loop and its capture timing; decoded with its alpha."""
    output = tmp_path / f"live{suffix}"
    assert main(["run", "--source", "synthetic", "--sink", str(output), "--size",
                 "x".join(map(str, SIZE)), "--seconds", "0.5", "--unencrypted"]) == 0
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_context.name == codec
    frames = _decode_rgba(output)
    assert len(frames) >= 10
    _check_alpha(frames[-1])


def test_a_transparent_mov_carries_the_voice_and_webm_the_picture_alone(tmp_path):
    rate = 16000
    picture = np.zeros((SIZE[1], SIZE[0], 4), np.uint8)
    picture[20:60, 40:100] = (90, 60, 30, 255)  # premultiplied, opaque
    for suffix, voice in ((".mov", True), (".webm", False)):
        path = tmp_path / f"voice{suffix}"
        with RecorderSink(path, audio_rate=rate) as sink:
            sink.open(*SIZE, 30.0)
            for n in range(6):
                sink.write(Frame(picture, n / 30.0, n))
                if voice:
                    sink.write_audio(AudioBlock(np.zeros(rate // 30, np.float32), rate))
        with av.open(str(path)) as container:
            assert bool(container.streams.audio) == voice
        decoded = _decode_rgba(path)
        assert len(decoded) == 6
        assert decoded[-1][40, 70, 3] >= 250 and decoded[-1][5, 5, 3] <= 2
        assert np.abs(decoded[-1][40, 70, :3].astype(int) - (90, 60, 30)).max() <= 6


def test_a_transparent_recording_beside_an_opaque_output_is_refused_before_anything_opens(
        tmp_path):
    output = tmp_path / "avatar.webm"
    with pytest.raises(ConfigError, match="transparent recording takes the avatar alone.*null"):
        refuse_mixed_frames([parse_sinks(str(output)), parse_sinks("null")])
    with pytest.raises(ConfigError, match="the preview window"):
        refuse_mixed_frames([parse_sinks(str(output))], preview=True)
    refuse_mixed_frames([parse_sinks(str(output)), parse_sinks(str(tmp_path / "b.mov"))])
    assert main(["run", "--source", "synthetic", "--sink", str(output), "--sink", "null",
                 "--seconds", "0.2", "--unencrypted"]) == 1
    assert not output.exists()


def test_a_live_recording_behind_its_encoder_leaves_frames_out_instead_of_holding_the_loop(
        tmp_path, caplog):
    """ProRes 4444 at 720p encodes far slower than a burst of writes: the live (capture-timed)
    recorder takes what its encoder can, fills the other slots with the frame before, and the
    file keeps every slot of the time written, at a constant rate."""
    path = tmp_path / "behind.mov"
    width, height, count = 1280, 720, 30
    picture = np.zeros((height, width, 4), np.uint8)
    with RecorderSink(path, timing="capture") as sink:
        sink.open(width, height, 30.0)
        for n in range(count):
            picture[:, :, 3] = picture[:, :, 0] = 8 * n  # premultiplied grey ramp per frame
            sink.write(Frame(picture, 100.0 + n / 30.0, n))
        behind = sink.frames_behind
    assert behind > 0
    assert f"{behind} of {count} frames were left out" in caplog.text  # said to the user
    decoded = _decode_rgba(path)
    assert len(decoded) == count  # one per slot: the skipped ones hold the frame before
    alphas = [int(frame[0, 0, 3]) for frame in decoded]
    assert alphas == sorted(alphas) and len(set(alphas)) == count - behind


@pytest.mark.parametrize("kind", [".webm", ".mov"])
def test_a_transparent_recording_streams_without_seeking_back(kind):
    """What an encrypting writer needs: the recorder given a stream that refuses to seek."""
    class Forward(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, chunk) -> int:
            self.data += chunk
            return len(chunk)

    stream = Forward()
    picture = np.zeros((SIZE[1], SIZE[0], 4), np.uint8)
    picture[20:60, 40:100] = (90, 60, 30, 255)
    with RecorderSink(stream=stream, kind=kind) as sink:
        sink.open(*SIZE, 30.0)
        for n in range(5):
            sink.write(Frame(picture, n / 30.0, n))
    decoded = _decode_rgba(io.BytesIO(bytes(stream.data)))
    assert len(decoded) == 5 and decoded[-1][40, 70, 3] >= 250 and decoded[-1][5, 5, 3] <= 2
