"""A synthetic talking voice, for demos and tests that must run with no microphone or file.

A glottal pulse train (Rosenberg pulses) follows a natural-sounding intonation — declining
phrases with accents — through a cascade of formant resonators that glide between vowels,
with short pauses between phrases. It is not speech, but WORLD, pitch trackers and level meters
react to it as they do to a voice.
"""

from __future__ import annotations

import numpy as np

# (F1, F2, F3) in Hz for a few vowels of an adult voice.
VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240],
                   [530, 1840, 2480], [570, 840, 2410], [660, 1720, 2410]], np.float64)
BANDWIDTHS = np.array([80.0, 100.0, 140.0])


def speech_like(seconds: float, sample_rate: int = 48000, seed: int = 0,
                base_f0: float = 120.0) -> np.ndarray:
    """``seconds`` of voice-like float32 audio peaking near -6 dBFS."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate

    # Phrases of 1.2–2.5 s separated by 0.2–0.5 s pauses; F0 declines over each phrase with two
    # accents, plus a little vibrato-free jitter.
    voiced = np.zeros(n, bool)
    f0 = np.full(n, base_f0)
    start = 0.15
    while start < seconds:
        length = rng.uniform(1.2, 2.5)
        a, b = int(start * sample_rate), min(n, int((start + length) * sample_rate))
        if a >= n:
            break
        phrase_t = (t[a:b] - start) / length
        accents = sum(rng.uniform(0.1, 0.25) * np.exp(-0.5 * ((phrase_t - c) / 0.08) ** 2)
                      for c in rng.uniform(0.1, 0.8, 2))
        f0[a:b] = base_f0 * 2.0 ** (0.25 - 0.45 * phrase_t + accents)
        voiced[a:b] = True
        start += length + rng.uniform(0.2, 0.5)
    f0 *= 1.0 + 0.004 * lfilter([1.0], [1.0, -0.995], rng.standard_normal(n)) / 10.0

    # Rosenberg glottal pulse shape per period, from the running phase.
    phase = np.cumsum(f0) / sample_rate % 1.0
    opening, closing = 0.4, 0.16
    pulse = np.where(phase < opening, 0.5 * (1 - np.cos(np.pi * phase / opening)),
                     np.where(phase < opening + closing,
                              np.cos(0.5 * np.pi * (phase - opening) / closing), 0.0))
    source = np.diff(pulse, prepend=0.0) * voiced  # radiated: the derivative of the flow
    source += 0.002 * rng.standard_normal(n) * voiced  # aspiration

    # Vowel formants change every 120–250 ms; resonators are updated per 10 ms block.
    targets = []
    position = 0.0
    while position < seconds + 0.3:
        targets.append((position, VOWELS[rng.integers(len(VOWELS))]))
        position += rng.uniform(0.12, 0.25)
    times = np.array([p for p, _ in targets])
    values = np.array([v for _, v in targets])
    out = np.zeros(n)
    block = sample_rate // 100
    states = [np.zeros(2) for _ in range(3)]
    for a in range(0, n, block):
        segment = source[a:a + block]
        now = a / sample_rate
        formants = [np.interp(now, times, values[:, k]) for k in range(3)]
        for k, (frequency, bandwidth) in enumerate(zip(formants, BANDWIDTHS)):
            r = np.exp(-np.pi * bandwidth / sample_rate)
            poles = [1.0, -2 * r * np.cos(2 * np.pi * frequency / sample_rate), r * r]
            segment, states[k] = lfilter([sum(poles)], poles, segment, zi=states[k])
        out[a:a + block] = segment
    # Three resonators roll off faster than a real vocal tract (whose higher formants and wall
    # losses are missing here): a first-order lift restores the usual speech tilt.
    out = lfilter([1.0, -0.9], [1.0], out)
    # Fade phrase edges over 20 ms so onsets sound like voice, not switches.
    envelope = lfilter([1.0 - 0.998], [1.0, -0.998], voiced.astype(np.float64))
    out *= np.minimum(1.0, envelope * 3.0)
    out += 1e-4 * rng.standard_normal(n)  # room noise floor (-80 dBFS)
    peak = np.max(np.abs(out)) or 1.0
    return (0.5 * out / peak).astype(np.float32)
