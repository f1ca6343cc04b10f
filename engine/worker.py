"""One worker mechanism for slow per-frame work: newest input in, newest result out.

The loop must never wait for a model (MediaPipe's 11–13 ms, a neural avatar's hundreds). A
``LatestWorker`` runs ``work`` on its own thread over a one-slot mailbox: an input the worker had
no time for is replaced by the newer one, and the loop reads the newest finished result without
blocking. Libraries that release the GIL while they compute (MediaPipe, torch, onnxruntime) then
overlap with rendering instead of adding to it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")


class LatestWorker(Generic[In, Out]):
    """``work`` on a worker thread; ``submit`` never blocks, ``latest`` never waits.

    A failing input is reported once with its traceback (then counted) and, with ``on_error``,
    replaced by ``on_error(input)``; otherwise the previous result stays the newest.
    """

    def __init__(self, work: Callable[[In], Out], name: str,
                 on_error: Callable[[In], Out] | None = None) -> None:
        self._work_fn = work
        self._on_error = on_error
        self._name = name
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._finished = threading.Condition(self._lock)
        self._pending: In | None = None
        self._has_pending = False
        self._latest: Out | None = None
        self.results = 0  # finished inputs, for tests and status
        self.failures = 0
        self._running = True
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: In) -> None:
        """Hand over the newest input, replacing one the worker has not started on."""
        with self._lock:
            self._pending, self._has_pending = item, True
            self._wake.notify()

    def latest(self) -> Out | None:
        """The newest finished result, or None before the first."""
        with self._lock:
            return self._latest

    def wait_for(self, wanted: Callable[[Out], bool], timeout: float) -> Out | None:
        """The newest result once ``wanted(result)`` holds, waiting at most ``timeout`` seconds
        (0: just look); None if it does not hold by then. For callers that may block, such as
        an offline render that wants every result."""
        with self._finished:
            self._finished.wait_for(lambda: self._latest is not None and wanted(self._latest),
                                    timeout)
            latest = self._latest
        return latest if latest is not None and wanted(latest) else None

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._has_pending and self._running:
                    self._wake.wait()
                if not self._running:
                    return
                item, self._pending, self._has_pending = self._pending, None, False
            try:
                result = self._work_fn(item)
            except Exception:  # one bad input must not end the worker
                self.failures += 1
                if self.failures == 1:
                    log.exception("%s failed on an input; it goes on with the next", self._name)
                if self._on_error is None:
                    continue
                result = self._on_error(item)
            with self._lock:
                self._latest = result
                self.results += 1
                self._finished.notify_all()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker (after the input it is on); safe to call more than once."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            self._wake.notify()
        self._thread.join(timeout=timeout)
