"""One worker mechanism for slow per-frame work: newest input in, newest result out.

The loop must never wait for a model (MediaPipe's 11–13 ms, a neural avatar's hundreds). A
``LatestWorker`` runs ``work`` on its own thread over a one-slot mailbox: an input the worker had
no time for is replaced by the newer one, and the loop reads the newest finished result without
blocking. Libraries that release the GIL while they compute (MediaPipe, torch, onnxruntime) then
overlap with rendering instead of adding to it.

Every worker runs at background priority (on Linux its thread's nice value is raised by
``BACKGROUND_NICE``): the loop's thread and the GL driver's raster threads have the frame's
deadline, a worker only has "soon". Two cores are nearly full in a live session (the default
scene takes 45-55 ms of CPU per 66 ms frame), and without this the scheduler shared them evenly,
so a frame was late whenever MediaPipe's burst landed on the loop's. The threads a library starts
inherit the nice value of the thread that starts them, so a worker's model is built on the
worker's own thread (``prepare``, or on first use in ``work``): the graph threads MediaPipe starts
then run in the background too.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")

BACKGROUND_NICE = 10  # CFS weight 110 against the loop's 1024: about a tenth of a contended core


def run_in_background() -> None:
    """Lower the calling thread's scheduling priority by ``BACKGROUND_NICE`` (Linux, where the
    nice value belongs to each thread; elsewhere it would renice the whole process, so there it
    does nothing). Never raises: the work runs either way."""
    if not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        now = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(now + BACKGROUND_NICE, 19))
    except OSError as error:  # a sandbox may forbid it
        log.debug("background priority not set: %s", error)


class LatestWorker(Generic[In, Out]):
    """``work`` on a worker thread; ``submit`` never blocks, ``latest`` never waits.

    A failing input is reported once with its traceback (then counted) and, with ``on_error``,
    replaced by ``on_error(input)``; otherwise the previous result stays the newest.
    ``prepare`` runs first, on the worker's thread (build the model there, see the module's
    docstring); the constructor waits for it and raises what it raised.
    """

    def __init__(self, work: Callable[[In], Out], name: str,
                 on_error: Callable[[In], Out] | None = None,
                 prepare: Callable[[], None] | None = None) -> None:
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
        self._prepared = threading.Event()
        self._prepare_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(prepare,), name=name, daemon=True)
        self._thread.start()
        self._prepared.wait()
        if self._prepare_error is not None:
            self._thread.join()
            raise self._prepare_error

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

    def _run(self, prepare: Callable[[], None] | None) -> None:
        run_in_background()
        try:
            if prepare is not None:
                prepare()
        except BaseException as error:  # handed to the constructor, which raises it
            self._prepare_error, self._running = error, False
            return
        finally:
            self._prepared.set()
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
