"""A lock-free single-producer / single-consumer ring buffer of float32 samples.

The audio callback and the worker thread exchange samples through these. Neither side ever waits:
the writer stores what fits and reports how much it dropped, the reader takes what is there. The
two positions are plain monotonically increasing integers, each written by one side only; the
writer copies the samples *before* publishing its new position, so the reader never sees a
position ahead of the data (rebinding a Python int is atomic under the GIL, and numpy slice copies
complete before the next bytecode runs).
"""

from __future__ import annotations

import numpy as np


class SampleRing:
    """Bounded FIFO of mono float32 samples for exactly one writer thread and one reader thread."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"ring capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self._data = np.zeros(self.capacity, np.float32)
        self._written = 0  # total samples ever written; only the writer changes it
        self._read = 0  # total samples ever read; only the reader changes it

    def available(self) -> int:
        """Samples waiting to be read."""
        return self._written - self._read

    def free(self) -> int:
        """Room left for the writer."""
        return self.capacity - (self._written - self._read)

    def write(self, samples: np.ndarray) -> int:
        """Append as many samples as fit; returns how many were dropped (0 when all fit)."""
        n = min(len(samples), self.free())
        if n > 0:
            start = self._written % self.capacity
            first = min(n, self.capacity - start)
            self._data[start:start + first] = samples[:first]
            if n > first:
                self._data[:n - first] = samples[first:n]
            self._written += n  # publish only after the copy
        return len(samples) - n

    def read(self, max_samples: int | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Up to ``max_samples`` samples (all available when None), oldest first.

        With ``out`` the samples are copied into its beginning and a view of the filled part is
        returned, so the audio callback can read without allocating.
        """
        n = self.available()
        if max_samples is not None:
            n = min(n, max_samples)
        result = np.empty(n, np.float32) if out is None else out[:n]
        if n > 0:
            start = self._read % self.capacity
            first = min(n, self.capacity - start)
            result[:first] = self._data[start:start + first]
            if n > first:
                result[first:] = self._data[:n - first]
            self._read += n  # publish only after the copy
        return result

    def discard(self, n: int) -> int:
        """Drop up to ``n`` of the oldest samples (reader side); returns how many went."""
        n = max(0, min(n, self.available()))
        self._read += n
        return n
