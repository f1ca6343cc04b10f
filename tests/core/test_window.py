"""The preview window under Xvfb: real key events become commands, the HUD shows in the window
and never in the frames other sinks receive."""

from __future__ import annotations

import shutil
import subprocess
import time

import numpy as np
import pytest

from engine.gl.context import GLContext
from engine.gl.programs import ShaderLibrary
from engine.output.window import WindowSink
from engine.types import Frame

SIZE = (320, 180)


@pytest.fixture
def window(xvfb):
    gl = GLContext.windowed(*SIZE, title="persona-test")
    shaders = ShaderLibrary(gl.ctx)
    commands: list[str] = []
    hud = np.zeros((SIZE[1], SIZE[0], 4), np.uint8)
    hud[:20, :] = (255, 255, 255, 255)  # an opaque white bar across the top
    sink = WindowSink(gl, shaders, {"1": "scene:1", "B": "blank", "ESCAPE": "quit"},
                      commands.append, overlay=lambda: hud)
    sink.open(*SIZE, 30.0)
    yield gl, sink, commands
    sink.close()
    shaders.release()
    gl.close()


def show(sink: WindowSink, color: tuple[int, int, int], times: int = 3) -> np.ndarray:
    image = np.empty((SIZE[1], SIZE[0], 3), np.uint8)
    image[:] = color
    for n in range(times):
        sink.write(Frame(image, 0.0, n))
    return image


def grab(display: str) -> np.ndarray:
    from PIL import ImageGrab

    return np.asarray(ImageGrab.grab(xdisplay=display).convert("RGB"))


def find_window(display: str) -> str:
    output = subprocess.run(["xdotool", "search", "--name", "persona-test"], capture_output=True,
                            text=True, env={"DISPLAY": display}, check=True).stdout.split()
    return output[0]


def test_window_shows_frame_with_hud_on_top(window, xvfb):
    gl, sink, _ = window
    image = show(sink, (200, 30, 30))
    screen = grab(xvfb)
    # The window sits somewhere on the screen: find its red body and the white HUD bar above it.
    red = np.all(np.abs(screen.astype(int) - (200, 30, 30)) <= 2, axis=2)
    white = np.all(screen >= 250, axis=2)
    assert red.sum() > 0.8 * (SIZE[0] * (SIZE[1] - 20))
    rows_red = np.nonzero(red.any(axis=1))[0]
    rows_white = np.nonzero(white.any(axis=1))[0]
    assert rows_white.size and rows_white.max() < rows_red.min() + 2  # HUD bar at the top
    assert (image == (200, 30, 30)).all()  # the frame handed on is untouched by the HUD


def test_key_presses_become_commands(window, xvfb):
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed")
    gl, sink, commands = window
    show(sink, (0, 0, 0))
    window_id = find_window(xvfb)
    env = {"DISPLAY": xvfb}
    subprocess.run(["xdotool", "windowfocus", "--sync", window_id], env=env, check=True)
    for key in ("1", "b", "Escape", "x"):
        subprocess.run(["xdotool", "key", "--window", window_id, key], env=env, check=True)
    deadline = time.monotonic() + 5
    while len(commands) < 3 and time.monotonic() < deadline:
        show(sink, (0, 0, 0), times=1)
    assert commands == ["scene:1", "blank", "quit"]  # unmapped "x" does nothing


def test_escape_asks_once_while_the_virtual_camera_is_live(window, xvfb):
    gl, sink, commands = window
    sink.confirm_quit = lambda: True
    import glfw

    sink._on_key(gl.window, glfw.KEY_ESCAPE, 0, glfw.PRESS, 0)
    assert commands == [] and "Esc again" in sink.notice
    sink._on_key(gl.window, glfw.KEY_ESCAPE, 0, glfw.PRESS, 0)
    assert commands == ["quit"]
