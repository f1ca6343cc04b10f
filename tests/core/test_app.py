"""The loop end to end on real parts: synthetic source, scripted performer, director, compositor,
memory sink; scene switches at frame boundaries; failures that do not stop the loop."""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine.app import STAGES, App, Command, explain
from engine.capture.synthetic import SyntheticSource
from engine.director import LOAD_TIMEOUT_S, Director
from engine.scene_loader import SceneLoader
from engine.gl.compositor import Compositor
from engine.gl.programs import ShaderLibrary
from engine.output.memory import MemorySink
from engine.performer import Pose, ScriptedPerformer
from engine.scenes import Scene, SceneBackground, Style
from engine.session import offline_clock
from tests.core.quad_avatar import quad, tint_of

SIZE = (256, 144)
FPS = 30.0
TINTS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}


def scene(name: str, hotkey: str) -> Scene:
    return Scene(name=name, avatar=name, hotkey=hotkey,
                 background=SceneBackground(color=(0.0, 0.0, 0.0)), style=Style(mirror=False))


@pytest.fixture
def make_app(gl):
    made = []

    def build(crossfade_s: float = 0.0, broken: set[str] = frozenset(), tracker=None,
              source=None):
        shaders = ShaderLibrary(gl.ctx)
        compositor = Compositor(gl.ctx, shaders, SIZE)

        def load(scene: Scene):
            if scene.avatar in broken:
                raise ValueError(f"avatar {scene.avatar} is corrupt")
            return lambda: quad(gl.ctx, TINTS.get(scene.avatar, (1.0, 1.0, 1.0)))

        scenes = [scene("red", "1"), scene("green", "2"), scene("blue", "3")]
        director = Director(scenes, compositor.layers, SceneLoader(load),
                            crossfade_s=crossfade_s)
        if source is None:
            source = SyntheticSource(SIZE, FPS, realtime=False)
            source.start()
        sink = MemorySink()
        sink.open(*SIZE, FPS)
        performer = tracker or ScriptedPerformer((Pose("neutral", 10.0),), frame_rate=FPS)
        app = App(clock=offline_clock(FPS), source=source, tracker=performer, director=director,
                  scene_load_wait_s=LOAD_TIMEOUT_S,
                  compositor=compositor, sinks=[sink], fps=FPS)
        made.append((app, shaders))
        return app, sink

    yield build
    for app, shaders in made:
        app.close()
        app.compositor.release()
        shaders.release()


def test_stage_order_is_data_and_explained():
    names = [stage.name for stage in STAGES]
    assert names == ["controls", "capture", "track", "retarget", "backdrop", "render", "finish",
                     "output"]
    text = explain()
    assert all(name in text for name in names)
    lines = text.splitlines()
    assert "(wait)" in lines[-1]


def test_each_frame_is_output_when_drawn_and_the_loop_waits_after(make_app):
    """Each frame: read back and output at once (that same frame, not the previous one), then
    wait for the next slot — the output does not wait for the deadline."""
    app, sink = make_app()
    events = []
    finish = app.compositor.finish
    app.compositor.finish = lambda *args: (events.append("finish"), finish(*args))[1]
    wait = app.clock.sleep_until_next
    app.clock.sleep_until_next = lambda shift_s: (events.append("wait"), wait(shift_s))[1]
    sink.write = lambda frame, _write=sink.write: (events.append("output"), _write(frame))[1]
    app.commands.put(Command("scene", "2"))
    app.run(max_frames=2)
    assert events == ["finish", "output", "wait"] * 2
    assert [tuple(tint_of(f.image)) for f in sink.frames] == [(0, 255, 0)] * 2
    assert app.stats.on_time == 2


def test_frames_reach_the_sink_with_capture_timestamps(make_app):
    app, sink = make_app()
    app.run(max_frames=5)
    assert len(sink.frames) == 5
    assert [f.index for f in sink.frames] == list(range(5))
    assert tuple(tint_of(sink.frames[-1].image)) == (255, 0, 0)


def test_scene_switch_happens_at_the_next_frame_boundary(make_app):
    app, sink = make_app()
    app.run(max_frames=2)
    app.commands.put(Command("scene", "2"))
    assert tuple(tint_of(sink.frames[-1].image)) == (255, 0, 0)  # queued, not yet applied
    app.step()
    assert tuple(tint_of(sink.frames[-1].image)) == (0, 255, 0)


