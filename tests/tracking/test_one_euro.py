"""The One-Euro filter: smooths still signals, follows moving ones, per-channel settings."""

from __future__ import annotations

import numpy as np

from engine.tracking.one_euro import OneEuroFilter


def test_first_sample_passes_and_constant_stays_constant():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.1)
    x = np.array([1.0, -2.0, 3.0])
    for i in range(10):
        np.testing.assert_allclose(f(x, i / 30), x)


def test_noise_on_a_still_signal_is_reduced():
    rng = np.random.default_rng(1)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    raw = 5.0 + rng.normal(0, 1.0, 300)
    out = np.array([f(np.array([v]), i / 30)[0] for i, v in enumerate(raw)])
    assert out[30:].std() < 0.35 * raw[30:].std()
    assert abs(out[30:].mean() - 5.0) < 0.3


def test_fast_channels_follow_a_step_sooner():
    f = OneEuroFilter(min_cutoff=np.array([1.0, 10.0]), beta=np.array([0.0, 5.0]))
    f(np.zeros(2), 0.0)
    out = [f(np.ones(2), i / 30) for i in range(1, 4)]
    assert out[1][1] > 0.9 > out[1][0]  # the crisp channel is nearly there after two frames
    assert out[2][0] < 0.6


def test_repeated_or_backward_timestamps_and_reset():
    f = OneEuroFilter()
    f(np.array([0.0]), 1.0)
    np.testing.assert_allclose(f(np.array([10.0]), 1.0), [0.0])  # no time passed: no change
    np.testing.assert_allclose(f(np.array([7.0]), 0.5), [7.0])  # time went back: start over
    f.reset()
    np.testing.assert_allclose(f(np.array([10.0]), 2.0), [10.0])
