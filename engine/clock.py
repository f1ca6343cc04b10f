"""Frame pacing and frame statistics.

``Clock`` keeps the loop on a fixed grid of deadlines ``start + k / fps``. After a frame it sleeps
until the next deadline: a coarse ``sleep`` for most of the wait, then a short spin for the last
millisecond, because OS sleeps overshoot by about a millisecond. When a frame runs late it never
schedules into the past: the next frame starts at once and is due at the first deadline still
ahead; slots that passed without any frame are counted as dropped. One slow frame therefore costs
the frames it overlapped, never a burst of catch-up frames.

The time and sleep functions are injectable so that tests and offline renders drive the clock
with fake time (give such a clock ``spin_s=0``: fake time does not pass while spinning).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# The part of a wait spent spinning instead of sleeping: OS sleep overshoots by up to ~1 ms.
_SPIN_SECONDS = 0.0015


@dataclass(frozen=True)
class Tick:
    """The start of one frame."""

    index: int  # frames started since the clock started
    t: float  # when the frame started (the clock's time)
    deadline: float  # when the frame's output is due: the start of the next slot


class Clock:
    """Paces a loop at ``fps`` frames per second on a fixed deadline grid."""

    def __init__(
        self,
        fps: float,
        time_fn: Callable[[], float] = time.perf_counter,
        sleep_fn: Callable[[float], None] = time.sleep,
        spin_s: float = _SPIN_SECONDS,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.period = 1.0 / fps
        self._time = time_fn
        self._sleep = sleep_fn
        self._spin_s = spin_s
        self._start: float | None = None
        self._slot = 0  # index of the grid slot the current frame occupies
        self.frames = 0
        self.late_frames = 0  # frames that finished after their deadline
        self.dropped_frames = 0  # grid slots skipped because an earlier frame overran

    def now(self) -> float:
        return self._time()

    def tick(self) -> Tick:
        """Mark the start of a frame and return its deadline."""
        now = self._time()
        if self._start is None:
            self._start = now
        self.frames += 1
        return Tick(self.frames - 1, now, self._start + (self._slot + 1) * self.period)

    def sleep_until_next(self) -> bool:
        """Wait for the next slot. Returns True when this frame finished on time."""
        if self._start is None:
            raise RuntimeError("sleep_until_next() called before tick()")
        deadline = self._start + (self._slot + 1) * self.period
        now = self._time()
        on_time = now <= deadline
        if on_time:
            self._slot += 1
            self._wait_until(deadline)
        else:
            self.late_frames += 1
            # The next frame starts at once, in the slot we are already in, and is due at that
            # slot's end: the first deadline still ahead. Slots that passed with no frame at all
            # are dropped.
            current_slot = math.floor((now - self._start) / self.period)
            self.dropped_frames += max(0, current_slot - self._slot - 1)
            self._slot = current_slot
        return on_time

    def _wait_until(self, deadline: float) -> None:
        remaining = deadline - self._time()
        if remaining > self._spin_s:
            self._sleep(remaining - self._spin_s)
        while self._time() < deadline:
            pass


class FrameStats:
    """Rolling per-frame figures: frame time, on-time rate, capture→output latency."""

    def __init__(self, window: int = 600) -> None:
        self.frame_ms: deque[float] = deque(maxlen=window)
        self.latency_ms: deque[float] = deque(maxlen=window)
        self.frame_starts: deque[float] = deque(maxlen=window)
        self.frames = 0
        self.on_time = 0

    def record(self, t_start: float, t_end: float, t_capture: float | None, on_time: bool) -> None:
        self.frames += 1
        self.on_time += on_time
        self.frame_starts.append(t_start)
        self.frame_ms.append((t_end - t_start) * 1e3)
        if t_capture is not None:
            self.latency_ms.append((t_end - t_capture) * 1e3)

    @property
    def fps(self) -> float:
        if len(self.frame_starts) < 2:
            return 0.0
        span = self.frame_starts[-1] - self.frame_starts[0]
        return (len(self.frame_starts) - 1) / span if span > 0 else 0.0

    @staticmethod
    def _percentile(values: deque[float], q: float) -> float:
        return float(np.percentile(np.fromiter(values, float), q)) if values else float("nan")

    def summary(self, clock: Clock | None = None) -> dict[str, float]:
        """Figures for the whole window, named for what they measure."""
        figures = {
            "frames": float(self.frames),
            "fps": round(self.fps, 2),
            "on_time_pct": round(100.0 * self.on_time / self.frames, 2) if self.frames else 0.0,
            "frame_ms_p50": round(self._percentile(self.frame_ms, 50), 3),
            "frame_ms_p99": round(self._percentile(self.frame_ms, 99), 3),
            "latency_ms_p50": round(self._percentile(self.latency_ms, 50), 3),
            "latency_ms_p99": round(self._percentile(self.latency_ms, 99), 3),
        }
        if clock is not None:
            figures["late_frames"] = float(clock.late_frames)
            figures["dropped_frames"] = float(clock.dropped_frames)
        return figures
