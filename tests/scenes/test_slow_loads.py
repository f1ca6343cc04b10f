"""Scene switches load off the loop: while a load is pending — slow, stuck, or hostile — the loop
keeps its frame rate, the current scene stays on, and the blank card hides the person at the
next frame; a load that never finishes is refused after its time bound."""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest

from engine.blank import blank_card
from engine.clock import Clock
from engine.status import Command
from tests.control.conftest import FPS, TINTS, Rig, tint_at_centre
from tests.core.quad_avatar import quad


@pytest.fixture
def live_rig(gl, tmp_path):
    """The control tests' session, paced by the real clock and never waiting for a load."""
    rig = Rig(gl, tmp_path)
    rig.app.clock = Clock(FPS)
    rig.app.scene_load_wait_s = 0.0
    rig.app.step()
    yield rig
    rig.close()


def slow_avatars(rig: Rig, release: threading.Event, started: threading.Event) -> None:
    """The green avatar's files take until ``release`` to read (a stuck network drive)."""
    ctx = rig.compositor.ctx

    def load(scene):
        if scene.avatar == "green":
            started.set()
            release.wait(30.0)
        return lambda: quad(ctx, TINTS[scene.avatar])

    rig.app.director.loader.load_avatar = load
    rig.app.director.loader.close()  # forget what the rig loaded: green must load again
    rig.app.director.current.avatar = quad(ctx, TINTS["red"])


def shows_card(rig: Rig) -> bool:
    shown = rig.sink.frames[-1].image.astype(int)
    return float(np.abs(shown - blank_card(shown.shape[1::-1]).astype(int)).mean()) < 2.0


def run_for(rig: Rig, seconds: float) -> float:
    """Step the loop in real time for ``seconds``; the frame rate it kept."""
    frames, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        rig.app.step()
        frames += 1
    return frames / (time.perf_counter() - started)


def test_the_loop_keeps_its_rate_and_the_blank_works_while_a_load_is_pending(live_rig):
    rig = live_rig
    release, started = threading.Event(), threading.Event()
    slow_avatars(rig, release, started)
    try:
        rig.app.commands.put(Command("scene", "2"))
        rig.app.step()
        assert started.wait(5.0) and rig.app.director.loading == "green"
        fps = run_for(rig, 1.5)
        # 30 fps is the target; 29 leaves room for one late frame on a shared machine.
        assert fps >= 29.0, f"the loop fell to {fps:.1f} fps while a scene loaded"
        assert tint_at_centre(rig.sink) == (255, 0, 0)  # the current scene stays on
        rig.app.commands.put(Command("blank", on=True))
        rig.app.step()  # the very next frame
        assert shows_card(rig)
        rig.app.commands.put(Command("blank", on=False))
        rig.app.step()
        release.set()
        deadline = time.monotonic() + 5.0
        while rig.app.director.current.scene.name != "green":
            assert time.monotonic() < deadline, "the finished load never switched"
            rig.app.step()
        assert tint_at_centre(rig.sink) == (0, 255, 0)
    finally:
        release.set()


def test_a_load_that_never_finishes_is_refused_after_its_time_bound(live_rig):
    rig = live_rig
    rig.app.director.load_timeout_s = 0.5
    release, started = threading.Event(), threading.Event()
    slow_avatars(rig, release, started)
    try:
        rig.app.commands.put(Command("scene", "2"))
        run_for(rig, 1.0)
        director = rig.app.director
        assert director.loading is None and director.current.scene.name == "red"
        assert "took longer than 0.5 s" in director.refused.reason
        # The stuck worker was left behind: the next switch loads on a fresh one.
        rig.app.commands.put(Command("scene", "3"))
        deadline = time.monotonic() + 5.0
        while director.current.scene.name != "blue":
            assert time.monotonic() < deadline
            rig.app.step()
    finally:
        release.set()


def cycle_avatar(rig: Rig, gl, folder) -> None:
    """Scene 2's avatar becomes a glTF whose nodes form a cycle (0 → 1 → 0), loaded as a session
    loads avatars: consent checked, files read on the loading worker."""
    from engine.config import Settings
    from engine.session import avatar_loader
    from tests.safety.hostile_files import triangle_gltf

    avatar = folder / "avatars" / "loop"
    avatar.mkdir(parents=True)
    document = triangle_gltf([{"mesh": 0, "children": [1]}, {"children": [0]}])
    (avatar / "loop.gltf").write_text(json.dumps(document))
    (avatar / "avatar.toml").write_text('model = "loop.gltf"\n[consent]\nlikeness = "synthetic"\n')
    path = rig.app.director.scenes[1].path
    path.write_text(path.read_text().replace('avatar = "green"', f'avatar = "{avatar}/"'))
    loader = rig.app.director.loader
    real = avatar_loader(gl, rig.shaders, Settings(audit_log=None))
    quads = loader.load_avatar
    loader.load_avatar = lambda scene: real(scene) if scene.avatar.endswith("/") else quads(scene)


@pytest.mark.parametrize("hostile, why", [("fifo scene file", "not a regular file"),
                                          ("huge background", "too large"),
                                          ("node-cycle avatar", "its own ancestor")])
def test_a_hostile_scene_is_refused_while_the_loop_goes_on(live_rig, gl, hostile, why, tmp_path):
    from tests.safety.hostile_files import png_claiming

    rig = live_rig
    path = rig.app.director.scenes[1].path
    if hostile == "fifo scene file":
        path.unlink()
        os.mkfifo(path)  # nothing will ever write to it
    elif hostile == "huge background":
        picture = tmp_path / "huge.png"
        picture.write_bytes(png_claiming(20000, 20000))  # 70 bytes, 400 Mpixel decoded
        path.write_text(path.read_text().replace("[background]\ncolor = [0.0, 0.0, 0.0]",
                                                 f'[background]\nimage = "{picture}"'))
    else:
        cycle_avatar(rig, gl, tmp_path)
    rig.app.commands.put(Command("scene", "2"))
    fps = run_for(rig, 1.0)
    assert fps >= 29.0
    assert rig.app.director.loading is None and rig.app.director.current.scene.name == "red"
    refused = rig.app.director.refused
    assert refused is not None and refused.scene == "green" and why in refused.reason, refused
    rig.app.commands.put(Command("blank", on=True))
    rig.app.step()
    assert shows_card(rig)
