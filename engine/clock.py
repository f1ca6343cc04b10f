"""Frame pacing and frame statistics.

``Clock`` keeps the loop on a fixed grid of deadlines ``start + k / fps``. After a frame it sleeps
until the next deadline: a coarse ``sleep`` for most of the wait, then a short spin for the last
millisecond, because OS sleeps overshoot by about a millisecond. When a frame runs late it never
schedules into the past: the next frame starts at once and is due at the first deadline still
ahead; slots that passed without any frame are counted as dropped. One slow frame therefore costs
the frames it overlapped, never a burst of catch-up frames. The grid itself may move by a
millisecond or so between frames (``sleep_until_next(shift_s)``): the live loop steers it
towards the camera's frames (``engine.camera_lock``).

The time and sleep functions are injectable so that tests and offline renders drive the clock
with fake time (give such a clock ``spin_s=0``: fake time does not pass while spinning).

``FrameStats`` is the frame watchdog. Cost figures (frame work time, latency) are wall-clock;
pacing figures (on-time rate, dropped frames, the longest stall, time over budget, a stage that
keeps overrunning) are on the clock's own time, because the budget is the clock's: an offline
render, whose fake time never runs late, has no stalls however slow the machine is.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# The part of a wait spent spinning instead of sleeping, against the OS sleep's overshoot
# (measured here: median 0.12 ms, p99 0.53 ms). Short, because a spinning loop takes a core from
# the workers that run while it waits (the tracker, the camera's decoder): 1.5 ms of spin against
# 0.3, in alternating `bench e2e` runs of the default scene, gave 90.6–100 % of frames on time
# against 100 % three times and about 0.7 ms more CPU a frame.
_SPIN_SECONDS = 0.0003


@dataclass(frozen=True)
class Tick:
    """The start of one frame."""

    index: int  # frames started since the clock started
    t: float  # when the frame started (the clock's time)
    deadline: float  # when the frame's output is due: the start of the next slot


@dataclass(frozen=True)
class Pace:
    """How one frame kept its deadline, on the clock's time."""

    on_time: bool
    span_s: float  # from the frame's start until the next frame may start: the frame-to-frame gap
    over_s: float  # the part of the span beyond the frame budget (0 when the frame fitted)
    dropped: int  # deadline slots that passed with no frame because this one overran


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
        self._tick_t = 0.0  # when the current frame started
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
        self._tick_t = now
        self.frames += 1
        return Tick(self.frames - 1, now, self._start + (self._slot + 1) * self.period)

    def sleep_until_next(self, shift_s: float = 0.0) -> Pace:
        """Wait for the next slot; says whether this frame finished on time and what it cost.

        ``shift_s`` moves the grid (positive: later) from the next slot on, when this frame was
        on time: ``engine.camera_lock`` steers the frames' start towards the camera's."""
        if self._start is None:
            raise RuntimeError("sleep_until_next() called before tick()")
        deadline = self._start + (self._slot + 1) * self.period
        now = self._time()
        if now <= deadline:
            self._slot += 1
            self._start += shift_s
            self._wait_until(deadline + shift_s)
            return Pace(True, deadline + shift_s - self._tick_t, 0.0, 0)
        self.late_frames += 1
        # The next frame starts at once, in the slot we are already in, and is due at that slot's
        # end: the first deadline still ahead. Slots that passed with no frame at all are dropped.
        # (A frame ending exactly on a slot boundary, as fake time does, is in the new slot
        # whatever the float rounding of the division.)
        current_slot = math.floor((now - self._start) / self.period + 1e-9)
        dropped = max(0, current_slot - self._slot - 1)
        self.dropped_frames += dropped
        self._slot = current_slot
        span = now - self._tick_t
        return Pace(False, span, max(0.0, span - self.period), dropped)

    def _wait_until(self, deadline: float) -> None:
        remaining = deadline - self._time()
        if remaining > self._spin_s:
            self._sleep(remaining - self._spin_s)
        while self._time() < deadline:
            pass


