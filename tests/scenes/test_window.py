"""The preview window under Xvfb: real key events (XTEST, through xdotool) switch scenes, blank,
toggle the HUD and quit; the HUD shows in the window and never in the frame the other sinks
(virtual camera, recorder) receive."""

from __future__ import annotations

import ctypes
import os
import subprocess
import time

import numpy as np
import pytest

from engine.app import Command
from engine.config import DEFAULT_KEYS
from engine.hud import Hud
from tests.conftest import require_programs, xvfb
from tests.control.conftest import Rig



@pytest.fixture(autouse=True)
def _programs():
    require_programs("Xvfb", "xdotool")

SIZE = (640, 360)
HUD_TEXT = (slice(12, 40), slice(14, 120))  # the scene name in the HUD's status panel


@pytest.fixture
def display(monkeypatch):
    with xvfb(monkeypatch, "800x600x24", range(90, 140)) as name:
        yield name


def release_current_egl() -> None:
    """Make no EGL context current on this thread. Mesa refuses (X BadAccess, which ends the
    process) to make a GLX window context current while the session's headless EGL context is."""
    egl = ctypes.CDLL("libEGL.so.1")
    egl.eglGetCurrentDisplay.restype = ctypes.c_void_p
    egl.eglMakeCurrent.argtypes = [ctypes.c_void_p] * 4
    display = egl.eglGetCurrentDisplay()
    if display:
        egl.eglMakeCurrent(display, None, None, None)


@pytest.fixture
def windowed(display, tmp_path, gl):
    from engine.gl.context import GLContext
    from engine.output.window import WindowSink

    release_current_egl()
    window_gl = GLContext.windowed(*SIZE)
    rig = Rig(window_gl, tmp_path, size=SIZE)
    hud = Hud(SIZE, redraw_hz=1000.0)
    window = WindowSink(window_gl, rig.shaders, DEFAULT_KEYS,
                        on_command=lambda text: rig.app.commands.put(Command.parse(text)),
                        overlay=lambda: hud.render(rig.board.latest() or rig.app.status()),
                        confirm_quit=lambda: rig.camera_live)
    rig.camera_live = False
    window.open(*SIZE, 30.0)
    rig.app.sinks.append(window)
    rig.window_id = subprocess.run(["xdotool", "search", "--sync", "--name", "Persona"],
                                   capture_output=True, text=True, timeout=10,
                                   env=os.environ).stdout.split()[0]
    subprocess.run(["xdotool", "windowfocus", "--sync", rig.window_id], timeout=10, check=True)
    yield rig, window, window_gl
    rig.close()
    window_gl.close()
    gl.ctx.__enter__()  # the session's headless context is current again for later tests


def screen(gl) -> np.ndarray:
    pixels = np.frombuffer(gl.ctx.screen.read(components=3), np.uint8)
    return pixels.reshape(SIZE[1], SIZE[0], 3)[::-1]


def press(rig: Rig, key: str, until, frames: int = 60) -> None:
    subprocess.run(["xdotool", "key", "--window", rig.window_id, key], timeout=10, check=True)
    for _ in range(frames):
        rig.app.step()
        if until():
            return
        time.sleep(0.01)
    raise AssertionError(f"key {key} had no effect")


def test_hud_is_in_the_window_and_never_in_the_output(windowed):
    rig, window, gl = windowed
    for _ in range(3):
        rig.app.step()
    on_screen, output = screen(gl), rig.sink.frames[-1].image
    assert on_screen[HUD_TEXT].max() > 200, "the HUD's text is on the preview"
    assert output[HUD_TEXT].max() == 0, "the output holds only the scene's black background"
    # Away from the HUD the preview is exactly the output.
    centre = (slice(150, 210), slice(280, 360))
    assert np.array_equal(on_screen[centre], output[centre])


def test_hotkeys_switch_blank_toggle_the_hud_and_quit(windowed):
    rig, window, gl = windowed
    director = rig.app.director
    rig.app.step()
    press(rig, "2", lambda: director.current.scene.name == "green")
    assert tuple(rig.sink.frames[-1].image[180, 320]) == (0, 255, 0)
    press(rig, "3", lambda: director.current.scene.name == "blue")
    press(rig, "b", lambda: rig.app.shutter.blank)
    press(rig, "b", lambda: not rig.app.shutter.blank)
    press(rig, "f", lambda: rig.app.switches.freeze)
    press(rig, "h", lambda: not rig.app.switches.hud)
    rig.app.step()
    assert screen(gl)[HUD_TEXT].max() == 0, "H hid the HUD"
    press(rig, "Escape", lambda: rig.app.switches.quit)


def test_escape_asks_once_while_the_virtual_camera_is_live(windowed):
    rig, window, gl = windowed
    rig.camera_live = True
    rig.app.step()
    subprocess.run(["xdotool", "key", "--window", rig.window_id, "Escape"], timeout=10, check=True)
    for _ in range(10):
        rig.app.step()
    assert not rig.app.switches.quit and window.notice and "Esc again" in window.notice
    press(rig, "Escape", lambda: rig.app.switches.quit)
