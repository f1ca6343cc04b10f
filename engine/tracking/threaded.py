"""Tracking on a worker thread, so the loop never waits for the face model.

MediaPipe takes 11–13 ms a frame on these machines and releases the GIL while it runs, so on its
own thread (``engine.worker.LatestWorker``) it overlaps with rendering instead of adding to it.
A live camera hands each frame over as it arrives (``submit``, from the capture thread: ``App``),
the loop hands over the frame it took (``track``), and the loop uses the newest result: a frame
or two older than the picture under load (``bench e2e``'s face latency), in exchange for a loop
whose frame time does not contain the tracker's. The tracker is built on the worker's thread, so
the threads MediaPipe starts for its graph share the worker's background priority
(``engine.worker``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from engine.tracking.base import Tracker
from engine.types import FaceState, Frame
from engine.worker import LatestWorker


class ThreadedTracker:
    """Runs the tracker ``open_inner()`` makes on a worker thread (made there too; what it raises
    is raised here); ``track`` returns the newest finished result."""

    def __init__(self, open_inner: Callable[[], Tracker]) -> None:
        self.inner: Tracker | None = None

        def build() -> None:
            self.inner = open_inner()

        # How long after its capture each frame's face was ready (the loop's phase lock reads it).
        self._delays: deque[float] = deque(maxlen=30)

        def track(frame: Frame) -> FaceState:
            face = self.inner.track(frame)
            self._delays.append(time.perf_counter() - frame.t_capture)
            return face

        # A frame the tracker fails on counts as a lost face.
        self._worker = LatestWorker(track, "tracker",
                                    on_error=lambda frame: FaceState.lost(frame.t_capture),
                                    prepare=build)
        self._lock = threading.Lock()  # submit is called from the camera's and the loop's thread
        self._submitted_index: int | None = None
        self._closed = False

    def submit(self, frame: Frame) -> None:
        """Hand ``frame`` to the worker now (the camera's thread does, as frames arrive:
        ``App``). Each frame is tracked once, and never after a newer one: the loop handing over
        the frame it took a moment ago must not displace the one the camera has just sent."""
        with self._lock:
            if self._submitted_index is not None and frame.index <= self._submitted_index:
                return
            self._submitted_index = frame.index
        self._worker.submit(frame)

    def track(self, frame: Frame) -> FaceState:
        self.submit(frame)
        latest = self._worker.latest()
        return latest if latest is not None else FaceState.lost(frame.t_capture)

    def recent_delays(self) -> list[float]:
        """Seconds from capture to face for the last frames tracked (a second's worth)."""
        return list(self._delays)

    def set_upper_body(self, on: bool) -> None:
        """Pass a scene's ``upper_body`` on to an inner tracker that can follow arms."""
        follow = getattr(self.inner, "set_upper_body", None)
        if follow is not None:
            follow(on)

    def close(self) -> None:
        """Stop the worker, then close the inner tracker; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._worker.close()
        self.inner.close()
