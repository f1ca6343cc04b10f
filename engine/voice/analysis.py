"""Streaming WORLD analysis: new frames only, from a short history window.

Every hop the newest samples join a fixed window of history. DIO tracks F0 over the whole window
(cheap at the decimated rate it works at), then StoneMask, CheapTrick and D4C run only at the
frames that just became final — those at least ``lookahead`` samples before the newest sample,
so each analysis window (1.5 pitch periods either side for CheapTrick) is mostly real signal.
That look-ahead is the price of streaming analysis and the largest term in the latency budget.

DIO cannot voice the newest frames on its own: its contour clean-up zeroes the last 7 frames of
any signal and drops voiced runs that look short, so near the window's end every onset is missed.
Three measures, each checked with PESQ-WB on LibriSpeech and vaiueo2d (docs/voice.md):
- the window is extended by mirroring its newest 50 ms, so runs at the edge do not look cut;
- frames DIO still leaves unvoiced get F0 from a normalised autocorrelation (weighted towards
  the speaker's typical F0 to avoid half-period errors) when it is clearly periodic;
- voicing is held for ``VOICING_HOLD_FRAMES`` after the last voiced frame, and D4C — run with
  its own voiced/unvoiced test off — decides per band how much of such frames is noise.
StoneMask then refines every F0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

from engine.voice.world import F0_CEIL, F0_FLOOR, FRAME_PERIOD_MS, pyworld

PAD_MS = 50.0  # reflected samples after the newest one
VOICING_HOLD_FRAMES = 10  # 50 ms of voicing hang-over after the last voiced frame
PERIODICITY_THRESHOLD = 0.6  # normalised autocorrelation peak that counts as voiced


@dataclass
class Frames:
    """Consecutive analysis frames: F0 (Hz, 0 = unvoiced), envelope, aperiodicity, input level."""

    first_index: int  # absolute frame number of row 0 (frame k is at sample k·frame_hop)
    f0: np.ndarray  # (n,) float64
    envelope: np.ndarray  # (n, fft/2+1) float64 power spectrum
    aperiodicity: np.ndarray  # (n, fft/2+1) float64 in [0, 1]
    level_db: np.ndarray  # (n,) input RMS around each frame, dBFS

    def __len__(self) -> int:
        return len(self.f0)


class StreamAnalyzer:
    """Feeds on hops of samples and returns the frames each hop completes."""

    def __init__(self, sample_rate: int, lookahead: int, window: int) -> None:
        self.world = pyworld()
        self.sample_rate = sample_rate
        self.frame_hop = int(round(sample_rate * FRAME_PERIOD_MS / 1000.0))
        if lookahead % self.frame_hop or window % self.frame_hop:
            raise ValueError("lookahead and window must be whole frames")
        self.lookahead = lookahead
        self.window = window
        self.fft_size = self.world.get_cheaptrick_fft_size(sample_rate, F0_FLOOR)
        # DIO decimates internally by ``speed``; ~6 kHz keeps speech F0 accurate at a third of
        # the cost of running it at 24 kHz.
        self.dio_speed = max(1, sample_rate // 6000)
        self.pad = int(sample_rate * PAD_MS / 1000.0)
        self._history = np.zeros(window, np.float64)
        self._acf_window = int(2.2 * sample_rate / F0_FLOOR)
        self._acf_taper = np.hanning(self._acf_window)
        taper_acf = np.correlate(self._acf_taper, self._acf_taper, "full")[self._acf_window - 1:]
        self._lag_range = (int(sample_rate / F0_CEIL), int(sample_rate / F0_FLOOR))
        # Dividing by the taper's own autocorrelation makes a steady periodic signal score 1
        # at its period whatever the lag (only lags in _lag_range, where it is well above 0).
        self._acf_norm = (taper_acf / taper_acf[0])[:self._lag_range[1]]
        self._received = 0
        self._next_frame = 0
        self._held_f0 = 0.0
        self._typical_log_f0 = float(np.log(150.0))
        self._last_aperiodicity: np.ndarray | None = None
        self._unvoiced_run = 0

    def push(self, hop: np.ndarray) -> Frames:
        """Add ``hop`` (a whole number of frames long) and analyse the frames now final."""
        n = len(hop)
        self._history[:-n] = self._history[n:]
        self._history[-n:] = hop
        self._received += n
        last_frame = (self._received - self.lookahead) // self.frame_hop
        if last_frame < self._next_frame:
            return self._empty()
        new = np.arange(self._next_frame, last_frame + 1)
        self._next_frame = last_frame + 1
        world, fs = self.world, self.sample_rate
        # Mirror the newest samples past the end: DIO's contour clean-up otherwise drops voicing
        # in its last ~20 frames (a voiced run cut by the edge looks too short to keep), and the
        # analysis windows of the newest frames would reach into nothing.
        x = np.concatenate([self._history, self._history[:-self.pad - 1:-1]])
        window_start = self._received - self.window  # absolute sample of x[0], a frame boundary
        rows = (new * self.frame_hop - window_start) // self.frame_hop
        times = rows * (FRAME_PERIOD_MS / 1000.0)
        f0_track, _ = world.dio(x, fs, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL,
                                frame_period=FRAME_PERIOD_MS, speed=self.dio_speed)
        f0 = f0_track[rows]
        missing = f0 <= 0
        if missing.any():  # DIO cannot confirm voicing until ~60 ms after an onset
            f0[missing] = self._periodicity_f0(x, rows[missing] * self.frame_hop)
        f0 = self._hold_voicing(world.stonemask(x, f0, times, fs))
        envelope = world.cheaptrick(x, f0, times, fs, f0_floor=F0_FLOOR, fft_size=self.fft_size)
        aperiodicity = self._aperiodicity(x, f0, times)
        centres = rows * self.frame_hop
        half = self.frame_hop // 2
        segments = x[np.clip(centres[:, None] + np.arange(-half, half)[None, :], 0, len(x) - 1)]
        power = np.mean(segments * segments, axis=1)
        level_db = np.maximum(-120.0, 10.0 * np.log10(power + 1e-12))
        return Frames(int(new[0]), f0, envelope, aperiodicity, level_db)

    def _aperiodicity(self, x: np.ndarray, f0: np.ndarray, times: np.ndarray) -> np.ndarray:
        """D4C at the newest frame only; the hop's earlier frames interpolate from the last one.

        D4C is the costliest analysis step (4096-point FFTs per band at 24 kHz) while
        aperiodicity changes slowly, so one estimate per hop (15 ms) is enough. Its own
        voiced/unvoiced test is off because voicing is decided above.
        """
        newest = self.world.d4c(x, f0[-1:], times[-1:], self.sample_rate, threshold=0.0,
                                fft_size=self.fft_size)[0]
        previous = newest if self._last_aperiodicity is None else self._last_aperiodicity
        steps = np.arange(1, len(f0) + 1)[:, None] / len(f0)
        self._last_aperiodicity = newest
        return previous[None, :] + (newest - previous)[None, :] * steps

    def _periodicity_f0(self, x: np.ndarray, centres: np.ndarray) -> np.ndarray:
        """F0 from the normalised autocorrelation around each centre; 0 where not periodic."""
        n = self._acf_window
        segments = x[np.clip(centres[:, None] + np.arange(-n // 2, n // 2)[None, :], 0,
                             len(x) - 1)] * self._acf_taper
        size = next_fast_len(2 * n)
        spectrum = rfft(segments, size)
        low, high = self._lag_range
        acf = irfft(spectrum.real ** 2 + spectrum.imag ** 2, size)[:, :high]
        acf /= np.maximum(acf[:, :1], 1e-12) * self._acf_norm
        # Formant ringing gives spurious peaks at a half or a third of the period; weight the
        # lags towards the speaker's typical F0 (±half an octave) so that those lose.
        distance = (np.log(self.sample_rate / np.arange(low, high)) - self._typical_log_f0) / 0.35
        prior = 0.5 + 0.5 * np.exp(-0.5 * distance ** 2)
        best = low + np.argmax(acf[:, low:high] * prior[None, :], axis=1)
        strength = acf[np.arange(len(best)), best]
        energy_db = 10.0 * np.log10(np.mean(segments ** 2, axis=1) + 1e-12)
        voiced = (strength > PERIODICITY_THRESHOLD) & (energy_db > -60.0)
        return np.where(voiced, self.sample_rate / best, 0.0)

    def _hold_voicing(self, f0: np.ndarray) -> np.ndarray:
        for i, value in enumerate(f0):  # a handful of frames per hop
            if value > 0:
                self._held_f0, self._unvoiced_run = value, 0
                self._typical_log_f0 += 0.01 * (np.log(value) - self._typical_log_f0)
            else:
                self._unvoiced_run += 1
                if self._held_f0 > 0 and self._unvoiced_run <= VOICING_HOLD_FRAMES:
                    f0[i] = self._held_f0
        return f0

    def _empty(self) -> Frames:
        bins = self.fft_size // 2 + 1
        return Frames(self._next_frame, np.zeros(0), np.zeros((0, bins)), np.zeros((0, bins)),
                      np.zeros(0))
