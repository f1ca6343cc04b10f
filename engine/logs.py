"""The terminal: one line per event a clinician should know.

A live session once printed some 9,500 ALSA "underrun occurred" lines in four minutes, around
MediaPipe's start-up banners. ``configure`` (called once by ``engine.cli``) sets up:

- **Python logging** to stderr through ``REPEATS``, a filter that lets the first warning from
  each place through and counts the repeats: the next one to show, at least ``window_s`` later,
  says how many were held back. The counts are in ``Status.suppressed_warnings`` and
  ``Status.repeated_warnings`` for the HUD's detail view.
- **What C libraries print** straight to file descriptor 2, past Python's logging: ALSA's error
  handler (``snd_pcm_recover``'s underruns, from PortAudio's audio thread), absl/glog and TFLite
  in MediaPipe. Their environment switches (``GLOG_minloglevel``, ``TF_CPP_MIN_LOG_LEVEL``) do
  nothing in MediaPipe 0.10.21, whose C++ logs through absl without reading them, so fd 2
  becomes a pipe and a thread turns each line into a record of the logger ``native``: start-up
  banners at debug/info level, everything else a warning, rate-limited like any other. Python's
  own ``sys.stderr`` keeps the terminal, so tracebacks and our log lines never wait on the pipe.

A C library's last words before it aborts the process could be lost in the pipe, so the fault
handler is turned on to write the crash and its Python traceback to the terminal directly;
``--debug`` leaves fd 2 alone for anyone chasing a native problem.
"""

from __future__ import annotations

import atexit
import faulthandler
import io
import logging
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

FORMAT = "%(levelname)s %(name)s: %(message)s"
REPEAT_WINDOW_S = 60.0
_MAX_KEYS = 512  # distinct warnings tracked; beyond that new ones pass uncounted
_LABEL_CHARS = 80

native_log = logging.getLogger("native")


@dataclass
class _Repeat:
    label: str
    shown: deque[float]  # when the last few were shown
    held: int = 0  # held back since the last one shown
    held_in_all: int = 0
    seen: int = 1  # in all


class RepeatFilter(logging.Filter):
    """Lets through at most ``burst`` warnings from one place per ``window_s``; the first one
    shown after a hold says how many like it were held back. A burst of a few, not one: a
    clinician switching the real voice on twice in a minute must read it twice, while 40 ALSA
    underruns a second come down to three lines and then one a minute. Records below ``level``
    always pass: they are what someone asked for (``-v``).

    A record's place is its logger, file and line, or its ``repeat_key`` attribute where one
    logging call stands for many places (the native lines)."""

    def __init__(self, window_s: float = REPEAT_WINDOW_S, burst: int = 3,
                 level: int = logging.WARNING,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window_s = window_s
        self.burst = burst
        self.level = level
        self._clock = clock
        self._repeats: dict[object, _Repeat] = {}
        self._lock = threading.Lock()  # records arrive from the loop, audio threads, the reader
        self.suppressed = 0  # records held back in all

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        key = getattr(record, "repeat_key", None) or (record.name, record.pathname,
                                                      record.lineno)
        now = self._clock()
        with self._lock:
            repeat = self._repeats.get(key)
            if repeat is None:
                if len(self._repeats) < _MAX_KEYS:
                    self._repeats[key] = _Repeat(record.getMessage()[:_LABEL_CHARS],
                                                 deque([now], maxlen=self.burst))
                return True
            repeat.seen += 1
            shown = repeat.shown
            if len(shown) == self.burst and now - shown[0] < self.window_s:
                repeat.held += 1
                repeat.held_in_all += 1
                self.suppressed += 1
                return False
            held, since = repeat.held, now - shown[-1]
            repeat.held = 0
            shown.append(now)
        if held:
            record.msg = f"{record.getMessage()} (and {held} more in the last {since:.0f} s)"
            record.args = None
        return True

    def most_repeated(self, count: int = 3) -> tuple[tuple[str, int], ...]:
        """The warnings seen most often, of those some were held back of: (what, times seen)."""
        with self._lock:
            repeats = sorted((r for r in self._repeats.values() if r.held_in_all),
                             key=lambda r: r.seen, reverse=True)
        return tuple((r.label, r.seen) for r in repeats[:count])


# The terminal's filter; App.status reads its counters.
REPEATS = RepeatFilter()

# absl/glog's prefix: severity, date, time, thread, file:line.
_ABSL = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ ([^\]]+)\] (.*)$")
_ABSL_LEVELS = {"I": logging.DEBUG, "W": logging.INFO, "E": logging.WARNING, "F": logging.ERROR}
# Start-up chatter that says nothing about this session.
_BANNERS = ("INFO: ", "WARNING: All log messages before absl::InitializeLog()")


def native_record(line: str) -> tuple[int, str, str]:
    """A C library's stderr line as (level, repeat key, text)."""
    match = _ABSL.match(line)
    if match:
        severity, place, text = match.groups()
        return _ABSL_LEVELS[severity], place, text
    if line.startswith(_BANNERS):
        return logging.DEBUG, line, line
    # The same message with other numbers (a sample count, an address) is the same warning.
    return logging.WARNING, re.sub(r"\d+", "#", line), line


class NativeStderr:
    """File descriptor 2 as a pipe whose lines become records of the ``native`` logger."""

    def __init__(self) -> None:
        self.terminal = os.dup(2)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        sys.stderr = io.TextIOWrapper(io.FileIO(self.terminal, "w", closefd=False),
                                      line_buffering=True, errors="backslashreplace")
        faulthandler.enable(sys.stderr)
        self._reader = threading.Thread(target=self._read, args=(read,), name="native-stderr",
                                        daemon=True)
        self._reader.start()
        atexit.register(self.close)

    @staticmethod
    def _read(fd: int) -> None:
        with open(fd, "rb") as pipe:
            for raw in pipe:
                line = raw.decode(errors="replace").rstrip()
                if line:
                    level, key, text = native_record(line)
                    native_log.log(level, "%s", text, extra={"repeat_key": ("native", key)})

    def close(self) -> None:
        """fd 2 back to the terminal; the pipe, left without a writer, drains and ends."""
        os.dup2(self.terminal, 2)
        self._reader.join(1.0)


def configure(level: int, native: bool) -> None:
    """Logging to stderr at ``level`` through ``REPEATS``, once per process; ``native`` also
    takes over fd 2 (only for the process's own command line: a test calling ``main`` in
    process owns its descriptors)."""
    root = logging.getLogger()
    root.setLevel(level)
    if root.handlers:  # configured already: by an earlier call, a test runner, an embedder
        return
    if native:
        NativeStderr()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(REPEATS)
    root.addHandler(handler)
