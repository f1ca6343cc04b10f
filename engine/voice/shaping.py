"""Per-frame voice transformation: the preset applied to WORLD's parameters.

Working on F0, envelope and aperiodicity frames rather than samples makes every control smooth
for free (the synthesiser interpolates between 5 ms frames), and makes preset changes easy to
crossfade: during a switch each frame uses the two presets mixed with a weight that ramps from 0
to 1, so pitch glides and formants slide rather than two voices overlapping.
"""

from __future__ import annotations

import math

import numpy as np

from engine.voice.analysis import Frames
from engine.voice.effects import (EnvelopeDenoiser, NoiseGate, add_breathiness, spectral_gain_db,
                                  warp_envelope)
from engine.voice.presets import VoicePreset
from engine.voice.world import FRAME_PERIOD_MS

F0_LIMITS = (40.0, 1100.0)
MEAN_TRACKING = 0.005  # per voiced frame: the speaker's running mean log-F0 settles in ~1 s


class FrameShaper:
    """Applies the current preset (or a crossfade between two) to each analysis frame."""

    def __init__(self, sample_rate: int, fft_size: int, preset: VoicePreset) -> None:
        self.freqs = np.arange(fft_size // 2 + 1) * sample_rate / fft_size
        self._previous = preset
        self._current = preset
        self._fade_frames = 0
        self._fade_done = 0
        self._current_gain = self._previous_gain = self._power_gain(preset)
        self._mean_log_f0 = math.log(140.0)
        self._gate = NoiseGate()
        self._denoiser = EnvelopeDenoiser()

    @property
    def preset(self) -> VoicePreset:
        return self._current

    def set_preset(self, preset: VoicePreset, crossfade_s: float) -> None:
        """Start moving to ``preset`` over ``crossfade_s``.

        A switch in the middle of a fade fades from the preset that fade was heading to; the
        remaining step is smoothed by the synthesiser's frame interpolation.
        """
        self._previous, self._previous_gain = self._current, self._current_gain
        self._current, self._current_gain = preset, self._power_gain(preset)
        self._fade_frames = max(1, int(round(crossfade_s * 1000.0 / FRAME_PERIOD_MS)))
        self._fade_done = 0

    def process(self, frames: Frames) -> Frames:
        f0 = frames.f0.copy()
        envelope = frames.envelope.copy()
        aperiodicity = frames.aperiodicity.copy()
        for i in range(len(frames)):  # 1–4 frames per hop; each step below is vectorised
            weight = self._next_weight()
            a, b = self._previous, self._current
            if f0[i] > 0:
                log_f0 = math.log(f0[i])
                self._mean_log_f0 += MEAN_TRACKING * (log_f0 - self._mean_log_f0)
                mapped = (1 - weight) * self._map_log_f0(log_f0, a) + weight * self._map_log_f0(
                    log_f0, b)
                f0[i] = min(max(math.exp(mapped), F0_LIMITS[0]), F0_LIMITS[1])
            whisper = (1 - weight) * a.whisper + weight * b.whisper
            if whisper > 0.5:
                f0[i] = 0.0
            gate_db = (1 - weight) * a.gate_db + weight * b.gate_db
            gate = self._gate.update(frames.level_db[i], gate_db)
            denoise = (1 - weight) * a.denoise + weight * b.denoise
            spectrum = self._denoiser.process(envelope[i], denoise)
            log_ratio = (1 - weight) * math.log(a.formant_ratio) + weight * math.log(
                b.formant_ratio)
            if log_ratio != 0.0:
                spectrum = np.exp(warp_envelope(np.log(spectrum), math.exp(log_ratio)))
            gain = (1 - weight) * self._previous_gain + weight * self._current_gain
            envelope[i] = spectrum * gain * (gate * gate)
            breath = max((1 - weight) * a.breathiness + weight * b.breathiness, whisper)
            aperiodicity[i] = add_breathiness(aperiodicity[i], breath, self.freqs)
        return Frames(frames.first_index, f0, envelope, aperiodicity, frames.level_db)

    def _next_weight(self) -> float:
        if self._fade_done >= self._fade_frames:
            return 1.0
        self._fade_done += 1
        # Raised-cosine ramp: no corner at either end of the glide.
        return 0.5 - 0.5 * math.cos(math.pi * self._fade_done / self._fade_frames)

    def _map_log_f0(self, log_f0: float, preset: VoicePreset) -> float:
        centre = (math.log(preset.pitch_center_hz) if preset.pitch_center_hz > 0
                  else self._mean_log_f0)
        target = math.log(preset.pitch_target_hz) if preset.pitch_target_hz > 0 else centre
        return (target + preset.pitch_range * (log_f0 - centre)
                + preset.pitch_semitones * math.log(2.0) / 12.0)

    def _power_gain(self, preset: VoicePreset) -> np.ndarray:
        """Tilt and EQ as a power gain per envelope bin."""
        return 10.0 ** (spectral_gain_db(self.freqs, preset.tilt_db_per_octave, preset.eq) / 10.0)
