"""Status from the loop to other threads, without sharing anything mutable.

The loop publishes a fresh plain-data snapshot a few times a second (``on_frame`` fits
``App(on_frame=...)``); readers on other threads take ``latest()`` — one reference read, so
they never see a half-built snapshot or touch the loop's live objects (``FrameStats`` deques
change while the loop runs; iterating them from another thread would fail).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from engine.status import Status


def session_status(app) -> Status:
    """The app's status snapshot."""
    return app.status()


class StatusBoard:
    """The newest status snapshot, published from the loop at most ``hz`` times a second."""

    def __init__(self, hz: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 status: Callable[[object], Status] = session_status) -> None:
        self.interval = 1.0 / hz
        self._status = status
        self._clock = clock
        self._latest: Status | None = None
        self._published_at = -float("inf")
        self.version = 0  # bumped on each publish; waiters compare it
        self._changed = threading.Condition()

    def publish(self, status: Status) -> None:
        self._latest = status
        self._published_at = self._clock()
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def on_frame(self, app, work=None) -> None:
        """Publish the app's status if the last snapshot is older than the interval."""
        if self._clock() - self._published_at >= self.interval:
            self.publish(self._status(app))

    def latest(self) -> Status | None:
        """The newest snapshot; None before the loop published one."""
        return self._latest

    def wait_newer(self, version: int, timeout: float) -> bool:
        """Block until a snapshot newer than ``version`` exists (for tests and tools)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.version > version, timeout)
