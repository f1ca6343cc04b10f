import numpy as np
import pytest

from engine.voice.resample import StreamResampler


@pytest.mark.parametrize("rates", [(48000, 24000), (24000, 48000), (48000, 16000),
                                   (44100, 24000)])
def test_block_size_does_not_change_the_output(rates):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(9000).astype(np.float32)
    whole = StreamResampler(*rates).process(x)
    pieces = StreamResampler(*rates)
    sizes = rng.integers(1, 700, 100)
    chunks, start = [], 0
    for size in sizes:
        chunks.append(pieces.process(x[start:start + size]))
        start += size
    chunks.append(pieces.process(x[start:]))
    assert np.allclose(np.concatenate(chunks), whole, atol=1e-5)
    assert abs(len(whole) - len(x) * rates[1] / rates[0]) <= 1


def test_round_trip_keeps_a_tone_and_reports_its_delay():
    rate = 48000
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    down, up = StreamResampler(rate, 24000), StreamResampler(24000, rate)
    out = up.process(down.process(tone))
    delay = int(round((down.delay_s + up.delay_s) * rate))
    assert np.max(np.abs(out[delay + 2000:40000] - tone[2000:40000 - delay])) < 2e-3


def test_content_above_the_new_nyquist_is_removed():
    rate = 48000
    t = np.arange(rate) / rate
    out = StreamResampler(rate, 16000).process(np.sin(2 * np.pi * 11000 * t).astype(np.float32))
    assert np.sqrt(np.mean(out[2000:] ** 2)) < 1e-3  # 11 kHz would alias to 5 kHz
