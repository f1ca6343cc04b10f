"""Importing pyworld quietly and the WORLD constants the streaming code shares."""

from __future__ import annotations

import warnings

FRAME_PERIOD_MS = 5.0  # WORLD's usual analysis frame period
F0_FLOOR = 71.0  # WORLD's default floor: the CheapTrick FFT stays 1024 points up to 24 kHz
F0_CEIL = 800.0
UNVOICED_PULSE_HZ = 500.0  # WORLD excites unvoiced frames with noise bursts at this rate


def pyworld():
    """The pyworld module (its import warns about pkg_resources, which is not ours to fix)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyworld as module
    return module
