"""Voice profiles: measure a target voice and write a preset that moves a speaker towards it.

``measure`` summarises a recording as a ``VoiceProfile`` — F0 mean and spread (in log-F0, where
pitch perception is roughly linear) and the long-term average spectral envelope of its voiced
frames. ``preset_for`` turns a target profile, and optionally the live speaker's own profile
from a short calibration recording, into a ``VoicePreset``:

- F0: the speaker's mean log-F0 maps to the target's, and the spread scales by the ratio of
  standard deviations (a mean/variance transform). Without calibration the preset uses the
  speaker's running mean measured live (``pitch_center_hz = 0``).
- Formants: the frequency warp that best aligns the speaker's long-term envelope with the
  target's (grid search over 0.75–1.35, 300 Hz – 5 kHz, levels normalised).
- EQ: what remains between the warped envelope and the target's, smoothed into a few bands.

This is the offline-capable stand-in for neural voice conversion. A neural converter would take
the same inputs (target recording, optional calibration) and replace ``VoiceMorph`` behind the
same ``process(block)`` interface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import AssetError
from engine.voice.presets import VoicePreset
from engine.voice.world import F0_CEIL, F0_FLOOR, pyworld

ANALYSIS_RATE = 16000
EQ_BANDS_HZ = (250.0, 500.0, 1000.0, 2000.0, 4000.0)
WARP_SEARCH = np.linspace(0.75, 1.35, 61)
MIN_VOICED_FRAMES = 100  # half a second of voicing


@dataclass(frozen=True)
class VoiceProfile:
    """What a recording says about a voice."""

    f0_mean_hz: float  # geometric mean of voiced F0
    f0_log_std: float  # standard deviation of natural-log F0
    voiced_seconds: float
    freqs_hz: np.ndarray  # (bins,) frequency grid of the envelope
    envelope_db: np.ndarray  # (bins,) long-term mean log envelope of voiced frames, dB


def measure(samples: np.ndarray, sample_rate: int, source: str = "<audio>") -> VoiceProfile:
    """The profile of a recording (mono float samples)."""
    from scipy.signal import resample_poly

    world = pyworld()
    x = np.asarray(samples, np.float64)
    if sample_rate != ANALYSIS_RATE:
        x = resample_poly(x, ANALYSIS_RATE, sample_rate)
    # Harvest is slow but the most reliable WORLD tracker; a profile is made once, offline.
    f0, times = world.harvest(x, ANALYSIS_RATE, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL)
    voiced = f0 > 0
    if voiced.sum() < MIN_VOICED_FRAMES:
        raise AssetError(f"{source}: too little voiced speech to profile "
                         f"({voiced.sum() * 5} ms; need at least {MIN_VOICED_FRAMES * 5} ms)")
    envelope = world.cheaptrick(x, f0, times, ANALYSIS_RATE)[voiced]
    log_f0 = np.log(f0[voiced])
    fft_size = (envelope.shape[1] - 1) * 2
    return VoiceProfile(
        f0_mean_hz=float(np.exp(log_f0.mean())),
        f0_log_std=float(log_f0.std()),
        voiced_seconds=float(voiced.sum() * 0.005),
        freqs_hz=np.arange(envelope.shape[1]) * ANALYSIS_RATE / fft_size,
        envelope_db=10.0 * np.log10(envelope + 1e-12).mean(axis=0),
    )


def best_warp(speaker: VoiceProfile, target: VoiceProfile) -> float:
    """The formant ratio that makes the speaker's long-term envelope most like the target's."""
    band = (speaker.freqs_hz >= 300.0) & (speaker.freqs_hz <= 5000.0)
    bins = np.arange(len(speaker.freqs_hz), dtype=np.float64)
    goal = target.envelope_db[band] - target.envelope_db[band].mean()
    errors = []
    for ratio in WARP_SEARCH:
        warped = np.interp(bins / ratio, bins, speaker.envelope_db)[band]
        errors.append(np.mean((warped - warped.mean() - goal) ** 2))
    return float(WARP_SEARCH[int(np.argmin(errors))])


def preset_for(target: VoiceProfile, speaker: VoiceProfile | None = None,
               name: str = "profile") -> VoicePreset:
    """A preset that maps ``speaker`` (or, without calibration, any live speaker) to ``target``."""
    description = (f"Voice profile: F0 {target.f0_mean_hz:.0f} Hz, "
                   f"spread {target.f0_log_std:.3f}")
    if speaker is None:
        return VoicePreset(name=name, description=description + " (uncalibrated)",
                           pitch_target_hz=round(target.f0_mean_hz, 1))
    ratio = best_warp(speaker, target)
    bins = np.arange(len(speaker.freqs_hz), dtype=np.float64)
    warped = np.interp(bins / ratio, bins, speaker.envelope_db)
    residual = target.envelope_db - warped
    residual -= np.interp(1000.0, speaker.freqs_hz, residual)  # EQ is relative to 1 kHz
    eq = []
    for centre in EQ_BANDS_HZ:
        inside = (speaker.freqs_hz >= centre / 1.41) & (speaker.freqs_hz < centre * 1.41)
        eq.append((centre, float(np.clip(residual[inside].mean(), -9.0, 9.0))))
    spread = target.f0_log_std / max(speaker.f0_log_std, 1e-3)
    return VoicePreset(
        name=name, description=description,
        pitch_center_hz=round(speaker.f0_mean_hz, 1),
        pitch_target_hz=round(target.f0_mean_hz, 1),
        pitch_range=round(float(np.clip(spread, 0.3, 2.5)), 3),
        formant_ratio=round(ratio, 3),
        eq=tuple((hz, round(db, 2)) for hz, db in eq),
    )
