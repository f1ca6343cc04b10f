"""The worker-thread tracker: newest result, each frame tracked once, failures become 'lost'."""

from __future__ import annotations

import time

import numpy as np

from engine.performer import ScriptedPerformer
from engine.tracking.threaded import ThreadedTracker
from engine.types import Frame


def frame(index: int) -> Frame:
    return Frame(np.zeros((8, 8, 3), np.uint8), index / 30, index)


def settle(tracker: ThreadedTracker, f: Frame):
    """Submit ``f`` and wait until the worker has tracked it; returns the newest result."""
    tracker.track(f)
    deadline = time.monotonic() + 5
    while f.index not in tracker.inner.seen and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)  # the result is published just after the inner tracker returns
    return tracker.track(f)


class Counting:
    def __init__(self, fail_on: int | None = None) -> None:
        self.performer = ScriptedPerformer(frame_rate=30)
        self.seen: list[int] = []
        self.fail_on = fail_on
        self.closed = False

    def track(self, f: Frame):
        self.seen.append(f.index)
        if f.index == self.fail_on:
            raise RuntimeError("corrupt frame")
        return self.performer.track(f)

    def close(self) -> None:
        self.closed = True


def test_results_arrive_and_each_frame_is_tracked_once():
    inner = Counting()
    tracker = ThreadedTracker(inner)
    result = settle(tracker, frame(0))
    assert result.found and result.t == 0.0
    for _ in range(5):
        tracker.track(frame(0))  # the same camera frame again: not re-tracked
    assert settle(tracker, frame(1)).t == frame(1).t_capture
    tracker.close()
    assert inner.seen == [0, 1] and inner.closed


def test_a_failing_frame_reads_as_lost_and_tracking_goes_on():
    tracker = ThreadedTracker(Counting(fail_on=1))
    assert settle(tracker, frame(0)).found
    lost = settle(tracker, frame(1))
    assert not lost.found
    assert settle(tracker, frame(2)).found
    tracker.close()
    tracker.close()
