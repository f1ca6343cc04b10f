"""A streaming WORLD-style synthesiser: one excitation pulse at a time into an output ring.

``pyworld.synthesize`` renders a whole utterance and restarts its pulse train at the first
sample, so calling it per block puts pulses in different places each time and crossfading the
pieces smears them (comb filtering, "phasey" pops). Here the pulse train is continuous instead:
the phase of F0 carries over between blocks, and every pulse becomes the same response WORLD's
synthesis would build (minimum-phase periodic part plus minimum-phase-filtered noise, split by
the aperiodicity), overlap-added into an accumulator that runs one FFT length ahead. Each pulse
needs only the frames around its own time, so output up to the newest frame is final and the
synthesiser adds no latency of its own.

All the pulses of one call are computed together with batched real FFTs.
"""

from __future__ import annotations

import numpy as np
from scipy import fft

from engine.voice.analysis import Frames
from engine.voice.world import UNVOICED_PULSE_HZ

SAFE_GUARD = 1e-12  # WORLD's floor inside logarithms (float32 keeps it: min normal 1e-38)


class PulseSynthesizer:
    """Turns successive frames (F0, envelope, aperiodicity) into a continuous waveform."""

    def __init__(self, sample_rate: int, fft_size: int, frame_hop: int, seed: int = 0) -> None:
        self.sample_rate = sample_rate
        self.fft_size = fft_size
        self.frame_hop = frame_hop
        self._rng = np.random.default_rng(seed)
        bins = fft_size // 2 + 1
        self._first_frame = 0  # absolute index of the first frame kept
        self._f0 = np.zeros(0)
        self._envelope = np.zeros((0, bins), np.float32)
        self._aperiodicity = np.zeros((0, bins), np.float32)
        self._position = 0  # absolute index of the next output sample
        self._phase = 0.0  # pulse-train phase in cycles, carried across calls
        self._accumulator = np.zeros(4 * fft_size, np.float32)  # index 0 ↔ sample self._position

    def push(self, frames: Frames) -> None:
        if len(frames) == 0:
            return
        if len(self._f0) == 0:
            self._first_frame = frames.first_index
        self._f0 = np.concatenate([self._f0, frames.f0])
        self._envelope = np.concatenate([self._envelope, frames.envelope.astype(np.float32)])
        self._aperiodicity = np.concatenate([self._aperiodicity,
                                             frames.aperiodicity.astype(np.float32)])

    def pull(self) -> np.ndarray:
        """Every sample up to the newest frame's time, final (later pulses cannot reach them)."""
        end = (self._first_frame + len(self._f0) - 1) * self.frame_hop
        count = end - self._position
        if count <= 0 or len(self._f0) < 2:
            return np.zeros(0, np.float32)
        frame_position = ((self._position + np.arange(count)) / self.frame_hop
                          - self._first_frame)
        lower = np.floor(frame_position).astype(np.int64)
        upper = np.minimum(lower + 1, len(self._f0) - 1)
        weight = frame_position - lower
        f0_lower, f0_upper = self._f0[lower], self._f0[upper]
        voiced = ((1.0 - weight) * (f0_lower > 0) + weight * (f0_upper > 0)) > 0.5
        f0 = np.where(f0_lower > 0, f0_lower, f0_upper) * (1.0 - weight) \
            + np.where(f0_upper > 0, f0_upper, f0_lower) * weight
        f0 = np.where(voiced, f0, UNVOICED_PULSE_HZ)

        cycles = self._phase + np.cumsum(f0) / self.sample_rate
        whole = np.floor(cycles)
        pulses = np.flatnonzero(np.diff(np.concatenate([[np.floor(self._phase)], whole])) > 0)
        self._phase = float(cycles[-1] - whole[-1])

        if len(pulses):
            responses = self._responses(lower[pulses], upper[pulses], weight[pulses],
                                        voiced[pulses], f0[pulses])
            needed = count + self.fft_size + 1
            if len(self._accumulator) < needed:
                self._accumulator = np.concatenate(
                    [self._accumulator, np.zeros(needed - len(self._accumulator), np.float32)])
            for offset, response in zip(pulses + 1, responses):
                self._accumulator[offset:offset + self.fft_size] += response
        out = self._accumulator[:count].astype(np.float32)
        self._accumulator[:-count] = self._accumulator[count:]
        self._accumulator[-count:] = 0.0
        self._position = end
        self._forget_old_frames()
        return out

    def _responses(self, lower, upper, weight, voiced, f0) -> np.ndarray:
        """(pulses, fft_size) responses, each starting at its pulse."""
        n = self.fft_size
        w = weight[:, None]
        # float32 from here: half the FFT cost, and far more precision than 16-bit output needs.
        w = w.astype(np.float32)
        envelope = (1.0 - w) * self._envelope[lower] + w * self._envelope[upper]
        safe_ap = np.clip(self._aperiodicity, 0.001, 0.999999)
        ratio = ((1.0 - w) * safe_ap[lower] + w * safe_ap[upper]) ** 2

        noise_size = np.maximum(1, np.round(self.sample_rate / f0)).astype(np.int64)
        periodic_on = voiced & (ratio[:, 0] <= 0.999)
        # Both minimum-phase spectra in one batch: periodic rows first, then aperiodic ones.
        log_amplitudes = np.concatenate([
            0.5 * np.log(envelope[periodic_on] * (1.0 - ratio[periodic_on]) + SAFE_GUARD),
            0.5 * np.log(envelope * np.where(voiced[:, None], ratio, 1.0) + SAFE_GUARD)])
        spectra = _minimum_phase(log_amplitudes, n)
        count = int(periodic_on.sum())

        noise = self._rng.standard_normal((len(f0), int(noise_size.max())), np.float32)
        inside = np.arange(noise.shape[1])[None, :] < noise_size[:, None]
        noise = np.where(inside, noise, 0.0)
        noise -= inside * (noise.sum(axis=1) / noise_size)[:, None]
        responses = fft.irfft(spectra[count:] * fft.rfft(noise, n), n)
        if count:
            periodic = fft.irfft(spectra[:count], n)
            periodic[:, n // 2:] = 0.0  # the anti-causal half is wrap-around
            periodic[:, :n // 2] -= periodic[:, :n // 2].mean(axis=1, keepdims=True)  # no DC
            scale = np.sqrt(noise_size[periodic_on].astype(np.float32))
            responses[periodic_on] += periodic * scale[:, None]
        return responses

    def _forget_old_frames(self) -> None:
        keep_from = self._position // self.frame_hop - self._first_frame
        if keep_from > 0:
            self._f0 = self._f0[keep_from:]
            self._envelope = self._envelope[keep_from:]
            self._aperiodicity = self._aperiodicity[keep_from:]
            self._first_frame += keep_from


def _minimum_phase(log_amplitude: np.ndarray, n: int) -> np.ndarray:
    """Minimum-phase spectra (rows) whose log magnitude is ``log_amplitude``, via the cepstrum."""
    cepstrum = fft.irfft(log_amplitude, n)
    cepstrum[:, 1:n // 2] *= 2.0
    cepstrum[:, n // 2 + 1:] = 0.0
    return np.exp(fft.rfft(cepstrum, n))