def test_crossfade_runs_over_the_set_time(make_app):
    app, sink = make_app(crossfade_s=0.3)  # 9 frames at 30 fps
    app.run(max_frames=2)
    app.commands.put(Command("scene", "blue"))
    app.run(max_frames=12)
    reds = [tint_of(f.image)[0] for f in sink.frames[2:]]
    blues = [tint_of(f.image)[2] for f in sink.frames[2:]]
    assert reds[0] > 200 and blues[0] < 55  # the switch frame still shows mostly the old scene
    assert all(a >= b for a, b in zip(reds, reds[1:]))  # red fades out monotonically
    assert all(a <= b for a, b in zip(blues, blues[1:]))
    assert 0 < reds[4] < 255 and 0 < blues[4] < 255  # mid-way both show
    assert reds[9] == 0 and blues[9] == 255  # done after 0.3 s
    assert app.director.outgoing is None


def test_broken_scene_is_refused_and_current_stays(make_app):
    app, sink = make_app(broken={"green"})
    app.commands.put(Command("scene", "2"))
    app.run(max_frames=3)
    assert app.director.current.scene.name == "red"
    assert tuple(tint_of(sink.frames[-1].image)) == (255, 0, 0)
    app.commands.put(Command("scene", "nonexistent"))
    app.step()
    assert app.director.current.scene.name == "red"


class FlakyTracker:
    """Raises on every third frame, like a tracker hitting a corrupt frame."""

    def __init__(self) -> None:
        self.performer = ScriptedPerformer((Pose("neutral", 10.0),), frame_rate=FPS)
        self.calls = 0

    def track(self, frame):
        self.calls += 1
        if self.calls % 3 == 0:
            raise RuntimeError("corrupt frame")
        return self.performer.track(frame)

    def close(self) -> None:
        pass


def test_a_failing_stage_loses_one_frame_not_the_loop(make_app):
    app, sink = make_app(tracker=FlakyTracker())
    app.run(max_frames=9)
    assert len(sink.frames) == 9  # every frame still came out


def test_blank_hides_the_avatar_and_freeze_holds_the_expression(make_app):
    app, sink = make_app()
    app.step()
    app.commands.put(Command("blank"))
    app.step()
    assert app.shutter.blank
    assert tuple(tint_of(sink.frames[-1].image)) != (255, 0, 0)  # the "be right back" card
    assert not np.all(sink.frames[-1].image == (255, 0, 0), axis=2).any()
    app.commands.put(Command("blank"))
    app.commands.put(Command("freeze"))
    app.step()
    frozen = app._last_expression
    app.step()
    assert app._last_expression is frozen


def test_quit_ends_run(make_app):
    app, sink = make_app()
    app.commands.put(Command("quit"))
    app.run()
    assert len(sink.frames) == 1


class RecordingPerformer(ScriptedPerformer):
    """The scripted face, noting which frames it was asked to track."""

    def __init__(self) -> None:
        super().__init__((Pose("neutral", 10.0),), frame_rate=FPS)
        self.tracked: list[int] = []

    def track(self, frame):
        self.tracked.append(frame.index)
        return super().track(frame)


def test_camera_frames_reach_the_tracker_as_they_arrive_but_not_behind_the_shutter(
        make_app, shared_asset):
    """A live source's frames go to the tracker's worker from the camera's thread, before the
    loop runs a frame; with the shutter closed none does."""
    from engine.capture.video import VideoFileSource
    from engine.tracking.threaded import ThreadedTracker

    performer = RecordingPerformer()
    camera = VideoFileSource(shared_asset("video/pyfeat_single_face.mp4"), size=SIZE)
    camera.start()
    try:
        app, _ = make_app(tracker=ThreadedTracker(lambda: performer), source=camera)
        time.sleep(0.3)
        assert len(performer.tracked) >= 3  # no frame has run: the camera's thread handed them
        app.apply(Command("blank"))
        time.sleep(0.05)
        count = len(performer.tracked)
        time.sleep(0.3)
        assert len(performer.tracked) <= count + 1  # at most the one the worker was given
        assert performer.tracked == sorted(set(performer.tracked))  # each once, in order
    finally:
        camera.close()
