"""Clock pacing under fake time: deadlines, late frames, catch-up without a spiral."""

import pytest

from engine.clock import Clock, FrameStats


class FakeTime:
    """A clock that only moves when the code under test sleeps or a test says work took time."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, "never sleeps a negative time"
        self.sleeps.append(seconds)
        self.now += seconds

    def work(self, seconds: float) -> None:
        self.now += seconds


def make_clock(fps: float = 10.0) -> tuple[Clock, FakeTime]:
    fake = FakeTime()
    return Clock(fps, time_fn=fake.time, sleep_fn=fake.sleep, spin_s=0.0), fake


def test_frames_start_on_a_fixed_grid():
    clock, fake = make_clock(10.0)
    starts = []
    for _ in range(5):
        starts.append(clock.tick().t)
        fake.work(0.03)
        assert clock.sleep_until_next()
    assert starts == pytest.approx([100.0, 100.1, 100.2, 100.3, 100.4])
    assert clock.late_frames == clock.dropped_frames == 0


def test_deadline_is_the_start_of_the_next_slot():
    clock, fake = make_clock(20.0)
    tick = clock.tick()
    assert tick.deadline == pytest.approx(tick.t + 0.05)


def test_late_frame_drops_missed_slots_and_never_schedules_into_the_past():
    clock, fake = make_clock(10.0)
    clock.tick()
    fake.work(0.25)  # overran two and a half slots
    assert not clock.sleep_until_next()
    assert clock.late_frames == 1
    assert clock.dropped_frames == 1  # the slot 100.1..100.2 passed without any frame
    # The next frame starts at once (inside the slot at 100.2..100.3) and its deadline is ahead.
    tick = clock.tick()
    assert tick.t == pytest.approx(100.25)
    assert tick.deadline == pytest.approx(100.3)
    assert tick.deadline > fake.now
    fake.work(0.01)
    assert clock.sleep_until_next()
    assert fake.now == pytest.approx(100.3)


def test_one_slow_frame_does_not_cause_a_burst_of_catch_up_frames():
    clock, fake = make_clock(10.0)
    clock.tick()
    fake.work(0.55)
    clock.sleep_until_next()
    starts = []
    for _ in range(4):
        starts.append(clock.tick().t)
        fake.work(0.02)
        clock.sleep_until_next()
    # The first frame after the overrun starts at once (100.55) and is due at 100.6; from then
    # on frames start on the grid again, one per slot, none bunched up.
    assert starts == pytest.approx([100.55, 100.6, 100.7, 100.8])


def test_sustained_overload_counts_every_frame_late_without_spiralling():
    clock, fake = make_clock(10.0)
    for _ in range(10):
        clock.tick()
        fake.work(0.15)
        clock.sleep_until_next()
    assert clock.late_frames == 10
    assert fake.sleeps == []  # never waited while behind
    # Frames run back to back; the slots that pass with no frame finishing in them are dropped
    # (one in three at 150 ms per 100 ms slot), and no debt accumulates beyond that.
    assert 1 <= clock.dropped_frames <= 5


def test_sleep_before_tick_is_an_error():
    clock, _ = make_clock()
    with pytest.raises(RuntimeError):
        clock.sleep_until_next()


def test_fps_must_be_positive():
    with pytest.raises(ValueError):
        Clock(0)


def test_spin_covers_the_last_part_of_a_wait():
    fake = FakeTime()
    polls = []

    def time_fn():
        polls.append(fake.now)
        fake.now += 0.0001  # each poll takes a little time, as a real spin would
        return fake.now

    clock = Clock(10.0, time_fn=time_fn, sleep_fn=fake.sleep, spin_s=0.002)
    tick = clock.tick()
    clock.sleep_until_next()
    assert fake.sleeps and fake.sleeps[0] < 0.1
    assert fake.now >= tick.deadline  # never returns before the deadline


def test_stats_report_percentiles_on_time_and_latency():
    stats = FrameStats()
    for n in range(100):
        start = n / 30
        stats.record(start, start + 0.010 + (0.010 if n == 99 else 0.0), start - 0.02, n != 50)
    summary = stats.summary()
    assert summary["fps"] == pytest.approx(30.0)
    assert summary["on_time_pct"] == pytest.approx(99.0)
    assert summary["frame_ms_p50"] == pytest.approx(10.0)
    assert summary["latency_ms_p50"] == pytest.approx(30.0)
    assert summary["frame_ms_p99"] > summary["frame_ms_p50"]
