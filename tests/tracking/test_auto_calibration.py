"""The automatic calibration on a real clip: the Pexels clip's frames, tracked as photos, fed at
the clip's own times. Its bounds on synthetic channels are in test_fidelity.py."""

from __future__ import annotations

import numpy as np
import pytest

from engine.tracking.calibration import AUTO_REST_MAX, AutoCalibration
from engine.tracking.media import read_frames
from engine.types import BLENDSHAPE_INDEX

SMILE = [BLENDSHAPE_INDEX["mouthSmileLeft"], BLENDSHAPE_INDEX["mouthSmileRight"]]
FPS = 30.0


@pytest.fixture(scope="module")
def clip(shared_asset, track_photo):
    """(times, (N, 52) uncalibrated coefficients) of every third frame of the Pexels clip."""
    times, values = [], []
    for frame in read_frames(shared_asset("video/WolfgangLanger_Pexels.mp4")):
        if frame.index % 3:
            continue
        face = track_photo(frame.image)
        if face.found:
            times.append(frame.t_capture)
            values.append(np.asarray(face.blendshapes, np.float64))
    return np.array(times), np.array(values)


def feed(auto: AutoCalibration, values: np.ndarray, t0: float,
         seconds: float) -> tuple[np.ndarray, float]:
    """One frame's coefficients held for ``seconds`` at 30 fps; the last output and the end time."""
    t = t0
    out = auto.update(values, t)
    for _ in range(int(seconds * FPS)):
        t += 1.0 / FPS
        out = auto.update(values, t)
    return out, t


def test_the_clip_relaxes_its_resting_activations(clip):
    """Channels this face reads throughout the clip (its 10th percentile at 0.1 or more: her
    left cheekSquint, 0.15, from the shape of her cheeks) are taken down once the calibration
    has seen a few seconds. (The clip as a whole need not read lower: the range's top decays to
    what she uses, which stretches the channels she never takes to 1.)"""
    times, values = clip
    auto = AutoCalibration()
    adapted = np.array([auto.update(v, t) for t, v in zip(times, values)])
    resting = np.percentile(values, 10, axis=0) >= 0.1
    assert resting.sum() >= 1, "the clip shows no resting activation to relax"
    later = times > 8.0  # the rest has had time to rise (at most 0.05 per second)
    p10, low = np.percentile(values, 10, axis=0), np.percentile(values, 20, axis=0)
    for k in np.flatnonzero(resting):
        # her resting level of the channel (frames at or below its 20th percentile) reads about
        # neutral once adapted where it is within the rest's bound, and lower where it is not
        frames = later & (values[:, k] <= low[k])
        raw, out = np.median(values[frames, k]), np.median(adapted[frames, k])
        if p10[k] <= AUTO_REST_MAX:
            assert out < 0.1, (k, raw, out)
        else:
            assert out < raw - 0.1, (k, raw, out)
    assert auto.rest.max() <= AUTO_REST_MAX + 1e-9


def test_a_held_smile_keeps_its_value(clip):
    """The clip's broadest smile, repeated for 10 s: after the whole clip, and on a fresh
    calibration after 2 s of the relaxed face, it keeps at least 80 % of its value."""
    times, values = clip
    smile = values[values[:, SMILE].min(axis=1).argmax()]
    assert smile[SMILE].min() > 0.6
    auto = AutoCalibration()
    for t, v in zip(times, values):
        auto.update(v, t)
    first, t = feed(auto, smile, times[-1] + 1 / FPS, 0.0)
    held, _ = feed(auto, smile, t, 10.0)
    assert (held[SMILE] >= 0.8 * first[SMILE]).all(), (first[SMILE], held[SMILE])
    assert (held[SMILE] >= 0.8 * smile[SMILE]).all()

    fresh = AutoCalibration()
    _, t = feed(fresh, values[0], 0.0, 2.0)
    held, _ = feed(fresh, smile, t, 10.0)
    assert (held[SMILE] >= 0.8 * smile[SMILE]).all(), (smile[SMILE], held[SMILE])
