"""`persona demo` (what `make demo` runs) and `persona render`: the real commands, decoded back."""

from __future__ import annotations

import subprocess
import sys

import av
import numpy as np
from PIL import Image


def persona(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_demo_writes_a_playable_mp4_with_voice(tmp_path):
    output = tmp_path / "demo.mp4"
    result = persona("demo", "--seconds", "1.5", "--size", "640x360", "-o", str(output))
    assert result.returncode == 0, result.stderr
    with av.open(str(output)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.width, video.height) == ("h264", 640, 360)
        assert container.streams.audio, "the demo carries the morphed voice"
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(frames) == 45
    last = frames[-1]
    # An avatar is in the middle, not just the background colour; and the picture moves.
    centre = last[120:240, 240:400].astype(int)
    corner = last[10:40, 560:630].astype(int)
    assert np.abs(centre.mean(axis=(0, 1)) - corner.mean(axis=(0, 1))).max() > 20
    assert np.abs(frames[0].astype(int) - last.astype(int)).mean() > 0.5
    with av.open(str(output)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
        rate = container.streams.audio[0].rate
    assert abs(samples / rate - 1.5) < 0.1
    levels = np.concatenate([f.to_ndarray().ravel() for f in av.open(str(output)).decode(audio=0)])
    assert np.sqrt(np.mean(levels**2)) > 0.01  # a voice, not silence


def test_render_contact_sheet_of_expressions(tmp_path):
    output = tmp_path / "sheet.png"
    result = persona("render", "--script", "neutral@0.5,smile@0.6,surprise@0.6", "--size",
                     "320x180", "-o", str(output))
    assert result.returncode == 0, result.stderr
    sheet = np.asarray(Image.open(output).convert("RGB")).astype(int)
    # One row of three 320-wide tiles 8 px apart, under the header that carries the badge.
    assert sheet.shape[1] == 3 * (320 + 8) + 8 and sheet.shape[0] > 180
    neutral, smile, surprise = (sheet[48:48 + 180, 8 + i * 328:8 + i * 328 + 320]
                                for i in range(3))
    assert np.abs(neutral - smile).mean() > 0.3
    assert np.abs(neutral - surprise).mean() > 0.3
