"""The worker-thread tracker: newest result, each frame tracked once, failures become 'lost'."""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np
import pytest

from engine.performer import ScriptedPerformer
from engine.tracking.threaded import ThreadedTracker
from engine.types import Frame
from engine.worker import BACKGROUND_NICE


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


def settle_real(tracker: ThreadedTracker, f: Frame):
    """Submit ``f`` to a real tracker and wait until it reports a face (or 10 s pass)."""
    tracker.track(f)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        face = tracker.track(f)
        if face.found:
            return face
        time.sleep(0.02)
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
    tracker = ThreadedTracker(lambda: inner)
    result = settle(tracker, frame(0))
    assert result.found and result.t == 0.0
    for _ in range(5):
        tracker.track(frame(0))  # the same camera frame again: not re-tracked
    assert settle(tracker, frame(1)).t == frame(1).t_capture
    tracker.close()
    assert inner.seen == [0, 1] and inner.closed


def test_each_tracked_frame_times_its_delay_from_capture_to_face():
    """The phase lock's input: for each frame tracked, the time from its capture to its face."""
    tracker = ThreadedTracker(Counting)
    assert tracker.recent_delays() == []
    captured = time.perf_counter()
    settle(tracker, Frame(np.zeros((8, 8, 3), np.uint8), captured, 0))
    waited = time.perf_counter() - captured
    delays = tracker.recent_delays()
    tracker.close()
    assert len(delays) == 1 and 0.0 < delays[0] < waited


def test_a_frame_handed_over_by_the_camera_is_not_tracked_again_nor_displaced():
    inner = Counting()
    tracker = ThreadedTracker(lambda: inner)
    tracker.submit(frame(3))  # the camera's thread, as the frame arrives
    assert settle(tracker, frame(3)).t == frame(3).t_capture  # the loop's turn: no second run
    tracker.track(frame(2))  # the loop still holding an older frame than the camera sent
    assert settle(tracker, frame(4)).t == frame(4).t_capture
    tracker.close()
    assert inner.seen == [3, 4]


def test_a_failing_frame_reads_as_lost_and_tracking_goes_on():
    tracker = ThreadedTracker(lambda: Counting(fail_on=1))
    assert settle(tracker, frame(0)).found
    lost = settle(tracker, frame(1))
    assert not lost.found
    assert settle(tracker, frame(2)).found
    tracker.close()
    tracker.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="per-thread nice values are Linux's")
def test_mediapipes_own_threads_run_in_the_background():
    """The live tracker is built on its worker, so the graph threads MediaPipe starts (named
    ``mediapipe/…``) inherit the worker's background priority, and the loop's does not change."""
    import skimage.data

    from engine.tracking.mediapipe_tracker import MediaPipeTracker

    def mediapipe_threads() -> dict[int, int]:
        found = {}
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/comm") as comm:
                    if comm.read().startswith("mediapipe"):
                        found[int(task)] = os.getpriority(os.PRIO_PROCESS, int(task))
            except OSError:  # a thread that ended meanwhile
                continue
        return found

    loop = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    before = set(mediapipe_threads())
    tracker = ThreadedTracker(MediaPipeTracker)
    try:
        image = np.ascontiguousarray(skimage.data.astronaut())
        assert settle_real(tracker, Frame(image, 0.0, 0)).found
        started = {tid: nice for tid, nice in mediapipe_threads().items() if tid not in before}
        assert started, "MediaPipe started no threads of its own"
        assert set(started.values()) == {min(loop + BACKGROUND_NICE, 19)}
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop
    finally:
        tracker.close()
