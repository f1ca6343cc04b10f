"""Pairing a tablet: a short code shown on the clinician's screen buys the session's token.

A 6-digit code has only a million values, so guessing is what has to be made hopeless: after
``MAX_FAILURES`` wrong codes within ``WINDOW_S`` every attempt is refused for ``LOCK_S``, the
right code included — from any address, because an attacker on the network can use many. That
is at most 5 guesses in two minutes: years for an even chance. A used code is replaced at once,
so a code read over the clinician's shoulder works once only; the preview shows the new one.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

DIGITS = 6
MAX_FAILURES = 5
WINDOW_S = 60.0
LOCK_S = 60.0


@dataclass(frozen=True)
class Attempt:
    paired: bool
    attempts_left: int = 0  # wrong codes allowed before the lock
    locked_s: float = 0.0  # > 0: refused, locked for this much longer
    locks: bool = False  # this wrong code started the lock


class Pairing:
    """The current code and the guard against guessing it. Thread-safe: the server checks
    codes on its thread, the preview reads ``code`` and ``locked_s`` on the loop's."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: deque[float] = deque()
        self._locked_until = 0.0
        self._code = _new_code()

    @property
    def code(self) -> str:
        with self._lock:
            return self._code

    @property
    def locked_s(self) -> float:
        """How much longer pairing is locked (0 when it is not)."""
        with self._lock:
            return max(0.0, self._locked_until - self._clock())

    def attempt(self, offered: str) -> Attempt:
        with self._lock:
            now = self._clock()
            if now < self._locked_until:
                return Attempt(False, locked_s=self._locked_until - now)
            while self._failures and now - self._failures[0] > WINDOW_S:
                self._failures.popleft()
            offered = "".join(offered.split())  # "123 456" as shown is fine
            if hmac.compare_digest(offered.encode(), self._code.encode()):
                self._code = _new_code()
                return Attempt(True)
            self._failures.append(now)
            if len(self._failures) >= MAX_FAILURES:
                self._failures.clear()
                self._locked_until = now + LOCK_S
                return Attempt(False, locked_s=LOCK_S, locks=True)
            return Attempt(False, attempts_left=MAX_FAILURES - len(self._failures))


def _new_code() -> str:
    return f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"
