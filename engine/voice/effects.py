"""Level and colour effects around the WORLD morph.

Two kinds live here. Envelope-domain effects act on one analysis frame's spectral envelope (a
power spectrum per FFT bin) before synthesis, so they cost a few vector operations per 5 ms frame
and can never click: the synthesiser interpolates between frames. Time-domain effects (limiter,
gain ramps) act on output samples and are vectorised per sub-block, never per sample in Python.
"""

from __future__ import annotations

import numpy as np


def spectral_gain_db(freqs_hz: np.ndarray, tilt_db_per_octave: float,
                     eq: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Gain in dB per frequency: a tilt pivoting at 1 kHz plus EQ points joined on log-frequency."""
    octaves = np.log2(np.maximum(freqs_hz, 50.0) / 1000.0)
    gain = tilt_db_per_octave * octaves
    if eq:
        points = np.array(eq, np.float64)
        gain = gain + np.interp(octaves, np.log2(points[:, 0] / 1000.0), points[:, 1])
    return gain


def warp_envelope(log_envelope: np.ndarray, ratio: float) -> np.ndarray:
    """Formant shift: the envelope's frequency axis stretched by ``ratio`` (>1 moves formants up).

    Works on the log envelope so that interpolation between bins follows spectral shape rather
    than energy, and holds the top bin beyond the source band when shrinking.
    """
    if ratio == 1.0:
        return log_envelope
    bins = np.arange(log_envelope.shape[-1], dtype=np.float64)
    return np.interp(bins / ratio, bins, log_envelope)


def add_breathiness(aperiodicity: np.ndarray, amount: float, freqs_hz: np.ndarray) -> np.ndarray:
    """More noise in the excitation, most above 2 kHz as in a breathy voice; ``amount`` 0..1."""
    if amount <= 0.0:
        return aperiodicity
    weight = amount * np.clip(0.35 + freqs_hz / 4000.0, 0.0, 1.0)
    return 1.0 - (1.0 - aperiodicity) * (1.0 - weight)


class EnvelopeDenoiser:
    """Gentle stationary-noise suppression on spectral envelopes (minimum-statistics floor).

    The noise floor follows each bin's minimum and rises slowly (about 9 dB/s), so speech does
    not pull it up; subtraction is capped at 12 dB per bin so speech never turns "musical".
    """

    RISE_PER_FRAME = 1.01  # ×1.01 per 5 ms frame ≈ +8.6 dB/s
    MAX_CUT_DB = 12.0

    def __init__(self) -> None:
        self._floor: np.ndarray | None = None

    def process(self, envelope: np.ndarray, strength: float) -> np.ndarray:
        if self._floor is None:
            self._floor = envelope.copy()
        else:
            np.minimum(self._floor * self.RISE_PER_FRAME, envelope, out=self._floor)
        if strength <= 0.0:
            return envelope
        limit = envelope * 10.0 ** (-self.MAX_CUT_DB * strength / 10.0)
        return np.maximum(envelope - 2.0 * strength * self._floor, limit)


class NoiseGate:
    """Frame-level gate with hysteresis: opens fast on speech, fades out over ~150 ms after it.

    Its gain scales the spectral envelope of each frame, so closing and opening are smooth by
    construction. Below ``threshold_db - 6`` for 50 ms the gate starts to close.
    """

    HYSTERESIS_DB = 6.0
    HOLD_FRAMES = 10
    OPEN_STEP = 0.5  # fraction of the way to open per frame (~10 ms to open)
    CLOSE_FACTOR = 0.8  # gain × per frame while closing (-60 dB in ~150 ms)
    FLOOR = 1e-3

    def __init__(self) -> None:
        self.gain = 1.0
        self._open = True
        self._quiet_frames = 0

    def update(self, level_db: float, threshold_db: float) -> float:
        """The gain (FLOOR..1) for a frame whose input level is ``level_db``."""
        if threshold_db <= -120.0:
            self._open = True
        elif level_db > threshold_db:
            self._open, self._quiet_frames = True, 0
        elif level_db < threshold_db - self.HYSTERESIS_DB:
            self._quiet_frames += 1
            if self._quiet_frames > self.HOLD_FRAMES:
                self._open = False
        if self._open:
            self.gain += (1.0 - self.gain) * self.OPEN_STEP
        else:
            self.gain = max(self.FLOOR, self.gain * self.CLOSE_FACTOR)
        return self.gain


class Limiter:
    """Peak limiter without look-ahead: instant attack per sub-block, smooth exponential release.

    Each sub-block's gain is at most ceiling / its peak, applied from the sub-block's first
    sample, so nothing overshoots; the gain then recovers over ``release_s``. A final clip at the
    ceiling guards against the gain ramp's interpolation.
    """

    def __init__(self, sample_rate: int, sub_block: int = 32, release_s: float = 0.15) -> None:
        self.sub_block = sub_block
        self._release = float(np.exp(-sub_block / (release_s * sample_rate)))
        self.gain = 1.0
        self.reduction_db = 0.0  # most recent gain reduction, for meters

    def process(self, samples: np.ndarray, ceiling: float) -> np.ndarray:
        n = len(samples)
        if n == 0:
            return samples
        count = -(-n // self.sub_block)
        padded = np.zeros(count * self.sub_block, np.float32)
        padded[:n] = np.abs(samples)
        peaks = padded.reshape(count, self.sub_block).max(axis=1)
        if self.gain == 1.0 and peaks.max() <= ceiling:  # the usual case: nothing to limit
            self.reduction_db = 0.0
            return samples
        wanted = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-9))
        gains = np.empty(count)
        gain = previous = self.gain
        for i in range(count):  # one step per sub-block (~0.7 ms), not per sample
            gain = min(wanted[i], 1.0 - (1.0 - gain) * self._release)
            if gain > 0.9999:
                gain = 1.0
            gains[i] = gain
        self.gain = gain
        self.reduction_db = float(-20.0 * np.log10(max(gain, 1e-6)))
        # Ramp from the previous gain to each sub-block's gain across that sub-block: a stepped
        # gain would itself click. The ramp may lag a sudden peak; the clip catches that sample.
        starts = np.concatenate([[previous], gains[:-1]])
        ramp = np.linspace(0.0, 1.0, self.sub_block, endpoint=False) + 1.0 / self.sub_block
        per_sample = (starts[:, None] + (gains - starts)[:, None] * ramp[None, :]).ravel()[:n]
        return np.clip(samples * per_sample.astype(np.float32), -ceiling, ceiling)


def db_to_amplitude(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def rms_db(samples: np.ndarray) -> float:
    """RMS level in dBFS (-120 for silence)."""
    if len(samples) == 0:
        return -120.0
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    return max(-120.0, 10.0 * np.log10(power + 1e-12))
