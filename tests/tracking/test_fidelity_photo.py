"""The fidelity bench's photo identities: a photo avatar built from the astronaut, rendered with
known weights and head poses through the photo kind (real EGL), tracked back (real MediaPipe)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.avatar.photo.basis import UNFITTED_CHANNELS
from engine.tracking import fidelity
from engine.types import BLENDSHAPE_INDEX

PER_IDENTITY = 12


@pytest.fixture(scope="module")
def astronaut():
    import skimage.data

    return [("astronaut", skimage.data.astronaut())]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """The user's cache in a folder of the tests' own, shared by this module's tests."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        yield folder / "persona" / "fidelity"


def test_photo_round_trip_figures_and_their_cache(astronaut, cache):
    figures = fidelity.photo_figures(PER_IDENTITY, seed=1, photos=astronaut)
    assert figures["photo_identities"] == 1
    assert figures["photo_samples"] + figures["photo_missed"] == PER_IDENTITY
    assert figures["photo_samples"] >= PER_IDENTITY - 1  # a frontal-ish photo face is found
    for label in fidelity.formulas():
        for name in fidelity.KEY_CHANNELS:
            assert 0.0 <= figures[f"photo_{label}_mae_{name}"] <= 1.0
        # The astronaut smiles: at rest her avatar reads a smile that the set weights do not
        # have, and taking her rest reading away brings the worst key channel much closer.
        assert figures[f"photo_{label}_mae_mouthSmileLeft"] > 0.4
        assert (figures[f"photo_{label}_rest_removed_mae_key_max"]
                < 0.6 * figures[f"photo_{label}_mae_key_max"])
    # Head turns drawn by the photo kind are found again within a few degrees.
    assert figures["photo_pose_err_deg_median_frontal_removed"] < 8.0
    # The renders were kept in the user's cache, and a second call reads them back.
    kept = list(cache.glob("photo-*.npz"))
    assert len(kept) == 1
    stamp = kept[0].stat().st_mtime_ns
    assert fidelity.photo_figures(PER_IDENTITY, seed=1, photos=astronaut) == figures
    assert kept[0].stat().st_mtime_ns == stamp


def test_photo_samples_set_only_what_the_kind_draws(astronaut, cache):
    samples = fidelity.cached_photo_samples(astronaut, PER_IDENTITY, seed=1)
    assert not samples.weights[0].any() and not samples.angles[0].any()  # neutral, frontal first
    assert not samples.weights[:, [BLENDSHAPE_INDEX[n] for n in UNFITTED_CHANNELS]].any()
    assert np.abs(samples.angles[:, :2]).max() <= fidelity.MAX_ANGLE_DEG
    assert samples.weights[1:].any(axis=1).sum() >= PER_IDENTITY // 2  # mostly expressive
