"""A token bucket per client address: a page's bursts pass, a flood (or a token guess loop)
does not."""

from __future__ import annotations

import time
from collections.abc import Callable

RATE = 20.0  # requests a second, sustained
BURST = 30  # a page load (page, script, style, catalogues, vocabulary, socket) fits easily
_MAX_CLIENTS = 256  # beyond this, clients whose bucket is full again are forgotten


class RateLimiter:
    """Used on the server's event loop only, so it needs no lock."""

    def __init__(self, rate: float = RATE, burst: int = BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, when counted)

    def wait_s(self, client: str) -> float:
        """Take one request from ``client``'s bucket: 0 when it may pass, else how long until
        it could."""
        now = self._clock()
        tokens, then = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if len(self._buckets) > _MAX_CLIENTS:
            self._forget_idle(now)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens - 1.0, now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        # A full bucket holds nothing worth keeping: a forgotten client starts full anyway.
        full_after = self.burst / self.rate
        self._buckets = {client: entry for client, entry in self._buckets.items()
                         if now - entry[1] < full_after}