class StageOverruns:
    """Which stage keeps taking longer than a whole frame.

    A stage overruns when it alone takes more than the frame budget; one that does so
    ``repeats`` times within ``within_s`` is named, and stays named for the run (the summary is
    about the whole session). Only overruns are recorded, so a healthy frame costs nothing here.
    """

    def __init__(self, repeats: int = 3, within_s: float = 10.0) -> None:
        self.repeats = repeats
        self.within_s = within_s
        self._recent: dict[str, deque[float]] = {}  # stage → when its last overruns ended
        self.counts: dict[str, int] = {}
        self.longest_s: dict[str, float] = {}
        self.named: set[str] = set()

    def record(self, stage: str, seconds: float, t: float) -> bool:
        """One overrun of ``stage`` that took ``seconds`` and ended at ``t`` (clock time).
        Returns True when this overrun makes the stage named for the first time."""
        recent = self._recent.setdefault(stage, deque(maxlen=self.repeats))
        recent.append(t)
        self.counts[stage] = self.counts.get(stage, 0) + 1
        self.longest_s[stage] = max(self.longest_s.get(stage, 0.0), seconds)
        if (stage not in self.named and len(recent) == self.repeats
                and t - recent[0] <= self.within_s):
            self.named.add(stage)
            return True
        return False

    @property
    def slow_stage(self) -> str | None:
        """The named stage that overran most often, or None."""
        return max(self.named, key=self.counts.__getitem__) if self.named else None


class FrameStats:
    """The frame watchdog: frame time, latency, on-time rate, dropped frames, stalls, and the
    stage that keeps overrunning."""

    def __init__(self, window: int = 600) -> None:
        self.frame_ms: deque[float] = deque(maxlen=window)
        self.latency_ms: deque[float] = deque(maxlen=window)
        self.face_latency_ms: deque[float] = deque(maxlen=window)
        self.frame_starts: deque[float] = deque(maxlen=window)
        self.frames = 0
        self.on_time = 0
        self.late_frames = 0
        self.dropped_frames = 0
        self.longest_stall_s = 0.0
        self.over_budget_s = 0.0
        self.stages = StageOverruns()

    def record(self, tick: Tick, pace: Pace, work_s: float, latency_s: float | None,
               face_latency_s: float | None = None) -> None:
        """One frame: when it started and how it kept its deadline (clock time), how long its
        work took, its capture→output latency and, with a face found, the face's: from the
        capture of the camera frame the face was tracked on (the tracker's newest result, which
        may be a frame or two older than the picture) to the output (wall clock)."""
        self.frames += 1
        self.on_time += pace.on_time
        self.late_frames += not pace.on_time
        self.dropped_frames += pace.dropped
        self.over_budget_s += pace.over_s
        self.longest_stall_s = max(self.longest_stall_s, pace.span_s)
        self.frame_starts.append(tick.t)  # fps is frames delivered per second of the clock's
        self.frame_ms.append(work_s * 1e3)
        if latency_s is not None:
            self.latency_ms.append(latency_s * 1e3)
        if face_latency_s is not None:
            self.face_latency_ms.append(face_latency_s * 1e3)

    @property
    def fps(self) -> float:
        if len(self.frame_starts) < 2:
            return 0.0
        span = self.frame_starts[-1] - self.frame_starts[0]
        return (len(self.frame_starts) - 1) / span if span > 0 else 0.0

    @property
    def on_time_pct(self) -> float:
        """The share of deadline slots that got their frame on time: a dropped slot had none, so
        a frame that stalled for 11 s at 30 fps costs some 330 slots, not one late frame."""
        slots = self.frames + self.dropped_frames
        return 100.0 * self.on_time / slots if slots else 0.0

    @staticmethod
    def _percentile(values: deque[float], q: float) -> float:
        return float(np.percentile(np.fromiter(values, float), q)) if values else float("nan")

    def summary(self) -> dict[str, float | str | None]:
        """Figures for the run so far, named for what they measure (percentiles over the
        window, counts and the longest stall over the whole run)."""
        return {
            "frames": float(self.frames),
            "fps": round(self.fps, 2),
            "on_time_pct": round(self.on_time_pct, 2),
            "frame_ms_p50": round(self._percentile(self.frame_ms, 50), 3),
            "frame_ms_p99": round(self._percentile(self.frame_ms, 99), 3),
            "latency_ms_p50": round(self._percentile(self.latency_ms, 50), 3),
            "latency_ms_p99": round(self._percentile(self.latency_ms, 99), 3),
            "face_latency_ms_p50": round(self._percentile(self.face_latency_ms, 50), 3),
            "face_latency_ms_p99": round(self._percentile(self.face_latency_ms, 99), 3),
            "late_frames": float(self.late_frames),
            "dropped_frames": float(self.dropped_frames),
            "longest_stall_ms": round(self.longest_stall_s * 1e3, 1),
            "over_budget_s": round(self.over_budget_s, 3),
            "slow_stage": self.stages.slow_stage,
        }
