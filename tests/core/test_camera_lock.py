"""The camera phase lock, on simulated time: a camera capturing on its own clock, a loop whose
frames start on a grid the lock moves, and a tracker that needs ``delay`` after each capture."""

import math

import numpy as np
import pytest

from engine.camera_lock import MARGIN_S, MAX_STEP_S, CameraPhaseLock

PERIOD = 1 / 30


def simulate(camera_interval: float, first_capture: float, delays=(0.015,) * 10,
             frames: int = 150, stall_after: int | None = None):
    """(frame starts, phase of each start after the newest capture, shifts, the lock)."""
    lock = CameraPhaseLock(PERIOD)
    start, starts, phases, shifts = 0.0, [], [], []
    for n in range(frames):
        captures = max(0, math.floor((start - first_capture) / camera_interval) + 1)
        if stall_after is not None:
            captures = min(captures, stall_after)
        newest = first_capture + (captures - 1) * camera_interval
        shift = lock.shift(start, captures - 1, newest, list(delays))
        starts.append(start)
        phases.append(start - newest)
        shifts.append(shift)
        start += PERIOD + shift
    return np.array(starts), np.array(phases), np.array(shifts), lock


@pytest.mark.parametrize("first_capture", [0.001, 0.012, 0.020, 0.0325])
def test_frames_come_to_start_just_after_the_tracker_finishes(first_capture):
    _, phases, shifts, lock = simulate(PERIOD, first_capture)
    assert lock.locked
    assert np.abs(shifts).max() <= MAX_STEP_S + 1e-12
    # After a second and a half, every frame starts delay + margin after its newest capture.
    np.testing.assert_allclose(phases[-60:], 0.015 + MARGIN_S, atol=2e-4)


def test_frames_follow_the_trackers_median_delay_not_its_outliers():
    _, phases, _, _ = simulate(PERIOD, 0.010, delays=(0.012,) * 6 + (0.014,) + (0.030,) * 3)
    np.testing.assert_allclose(phases[-60:], 0.012 + MARGIN_S, atol=2e-4)


def test_a_camera_clock_running_slightly_fast_stays_locked():
    _, phases, _, lock = simulate(PERIOD / 1.001, 0.010, frames=600)
    assert lock.locked
    assert np.abs(phases[-300:] - (0.015 + MARGIN_S)).max() < 1e-3


@pytest.mark.parametrize("fps", [24000 / 1001, 15.0, 60.0])
def test_a_camera_at_another_rate_leaves_the_grid_alone(fps):
    starts, _, shifts, lock = simulate(1 / fps, 0.010)
    assert not lock.locked and math.isnan(lock.error_s)
    assert not shifts.any()
    np.testing.assert_allclose(np.diff(starts), PERIOD)


def test_a_stalled_camera_unlocks():
    _, _, shifts, lock = simulate(PERIOD, 0.010, frames=120, stall_after=60)
    assert shifts[40:59].any()  # locking while the camera delivers
    assert not lock.locked and not shifts[-50:].any()


def test_no_shift_before_the_tracker_is_timed():
    lock = CameraPhaseLock(PERIOD)
    for n in range(40):
        assert lock.shift(n * PERIOD + 0.02, n, n * PERIOD, []) == 0.0
    assert not lock.locked
