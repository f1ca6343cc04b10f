"""Fixtures for the voice tests: real speech clips and a real PulseAudio null sink."""

from __future__ import annotations

import hashlib
import os
import shutil

import numpy as np
import pytest

from engine.voice.offline import read_wav

SPEECH = "speech/librispeech_198-209-0000_first5.6s_16k.wav"
VOWELS = "speech/vaiueo2d.wav"


@pytest.fixture(scope="session")
def speech(shared_asset) -> tuple[np.ndarray, int]:
    """The first 3.5 s (two phrases) of read English speech (female, 16 kHz); kept short so
    that the streaming runs and Harvest F0 tracks stay quick."""
    samples, rate = read_wav(shared_asset(SPEECH))
    return samples[:int(3.5 * rate)], rate


@pytest.fixture(scope="session")
def vowels(shared_asset) -> tuple[np.ndarray, int]:
    """Japanese vowels /a i u e o/ (male, 16 kHz after resampling)."""
    from scipy.signal import resample_poly

    samples, rate = read_wav(shared_asset(VOWELS))
    return resample_poly(samples, 16000, rate).astype(np.float32), 16000


_F0_CACHE: dict[tuple[int, bytes], np.ndarray] = {}


def f0_track(samples: np.ndarray, rate: int) -> np.ndarray:
    """F0 every 10 ms by WORLD's Harvest (independent of the streaming chain's DIO); 0 = unvoiced.

    Harvest takes about a second per clip, so each distinct signal is tracked once per session.
    """
    from engine.voice.world import pyworld

    key = (rate, hashlib.sha1(np.ascontiguousarray(samples).tobytes()).digest())
    if key not in _F0_CACHE:
        _F0_CACHE[key], _ = pyworld().harvest(np.asarray(samples, np.float64), rate,
                                              frame_period=10.0)
    return _F0_CACHE[key]


def median_f0(samples: np.ndarray, rate: int) -> float:
    """Median F0 of the voiced frames."""
    f0 = f0_track(samples, rate)
    assert np.sum(f0 > 0) > 20, "too little voicing to measure F0"
    return float(np.median(f0[f0 > 0]))


def median_f0_ratio(output: np.ndarray, reference: np.ndarray, rate: int) -> float:
    """Median over the frames voiced in both (time-aligned) signals of output F0 / input F0.

    Comparing frame by frame keeps the figure about pitch: the morph also voices a few frames
    the tracker calls unvoiced in the input (phrase ends), and on a short clip with a falling
    contour two medians over slightly different frame sets can differ by several percent.
    """
    out, ref = f0_track(output, rate), f0_track(reference, rate)
    n = min(len(out), len(ref))
    both = (out[:n] > 0) & (ref[:n] > 0)
    assert both.sum() > 20, "too little common voicing to compare F0"
    return float(np.median(out[:n][both] / ref[:n][both]))


@pytest.fixture(scope="module")
def null_sink():
    """A real PulseAudio null sink "persona_test" as the default sink; its monitor as source.

    Skips only where PulseAudio is not installed and CI is not true.
    """
    from engine.voice.pulse import null_sinks

    if shutil.which("pulseaudio") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pulseaudio is not installed on CI")
        pytest.skip("pulseaudio is not installed")
    with null_sinks("persona_test", default_sink="persona_test",
                    default_source="persona_test.monitor"):
        yield "persona_test"
