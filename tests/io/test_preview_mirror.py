"""The preview window is a mirror; what the other side receives is not.

A real session (``build_app`` with ``--sink y4m:PATH`` and ``--sink window``) under Xvfb: the
window's framebuffer, read back after each frame, is the left-right mirror of the frame the y4m
sink wrote, pixel for pixel (compared in the y4m's own 4:2:0 planes, so the file is what is
checked, not a copy in memory). The test card's code band, the "AI avatar" badge and the
watermark make every frame asymmetric, so an unmirrored window cannot pass. With the HUD shown,
its text reads the right way round over the mirrored picture.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.app import Command
from engine.capture.synthetic import SyntheticSource
from engine.config import Settings
from engine.output.avsync import write_testcard
from engine.output.y4m import read_y4m
from engine.output.yuv import rgb_to_i420
from engine.performer import ScriptedPerformer
from engine.scenes import Scene
from engine.session import build_app, offline_clock
from tests.conftest import require_programs, xvfb
from tests.scenes.test_window import release_current_egl

SIZE = (320, 180)
FRAMES = 6


@pytest.fixture
def display(monkeypatch, gl):
    require_programs("Xvfb", "xdotool")
    with xvfb(monkeypatch, "640x480x24", range(190, 240)) as name:
        release_current_egl()
        yield name
    gl.ctx.__enter__()  # the session's headless context is current again for later tests


def run_with_window(folder, window_spec: str, hud: bool) -> tuple[list[np.ndarray], list]:
    """Run FRAMES frames of the test card with a y4m sink and the window; return what the window
    showed after each frame (RGB, top row first) and the y4m's frames (I420)."""
    settings = Settings(width=SIZE[0], height=SIZE[1], fps=30.0, source="synthetic",
                        sinks=[f"y4m:{folder / 'out.y4m'}", window_spec], scene="card",
                        audit_log=None)
    card = write_testcard(folder, flash_every=4)
    session = build_app(settings, source=SyntheticSource(SIZE, 30.0, realtime=False),
                        tracker=ScriptedPerformer(frame_rate=30.0),
                        clock=offline_clock(30.0), scenes=[Scene("card", avatar=str(card))],
                        realtime=False)
    shown = []
    try:
        session.app.apply(Command("hud", on=hud))
        session.board.publish(session.app.status())  # what the window's HUD reads
        for _ in range(FRAMES):
            session.app.step()
            pixels = np.frombuffer(session.gl.ctx.screen.read(components=3), np.uint8)
            shown.append(pixels.reshape(SIZE[1], SIZE[0], 3)[::-1].copy())
    finally:
        session.close()
    _, frames = read_y4m(folder / "out.y4m")
    return shown, [frame.copy() for frame in frames]


def test_the_window_mirrors_what_the_y4m_sink_receives(display, tmp_path):
    shown, written = run_with_window(tmp_path, "window", hud=False)
    assert len(written) == FRAMES
    for on_screen, frame in zip(shown, written):
        assert np.array_equal(rgb_to_i420(np.ascontiguousarray(on_screen[:, ::-1])), frame)
        assert not np.array_equal(rgb_to_i420(on_screen), frame)  # the picture is asymmetric


def test_unmirrored_on_request(display, tmp_path):
    shown, written = run_with_window(tmp_path, "window:unmirrored", hud=False)
    assert all(np.array_equal(rgb_to_i420(on_screen), frame)
               for on_screen, frame in zip(shown, written))



def test_the_hud_over_the_mirrored_picture_is_not_mirrored(display, tmp_path):
    shown, written = run_with_window(tmp_path, "window", hud=True)
    output = written[-1][:SIZE[1]]  # luma
    unmirrored = rgb_to_i420(np.ascontiguousarray(shown[-1][:, ::-1]))[:SIZE[1]]
    # The HUD's status panel is at the window's top left, over the mirrored picture; undoing the
    # mirror moves it to the top right and leaves the top left exactly the output.
    top_left, top_right = (slice(6, 40), slice(6, 120)), (slice(6, 40), slice(200, 314))
    assert np.abs(unmirrored[top_right].astype(int) - output[top_right]).mean() > 20
    assert np.array_equal(unmirrored[top_left], output[top_left])
