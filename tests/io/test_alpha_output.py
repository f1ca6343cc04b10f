"""Transparent output: the default avatar rendered over transparency by the real loop into VP9
WebM, ProRes 4444 MOV and a PNG sequence, decoded back and the alpha checked — transparent
around the avatar, opaque on it."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from engine.capture.synthetic import SyntheticSource
from engine.cli import main
from engine.config import Settings
from engine.errors import ConfigError
from engine.output.alpha import PngSequenceSink, make_alpha_sink, straight_alpha
from engine.performer import ScriptedPerformer
from engine.scenes import Scene
from engine.session import build_app, offline_clock

SIZE = (160, 96)


def _decode_rgba(path) -> list[np.ndarray]:
    """Every frame as RGBA. VP9 keeps alpha in a side channel only libvpx's decoder reads."""
    with av.open(str(path)) as container:
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


def test_names_no_alpha_sink_writes_are_refused_in_one_line(tmp_path):
    for name in ("out.mp4", "frames.png"):
        with pytest.raises(ConfigError, match="webm or .mov"):
            make_alpha_sink(tmp_path / name)
