"""Tracking on a worker thread, so the loop never waits for the face model.

MediaPipe takes 11–13 ms a frame on these machines and releases the GIL while it runs, so on its
own thread it overlaps with rendering instead of adding to it. The loop hands each new frame to
the worker (a one-slot mailbox: a frame the worker had no time for is replaced by the newer one)
and uses the most recent result. The face shown is at most one frame older than the picture,
which the retarget stage's smoothing already exceeds; in exchange the loop's frame time no longer
contains the tracker's.
"""

from __future__ import annotations

import logging
import threading

from engine.tracking.base import Tracker
from engine.types import FaceState, Frame

log = logging.getLogger(__name__)


class ThreadedTracker:
    """Runs ``inner.track`` on a worker thread; ``track`` returns the newest finished result."""

    def __init__(self, inner: Tracker) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: Frame | None = None
        self._latest: FaceState | None = None
        self._submitted_index: int | None = None
        self._running = True
        self._failures = 0
        self._thread = threading.Thread(target=self._work, name="tracker", daemon=True)
        self._thread.start()

    def track(self, frame: Frame) -> FaceState:
        with self._lock:
            if frame.index != self._submitted_index:  # a still camera frame is tracked once
                self._pending = frame
                self._submitted_index = frame.index
                self._wake.notify()
            latest = self._latest
        return latest if latest is not None else FaceState.lost(frame.t_capture)

    def _work(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and self._running:
                    self._wake.wait()
                if not self._running:
                    return
                frame, self._pending = self._pending, None
            try:
                face = self.inner.track(frame)
            except Exception:  # one bad frame must not end tracking
                self._failures += 1
                if self._failures == 1:
                    log.exception("tracker failed on a frame; the face counts as lost")
                face = FaceState.lost(frame.t_capture)
            with self._lock:
                self._latest = face

    def close(self) -> None:
        """Stop the worker, then close the inner tracker; safe to call more than once."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            self._wake.notify()
        self._thread.join(timeout=5.0)
        self.inner.close()
