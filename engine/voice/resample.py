"""Streaming rational-ratio resampling with a polyphase FIR filter.

``scipy.signal.resample_poly`` works on whole signals; a live stream needs the filter state carried
from one block to the next so that block edges are inaudible. This keeps the last few input
samples and computes exactly the output samples whose filter support is complete, so feeding a
signal in any block sizes gives the same output as feeding it whole.
"""

from __future__ import annotations

from math import gcd

import numpy as np

TAPS_PER_PHASE = 48  # per output sample at the narrower rate: ~80 dB stop band, ~1 ms delay


class StreamResampler:
    """Converts a stream from ``rate_in`` to ``rate_out`` Hz, block by block."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        from scipy.signal import firwin

        divisor = gcd(int(rate_in), int(rate_out))
        self.up, self.down = int(rate_out) // divisor, int(rate_in) // divisor
        self.rate_in, self.rate_out = int(rate_in), int(rate_out)
        self.passthrough = self.up == self.down == 1
        # Low-pass at 0.84 of the narrower Nyquist: keeps speech up to ~10 kHz at 24 kHz.
        factor = max(self.up, self.down)
        num_taps = TAPS_PER_PHASE * factor + 1
        taps = firwin(num_taps, 0.84 / factor, window=("kaiser", 8.0)) * self.up
        # Polyphase table: row p holds taps p, p + up, p + 2·up, ... (zero padded to equal length).
        self._taps = taps
        self._state = np.zeros(num_taps - 1)
        self.taps_per_phase = -(-num_taps // self.up)
        padded = np.zeros(self.taps_per_phase * self.up)
        padded[:num_taps] = taps
        self._phases = padded.reshape(self.taps_per_phase, self.up).T.copy()  # (up, K)
        self.delay_s = 0.0 if self.passthrough else (num_taps - 1) / 2 / (self.up * self.rate_in)
        self._history = np.zeros(self.taps_per_phase, np.float64)
        self._consumed = 0  # input samples seen so far
        self._produced = 0  # output samples made so far

    def process(self, block: np.ndarray) -> np.ndarray:
        """The output samples that ``block`` completes (about len(block)·up/down of them)."""
        if self.passthrough:
            return np.asarray(block, np.float32)
        if len(block) == 0:
            return np.zeros(0, np.float32)
        if self.up == 1 or self.down == 1:
            return self._integer_ratio(np.asarray(block, np.float64))
        buffer = np.concatenate([self._history, np.asarray(block, np.float64)])
        first_index = self._consumed - len(self._history)  # absolute input index of buffer[0]
        self._consumed += len(block)
        # Output m needs input up to floor(m·down/up); make every m whose input has arrived.
        last = (self._consumed * self.up - 1) // self.down  # largest m: m·down < consumed·up
        count = max(0, last - self._produced + 1)
        m = np.arange(self._produced, self._produced + count)
        position = m * self.down
        base = position // self.up - first_index
        gathered = buffer[base[:, None] - np.arange(self.taps_per_phase)[None, :]]
        out = np.einsum("ij,ij->i", gathered, self._phases[position % self.up])
        self._produced += count
        self._history = buffer[-self.taps_per_phase:]
        return out.astype(np.float32)

    def _integer_ratio(self, block: np.ndarray) -> np.ndarray:
        """Whole-number ratios run the FIR in C (lfilter keeps its state between blocks)."""
        from scipy.signal import lfilter

        if self.up > 1:  # interpolate: zero-stuff, then filter every output sample
            stuffed = np.zeros(len(block) * self.up)
            stuffed[::self.up] = block
            out, self._state = lfilter(self._taps, 1.0, stuffed, zi=self._state)
            self._produced += len(out)
        else:  # decimate: filter, keep the samples on the output grid
            filtered, self._state = lfilter(self._taps, 1.0, block, zi=self._state)
            first = (-self._consumed) % self.down
            out = filtered[first::self.down]
            self._produced += len(out)
        self._consumed += len(block)
        return out.astype(np.float32)
