"""``persona avatar view`` under Xvfb: real mouse and key events (XTEST, through xdotool) orbit,
zoom and pick expressions; saving the model reloads it; a video drives the face."""

from __future__ import annotations

import gc
import math
import os
import shutil
import subprocess
import time

import numpy as np
import pytest

from engine.avatar.viewer import ARROW_STEP, PITCH_LIMIT, AvatarViewer, ViewState, groups
from engine.resources import PROJECT_ROOT
from engine.types import BLENDSHAPE_INDEX
from tests.conftest import xvfb
from tests.scenes.test_window import release_current_egl

SIZE = (320, 240)


def test_view_state_orbit_zoom_and_groups():
    state = ViewState()
    state.drag(180)
    assert state.yaw == pytest.approx(math.pi / 2)
    state.drag(720)  # wraps to (-pi, pi]
    assert -math.pi <= state.yaw <= math.pi
    for _ in range(40):
        state.scroll(1)
    assert state.zoom == 4.0  # clamped
    state.command("group:3")
    assert groups()[2][0] == "smile"
    smile = BLENDSHAPE_INDEX["mouthSmileLeft"]
    full = state.expression().blendshapes[smile]
    state.command("weaker")
    assert state.expression().blendshapes[smile] == pytest.approx(0.75 * full)
    state.command("neutral")
    assert not state.expression().blendshapes.any()
    state.drag(0, 60)  # down: from above
    assert state.pitch == pytest.approx(math.radians(30))
    state.drag(0, -1000)
    assert state.pitch == -PITCH_LIMIT  # clamped: never over the top
    state.arrow("UP")
    assert state.pitch == pytest.approx(-PITCH_LIMIT + ARROW_STEP)
    yaw = state.yaw
    state.arrow("LEFT")
    assert state.yaw == pytest.approx(yaw - ARROW_STEP)
    state.command("reset")
    assert (state.yaw, state.pitch, state.zoom) == (0.0, 0.0, 1.0)
    assert state.shot == "head"
    state.command("shot")
    assert state.shot == "upper_body" and "upper body shot" in state.label()
    state.command("shot")
    assert state.shot == "head"


@pytest.fixture
def window(monkeypatch, gl):
    from engine.gl.context import GLContext
    from engine.gl.programs import ShaderLibrary

    with xvfb(monkeypatch, "640x480x24", range(140, 190)):
        release_current_egl()
        window_gl = GLContext.windowed(*SIZE, title="Persona viewer")
        held = [window_gl, ShaderLibrary(window_gl.ctx)]
        try:
            yield held
        finally:
            held[1].release()
            window_gl.close()
            gl.ctx.__enter__()  # the session's headless context is current again
            # Freeing the window's GL context leaves cyclic garbage (glcontext's libGL handle).
            # Dropped and collected here, not when pytest lets go of the fixture's value, it
            # cannot land in a later test that counts what a collection finds.
            held.clear()
            del window_gl
            while gc.collect():
                pass


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], timeout=10, check=True, env=os.environ)


def screen(gl) -> np.ndarray:
    pixels = np.frombuffer(gl.ctx.screen.read(components=3), np.uint8)
    return pixels.reshape(SIZE[1], SIZE[0], 3)[::-1]


def steps_until(viewer: AvatarViewer, done, frames: int = 100) -> None:
    for _ in range(frames):
        assert viewer.step()
        if done():
            return
        time.sleep(0.01)
    raise AssertionError("the input had no effect")


