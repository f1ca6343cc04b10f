"""The frame watchdog through a real App: a tracker that blocks shows as a stall with its dropped
frames and is named when it keeps overrunning; App.say reaches the status. The App's clock runs
on the fake time of the clock tests, which only the blocking tracker (and the clock's sleeps)
move, so the figures are exact."""

from __future__ import annotations

import logging

import pytest

from engine.clock import Clock
from engine.performer import Pose, ScriptedPerformer
from engine.types import FaceState, Frame
from tests.control.conftest import FPS, Rig
from tests.core.test_clock import FakeTime


class BlockingTracker:
    """The scripted performer, except that the chosen calls block for a while."""

    def __init__(self, fake: FakeTime, blocks: dict[int, float]) -> None:
        self.fake, self.blocks = fake, blocks
        self.performer = ScriptedPerformer((Pose("neutral", 60.0),), frame_rate=FPS)
        self.calls = 0

    def track(self, frame: Frame) -> FaceState:
        self.fake.work(self.blocks.get(self.calls, 0.0))
        self.calls += 1
        return self.performer.track(frame)

    def close(self) -> None:
        self.performer.close()


@pytest.fixture
def blocking(gl, tmp_path):
    made = []

    def build(blocks: dict[int, float]):
        rig = Rig(gl, tmp_path)
        fake = FakeTime()
        rig.app.clock = Clock(FPS, time_fn=fake.time, sleep_fn=fake.sleep, spin_s=0.0)
        rig.app.tracker = BlockingTracker(fake, blocks)
        made.append(rig)
        return rig.app, fake

    yield build
    for rig in made:
        rig.close()


def test_a_tracker_blocking_one_second_is_a_stall_with_dropped_frames(blocking, caplog):
    app, _ = blocking({10: 1.0})
    with caplog.at_level(logging.WARNING, logger="engine.app"):
        app.run(max_frames=30)
    figures = app.stats.summary()
    assert figures["longest_stall_ms"] == pytest.approx(1000.0, abs=1.0)
    assert figures["dropped_frames"] == 29  # 1 s is 30 slots; the stalled frame had one
    assert figures["over_budget_s"] == pytest.approx(1.0 - 1 / FPS, abs=1e-3)
    assert figures["on_time_pct"] == pytest.approx(100.0 * 29 / (30 + 29), abs=0.01)
    assert figures["slow_stage"] is None  # once is a stall, not a stage that keeps overrunning
    status = app.status()
    assert status.longest_stall_ms == figures["longest_stall_ms"]
    assert status.dropped_frames == 29 and status.slow_stage is None
    stalls = [r.getMessage() for r in caplog.records if "stalled" in r.getMessage()]
    assert stalls == ["the picture stalled for 1.0 s (29 frames dropped); track took 1000 ms"]


def test_a_stage_that_keeps_overrunning_is_named(blocking, caplog):
    app, _ = blocking({20: 0.05, 40: 0.06, 60: 0.05, 200: 0.05})  # three within 10 s
    with caplog.at_level(logging.WARNING, logger="engine.app"):
        app.run(max_frames=210)
    assert app.stats.summary()["slow_stage"] == "track"
    assert app.status().slow_stage == "track"
    assert app.stats.stages.counts == {"track": 4}
    named = [r.getMessage() for r in caplog.records if "longer than a whole frame" in
             r.getMessage()]
    assert named == ["stage 'track' took longer than a whole frame (33 ms) 3 times in 10 s; "
                     "longest 60 ms"]  # one line, when it was named, not one per overrun


def test_app_say_shows_in_the_status_with_its_age(blocking):
    app, fake = blocking({})
    app.run(max_frames=3)
    assert app.status().message is None
    app.say("Calibrated: this is your neutral face now")
    app.run(max_frames=30)
    status = app.status()
    assert status.message == "Calibrated: this is your neutral face now"
    assert status.message_age_s == pytest.approx(1.0, abs=0.04)
