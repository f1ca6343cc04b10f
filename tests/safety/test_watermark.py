"""The invisible watermark: invisible (PSNR), survives a video call, absent from real footage."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from engine.cli import main
from engine.safety.watermark import THRESHOLD, Watermark, chip_residual, decide, detect
from engine.safety.watermark_bench import FOOTAGE, call_quality, psnr, read_frames

SESSION = 0xC0FFEE42


@pytest.fixture(scope="module")
def clip(shared_asset) -> list[np.ndarray]:
    """Real footage at 1280x720: 30 frames spread over the Pexels clip."""
    return list(read_frames(shared_asset(f"video/{FOOTAGE[0]}"), limit=30, size=(1280, 720),
                            step=8))


@pytest.fixture(scope="module")
def mark() -> Watermark:
    return Watermark(SESSION, 1280, 720)


def test_pattern_is_whole_luma_levels(mark):
    assert mark.pattern.dtype == np.float32 and mark.pattern.shape == (720, 1280)
    assert np.array_equal(mark.pattern, np.rint(mark.pattern))
    assert 0.9 < float(np.sqrt(np.mean(mark.pattern**2))) < 1.3
    assert not np.array_equal(mark.pattern, Watermark(SESSION + 1, 1280, 720).pattern)


def test_invisible(clip, mark):
    values = [psnr(mark.embed(frame), frame) for frame in clip]
    assert min(values) >= 40.0


def test_survives_downscale_and_500_kbit_h264(clip, mark):
    received = call_quality([mark.embed(frame) for frame in clip])
    assert received[0].shape == (360, 640, 3)
    whole = detect(received)
    assert whole.detected and whole.session == SESSION and whole.confidence == 1.0
    singles = [detect(frame) for frame in received[::5]]
    assert all(d.detected for d in singles)
    # The same footage without the mark, through the same call, is not flagged.
    assert not detect(call_quality(clip[:10])).detected


def test_sharp_still_photo(shared_asset):
    """A sharp studio portrait, saved losslessly and after a mild JPEG: found, session read."""
    photo = cv2.imread(str(shared_asset("face/obama_official_portrait_2012.jpg")))[:, :, ::-1]
    photo = cv2.resize(photo, (1280, 720), interpolation=cv2.INTER_AREA)
    marked = Watermark(7, 1280, 720).embed(photo)
    assert detect(marked).session == 7
    ok, jpeg = cv2.imencode(".jpg", marked[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    result = detect(cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[:, :, ::-1])
    assert result.detected and result.session == 7


def test_false_positive_rate_on_real_footage(shared_asset):
    """Single-frame detection over every frame of both sample videos (544 frames)."""
    scores = np.array([decide(chip_residual(frame)).score
                       for name in FOOTAGE for frame in read_frames(shared_asset(f"video/{name}"))])
    assert scores.size >= 200
    assert int(np.sum(scores >= THRESHOLD)) == 0
    assert abs(float(scores.mean())) < 0.5 and float(scores.std()) < 1.5  # as the theory says


def test_embed_matches_the_compositor(gl):
    """The compositor's saturating adds after readback equal Watermark.embed exactly."""
    from engine.gl.compositor import Background, Compositor
    from engine.gl.programs import ShaderLibrary

    size = (320, 180)
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (180, 320, 3), dtype=np.uint8)
    image[:40] = 0      # clipping at black
    image[-40:] = 255   # and at white
    shaders = ShaderLibrary(gl.ctx)
    compositor = Compositor(gl.ctx, shaders, size)
    try:
        layer = compositor.layers[0]
        layer.set_background(Background(image=image))
        layer.begin()
        plain = compositor.finish(layer).copy()
        mark = Watermark(99, *size)
        compositor.set_watermark(mark.pattern)
        layer.begin()
        marked = compositor.finish(layer)
        assert np.array_equal(marked, mark.embed(plain))
        assert not np.array_equal(marked, plain)
    finally:
        compositor.release()
        shaders.release()


def test_rejects_wrong_sizes():
    with pytest.raises(ValueError, match="smaller than"):
        Watermark(1, 100, 50)
    with pytest.raises(ValueError, match="watermark was made for"):
        Watermark(1, 320, 180).embed(np.zeros((181, 320, 3), np.uint8))
    with pytest.raises(ValueError, match="out of|fit in"):
        Watermark(2**32, 320, 180)


def test_cli_verify_image_and_video(clip, mark, tmp_path, capsys):
    marked_png = tmp_path / "marked.png"
    cv2.imwrite(str(marked_png), mark.embed(clip[0])[:, :, ::-1])
    assert main(["watermark", "verify", str(marked_png), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["detected"] is True and report["session"] == SESSION
    assert 0.0 <= report["confidence"] <= 1.0

    import av

    video = tmp_path / "call.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = 640, 360, "yuv420p", 500_000
        for marked in (mark.embed(f) for f in clip):
            frame = cv2.resize(marked, (640, 360), interpolation=cv2.INTER_AREA)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert main(["watermark", "verify", str(video), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["detected"] is True and report["session"] == SESSION

    plain_png = tmp_path / "plain.png"
    cv2.imwrite(str(plain_png), clip[0][:, :, ::-1])
    assert main(["watermark", "verify", str(plain_png)]) == 0
    assert "no Persona watermark" in capsys.readouterr().out
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    assert main(["watermark", "verify", str(junk)]) == 1
    assert "junk.mp4" in capsys.readouterr().err


def test_cli_small_image_is_a_clear_error(tmp_path, capsys):
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((50, 50, 3), np.uint8))
    assert main(["watermark", "verify", str(small)]) == 1
    assert "small.png" in capsys.readouterr().err
