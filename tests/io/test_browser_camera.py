"""A real browser consumes our camera: Chromium's fake capture device plays a y4m file our y4m
sink wrote, a page takes it with getUserMedia and draws each frame into a canvas, and the test
decodes the test card's frame number from every frame the browser showed.

Debian's Chromium takes a y4m *file* as its camera (it refuses a named pipe), playing it at the
file's frame rate and starting over at its end; so the file is recorded first, through the real
loop (test card avatar, offline clock) into the sink the ``y4m:PATH`` spec makes.
"""

from __future__ import annotations

import numpy as np

from engine.config import Settings
from engine.output.avsync import render_testcard
from engine.output.factory import make_sink
from engine.avatar.testcard import read_code
from tests.io.browser import chromium_page, unpack

FRAMES = 60
SIZE = (320, 180)
CANVAS = (160, 90)  # the page's canvas: Chromium scales and converts colour on the way


def test_chromium_shows_our_y4m_camera_frames_in_order(tmp_path):
    settings = Settings(width=SIZE[0], height=SIZE[1], fps=30.0, source="synthetic",
                        scene="testcard", audit_log=None)
    y4m = tmp_path / "camera.y4m"
    render_testcard(settings, tmp_path, [make_sink(f"y4m:{y4m}")], FRAMES, flash_every=30)

    with chromium_page("camera.html", "--use-fake-device-for-media-stream",
                       f"--use-file-for-fake-video-capture={y4m}") as page:
        page.wait_for_function("window.frames_seen.length >= 100 || window.camera_error",
                               timeout=30_000)
        assert page.evaluate("window.camera_error") is None
        camera = page.evaluate("window.camera_settings")
        chunks = page.evaluate("window.frames_seen")
    assert (camera["width"], camera["height"]) == SIZE and camera["frameRate"] == 30

    codes = [read_code(grey.reshape(CANVAS[1], CANVAS[0])) for grey in unpack(chunks, "u1")]
    shown = [code for code in codes if code is not None]
    assert len(shown) >= len(codes) - 2  # at most the first frames before the camera started
    steps = np.diff(shown)
    # In order: each frame the browser presented is the next one or, on a busy machine, the
    # same one again (Chromium's capture timer fired late) or a little further on (the page's
    # frame callback missed some); the file starts over at its end (the only step back, from
    # its last frames to its first).
    wraps = np.flatnonzero(steps < 0)
    assert len(wraps) >= 1
    for at in wraps:
        assert shown[at] >= FRAMES - 4 and shown[at + 1] <= 3
    forward = np.delete(steps, wraps)
    assert forward.min() >= 0 and forward.max() <= 4
    assert np.mean(forward == 1) >= 0.8
    assert len(set(shown)) >= 0.85 * FRAMES  # most of the file's frames reached the page
