"""Phase lock: start each frame just after the tracker has the camera's newest face.

A webcam and the loop both run at 30 fps on clocks of their own, so where in the loop's slot a
camera frame arrives is left to chance: on average half a slot passes before a frame starts
that can use it, and the tracker needs some 12-20 ms more before its face is ready, so the face
a frame shows was, at random, one or two camera frames old. When the camera's rate matches the
loop's, ``CameraPhaseLock`` moves the loop's deadline grid (``Clock.sleep_until_next(shift_s)``)
a little each frame until frames start ``MARGIN_S`` after the tracker's median delay of the last
second (capture to face): the face shown is then mostly the camera's newest, tracked on the very
picture the frame shows (the face swap's face and the backdrop's painted-out face boxes sit
where the face is in it). Not the slowest delay: a frame that starts later runs into the next
camera frame's tracking, which then takes longer (background priority) and pushes the frames
later still; in alternating runs (photo avatar and face swap, 30 fps camera, three each) the
median gave the youngest faces, the 90th percentile about as old as no lock.

The grid moves at most ``MAX_STEP_S`` a frame (a slot is then 32.3-34.3 ms long while it locks,
which no consumer sees), and not at all while the camera runs at another rate (a 24 fps clip,
a webcam that dropped to 15 fps in the dark): there no phase would hold. Offline clocks never
shift: their sources are not cameras.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Sequence

MAX_STEP_S = 0.001  # the most the grid moves per frame
GAIN = 0.25  # the share of the phase error taken off per frame (below MAX_STEP_S)
RATE_TOLERANCE = 0.02  # camera interval within 2 % of the loop's period: the rates match
MARGIN_S = 0.002  # after the tracker's median delay, for its jitter
WINDOW = 30  # camera intervals remembered (one second at 30 fps)


class CameraPhaseLock:
    """Says how far to move the loop's grid so frames start when the newest face is ready."""

    def __init__(self, period_s: float) -> None:
        self.period = period_s
        self._captures: deque[tuple[int, float]] = deque(maxlen=WINDOW + 1)  # (index, time)
        self.locked = False  # the camera's rate matches and the grid is being steered
        self.error_s = math.nan  # the last phase error: frame start minus where it should be

    def shift(self, frame_start: float, newest_index: int, newest_capture: float,
              tracker_delays: Sequence[float]) -> float:
        """Seconds to move the grid (positive: later) after the frame that started at
        ``frame_start``, the camera's newest frame then being number ``newest_index``, captured
        at ``newest_capture``, and ``tracker_delays`` the tracker's recent delays (capture to
        face); 0 while the camera's rate is not known to match, it has stalled, or the tracker
        is untimed."""
        if not self._captures or newest_index != self._captures[-1][0]:
            self._captures.append((newest_index, newest_capture))
        stalled = frame_start - newest_capture > 2.0 * self.period
        self.locked = bool(len(tracker_delays)) and not stalled and self._rate_matches()
        if not self.locked:
            self.error_s = math.nan
            return 0.0
        target = min(statistics.median(tracker_delays) + MARGIN_S, 0.8 * self.period)
        phase = (frame_start - newest_capture) % self.period
        # Wrapped into (-period/2, period/2]: a frame just before a capture is early, not late.
        error = (phase - target + 0.5 * self.period) % self.period - 0.5 * self.period
        self.error_s = error
        # Plain floats: this runs every frame, on a few dozen numbers.
        return max(-MAX_STEP_S, min(MAX_STEP_S, -GAIN * error))

    def _rate_matches(self) -> bool:
        if len(self._captures) < WINDOW // 2:
            return False
        # Per camera frame, not per frame the loop saw (a 60 fps camera seen by a 30 fps loop
        # shows every other frame), and over the whole window: each capture time carries a few
        # milliseconds of the capture thread's jitter, which the ends alone divide by 30.
        (first, t_first), (last, t_last) = self._captures[0], self._captures[-1]
        interval = (t_last - t_first) / (last - first)
        return abs(interval - self.period) <= RATE_TOLERANCE * self.period
