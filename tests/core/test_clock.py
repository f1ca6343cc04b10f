"""Clock pacing under fake time: deadlines, late frames, catch-up without a spiral; the frame
watchdog's figures: stalls, dropped slots, time over budget, a stage that keeps overrunning."""

import pytest

from engine.clock import Clock, FrameStats, Pace, StageOverruns, Tick


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
        assert clock.sleep_until_next().on_time
    assert starts == pytest.approx([100.0, 100.1, 100.2, 100.3, 100.4])
    assert clock.late_frames == clock.dropped_frames == 0


def test_a_shift_moves_this_wait_and_every_later_deadline():
    """The phase lock's steering: an on-time frame's wait ends ``shift_s`` later (or earlier)
    and the grid stays moved; a late frame's shift is not taken (it starts the next at once)."""
    clock, fake = make_clock(10.0)
    starts = []
    for shift in (0.004, -0.002, 0.0, 0.0):
        starts.append(clock.tick().t)
        fake.work(0.03)
        pace = clock.sleep_until_next(shift)
        assert pace.on_time
    starts.append(clock.tick().t)
    assert starts == pytest.approx([100.0, 100.104, 100.202, 100.302, 100.402])
    assert clock.tick().deadline == pytest.approx(100.502)
    fake.work(0.15)  # late: the next frame starts now, on the unmoved grid
    assert not clock.sleep_until_next(0.004).on_time
    assert clock.tick().deadline == pytest.approx(100.602)  # the slot it is in, as moved before


def test_deadline_is_the_start_of_the_next_slot():
    clock, fake = make_clock(20.0)
    tick = clock.tick()
    assert tick.deadline == pytest.approx(tick.t + 0.05)


def test_late_frame_drops_missed_slots_and_never_schedules_into_the_past():
    clock, fake = make_clock(10.0)
    clock.tick()
    fake.work(0.25)  # overran two and a half slots
    pace = clock.sleep_until_next()
    assert not pace.on_time
    assert pace.span_s == pytest.approx(0.25) and pace.over_s == pytest.approx(0.15)
    assert pace.dropped == 1
    assert clock.late_frames == 1
    assert clock.dropped_frames == 1  # the slot 100.1..100.2 passed without any frame
    # The next frame starts at once (inside the slot at 100.2..100.3) and its deadline is ahead.
    tick = clock.tick()
    assert tick.t == pytest.approx(100.25)
    assert tick.deadline == pytest.approx(100.3)
    assert tick.deadline > fake.now
    fake.work(0.01)
    pace = clock.sleep_until_next()
    assert pace.on_time and pace.over_s == 0.0
    assert pace.span_s == pytest.approx(0.05)  # started late in its slot: less than a period
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
        tick = Tick(n, n / 30, (n + 1) / 30)
        pace = Pace(n != 50, 1 / 30, 0.0, 0)
        stats.record(tick, pace, 0.010 + (0.010 if n == 99 else 0.0), 0.030)
    summary = stats.summary()
    assert summary["fps"] == pytest.approx(30.0)
    assert summary["on_time_pct"] == pytest.approx(99.0)
    assert summary["frame_ms_p50"] == pytest.approx(10.0)
    assert summary["latency_ms_p50"] == pytest.approx(30.0)
    assert summary["frame_ms_p99"] > summary["frame_ms_p50"]
    assert summary["dropped_frames"] == 0 and summary["slow_stage"] is None


def paced(fps: float, work_s: list[float]) -> FrameStats:
    """Frames paced by a fake-time clock, each taking the given work time."""
    clock, fake = make_clock(fps)
    stats = FrameStats()
    for seconds in work_s:
        tick = clock.tick()
        fake.work(seconds)
        stats.record(tick, clock.sleep_until_next(), seconds, None)
    return stats


def test_an_eleven_second_freeze_is_a_stall_with_its_dropped_frames_not_on_time():
    # The freeze that once still read "fps 30.0, 99.33 % on time": 150 frames at 30 fps, one
    # of them taking 11 s.
    work = [0.01] * 150
    work[75] = 11.0
    summary = paced(30.0, work).summary()
    assert summary["longest_stall_ms"] == pytest.approx(11000.0, abs=1.0)
    # 11 s is 330 slots: the late frame had one, the frame after it another; 329 had none.
    assert summary["dropped_frames"] == 329
    assert summary["late_frames"] == 1
    assert summary["over_budget_s"] == pytest.approx(11.0 - 1 / 30, abs=1e-3)
    assert summary["on_time_pct"] == pytest.approx(100.0 * 149 / (150 + 329), abs=0.01)
    assert summary["on_time_pct"] < 32


def test_a_healthy_run_has_no_stall_beyond_one_frame():
    summary = paced(30.0, [0.01] * 60).summary()
    assert summary["longest_stall_ms"] == pytest.approx(1000 / 30, abs=0.1)
    assert summary["dropped_frames"] == 0 and summary["over_budget_s"] == 0.0
    assert summary["on_time_pct"] == 100.0


def test_a_stage_is_named_when_it_overruns_three_times_within_ten_seconds():
    overruns = StageOverruns(repeats=3, within_s=10.0)
    assert not overruns.record("track", 0.05, 1.0)
    assert not overruns.record("render", 0.04, 2.0)
    assert not overruns.record("track", 0.06, 12.0)
    assert not overruns.record("track", 0.05, 13.0)  # three in all, but over 12 s
    assert overruns.slow_stage is None
    assert overruns.record("track", 0.20, 14.0)  # 12, 13, 14: three within 10 s
    assert not overruns.record("track", 0.05, 15.0)  # named once
    assert overruns.slow_stage == "track" and overruns.longest_s["track"] == pytest.approx(0.2)
    for t in (20.0, 21.0, 22.0, 23.0, 24.0):
        overruns.record("render", 0.04, t)
    assert overruns.slow_stage == "render"  # both named; render overran more often