def test_mouse_orbits_and_zooms_keys_pick_groups_and_a_save_reloads(window, tmp_path):
    from engine.avatar.procedural import PersonaParams, write_persona

    gl, shaders = window
    folder = tmp_path / "default"
    shutil.copytree(PROJECT_ROOT / "avatars" / "default", folder)
    viewer = AvatarViewer(str(folder), gl, shaders, SIZE)
    try:
        window_id = subprocess.run(["xdotool", "search", "--sync", "--name", "Persona viewer"],
                                   capture_output=True, text=True, timeout=10,
                                   env=os.environ).stdout.split()[0]
        xdotool("windowfocus", "--sync", window_id)

        def drag(start: tuple[int, int], end: tuple[int, int]) -> None:
            xdotool("mousemove", "--window", window_id, *map(str, start), "mousedown", "1")
            steps_until(viewer, lambda: viewer._dragging_from is not None)
            xdotool("mousemove", "--window", window_id, *map(str, end), "mouseup", "1")
            steps_until(viewer, lambda: viewer._dragging_from is None)

        viewer.step()
        front = screen(gl)
        # Drag to the right: the camera orbits, the face turns away.
        drag((100, 120), (160, 120))
        assert viewer.state.yaw == pytest.approx(60 * math.radians(0.5), abs=1e-6)
        viewer.step()
        turned = screen(gl)
        assert np.abs(turned.astype(int) - front).sum(axis=2).astype(bool).mean() > 0.05
        # Wheel up zooms in: the head covers more of the window.
        xdotool("click", "--window", window_id, "4")
        steps_until(viewer, lambda: viewer.state.zoom > 1.0)
        xdotool("key", "--window", window_id, "r")
        steps_until(viewer, lambda: viewer.state.yaw == 0.0)
        viewer.step()
        front = screen(gl)
        # Drag down: the camera tilts to look from above, the picture changes.
        drag((160, 60), (160, 120))
        assert viewer.state.pitch == pytest.approx(60 * math.radians(0.5), abs=1e-6)
        viewer.step()
        assert viewer.avatar.pitch == viewer.state.pitch
        assert np.abs(screen(gl).astype(int) - front).sum(axis=2).astype(bool).mean() > 0.05
        # The arrow keys orbit and tilt; tilting stops at the limit.
        xdotool("key", "--window", window_id, "Right")
        steps_until(viewer, lambda: viewer.state.yaw == pytest.approx(ARROW_STEP))
        for _ in range(12):
            xdotool("key", "--window", window_id, "Down")
        steps_until(viewer, lambda: viewer.state.pitch == -PITCH_LIMIT)
        viewer.step()
        assert viewer.avatar.pitch == -PITCH_LIMIT
        xdotool("key", "--window", window_id, "r")
        steps_until(viewer, lambda: viewer.state.pitch == 0.0)
        # Key 3 shows the third group, S weakens it.
        xdotool("key", "--window", window_id, "3")
        steps_until(viewer, lambda: viewer.state.group == 2)
        xdotool("key", "--window", window_id, "s")
        steps_until(viewer, lambda: viewer.state.intensity == 0.75)
        viewer.step()
        smiling = screen(gl)
        assert np.abs(smiling.astype(int) - front).sum(axis=2).astype(bool).any()
        # Saving a different persona over the model reloads it; a broken save keeps the last.
        first = viewer.avatar
        write_persona(tmp_path, "default", PersonaParams.from_seed(5, hair_style="bob"))
        steps_until(viewer, lambda: viewer.avatar is not first)
        reloaded = viewer.avatar
        (folder / "default.glb").write_bytes(b"glTF not really")
        time.sleep(0.6)
        for _ in range(3):
            assert viewer.step()
        assert viewer.avatar is reloaded
        xdotool("key", "--window", window_id, "Escape")
        for _ in range(100):
            if not viewer.step():
                break
            time.sleep(0.01)
        assert viewer.state.quit
    finally:
        viewer.close()


def test_a_video_drives_the_face(window, shared_asset):
    gl, shaders = window
    video = str(shared_asset("video/pyfeat_single_face.mp4"))
    viewer = AvatarViewer("default", gl, shaders, SIZE, source=video)
    try:
        neutral = viewer.state.expression()
        deadline = time.monotonic() + 30
        shown = neutral
        while time.monotonic() < deadline:
            viewer.step()
            shown = viewer._driver.shown
            if not np.allclose(shown.head, neutral.head, atol=1e-3) and shown.blendshapes.any():
                break
            time.sleep(0.03)
        assert shown.blendshapes.any(), "the tracked face moved no channel"
        assert not np.allclose(shown.head, neutral.head, atol=1e-3), "the head pose was not followed"
    finally:
        viewer.close()


def test_a_video_drives_godettes_arms_in_the_upper_body_shot(window, shared_asset):
    """``--upper-body``: the tracker follows the arms too (so the shown expression carries
    them) and the model is framed head to hips; B still switches the shot while a video drives."""
    gl, shaders = window
    video = str(shared_asset("video/pyfeat_single_face.mp4"))
    viewer = AvatarViewer(str(shared_asset("vrm/Godette_vrm_v4.vrm")), gl, shaders, SIZE,
                          source=video, upper_body=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and viewer._driver.shown.arms is None:
            viewer.step()
            time.sleep(0.03)
        assert viewer._driver.shown.arms is not None, "the arms were not tracked"
        assert viewer.avatar.shot == "upper_body"
        viewer._on_command("shot")
        viewer.step()
        assert viewer.avatar.shot == "head"
    finally:
        viewer.close()


def test_upper_body_without_a_source_is_refused(monkeypatch, capsys):
    from engine.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    assert main(["avatar", "view", "default", "--upper-body"]) == 1
    assert "--upper-body" in capsys.readouterr().err


def test_an_unknown_avatar_is_refused_before_a_window_opens(monkeypatch, capsys):
    from engine.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    assert main(["avatar", "view", "no-such-avatar"]) == 1
    assert "no-such-avatar" in capsys.readouterr().err
