"""Merging the face mesh's direct and mirrored passes (``face_mesh.mirror_averaged``)."""

from __future__ import annotations

import numpy as np

from engine.tracking.face_mesh import mirror_averaged, unmirror
from engine.tracking.template import load_template

WIDTH = 640


def face_at(x: float, seed: int) -> np.ndarray:
    """The template's landmarks as a face of about 160 px centred at pixel column ``x``, with
    noise of its own."""
    points = load_template().points * np.array([10.0, -10.0, 10.0]) + np.array([x, 240.0, 0.0])
    return (points + np.random.default_rng(seed).normal(0, 1.0, points.shape)).astype(np.float32)


def test_unmirror_is_its_own_inverse_and_swaps_the_eyes():
    partner = load_template().mirror
    face = face_at(200, 0)
    np.testing.assert_allclose(unmirror(unmirror(face, WIDTH, partner), WIDTH, partner), face,
                               atol=1e-3)
    back = unmirror(face, WIDTH, partner)
    assert np.allclose(back[partner, 0], WIDTH - face[:, 0])


def test_each_face_is_averaged_with_its_own_mirror_look_and_swapping_passes_mirrors_it():
    partner = load_template().mirror
    left, right = face_at(150, 1), face_at(470, 2)
    # The mirrored pass sees the same two people (with their own noise), in the other order.
    mirrored = [unmirror(face_at(470, 3), WIDTH, partner),
                unmirror(face_at(150, 4), WIDTH, partner)]
    merged = mirror_averaged([left, right], mirrored, WIDTH, partner)
    assert len(merged) == 2
    by_x = sorted(merged, key=lambda face: face[:, 0].mean())
    np.testing.assert_allclose(by_x[0], 0.5 * (left + face_at(150, 4)), atol=1e-3)
    np.testing.assert_allclose(by_x[1], 0.5 * (right + face_at(470, 3)), atol=1e-3)
    swapped = mirror_averaged(mirrored, [left, right], WIDTH, partner)
    for a, b in zip(by_x, sorted(swapped, key=lambda face: -face[:, 0].mean())):
        np.testing.assert_allclose(unmirror(b, WIDTH, partner), a, atol=1e-3)


def test_a_face_only_one_pass_found_is_kept_as_found():
    partner = load_template().mirror
    face = face_at(200, 5)
    assert mirror_averaged([face], [], WIDTH, partner)[0] is face
    only_mirrored = mirror_averaged([], [face], WIDTH, partner)
    np.testing.assert_allclose(only_mirrored[0], unmirror(face, WIDTH, partner))
    # Someone else, far across the frame, is not averaged into the face.
    other = unmirror(face_at(520, 6), WIDTH, partner)
    assert len(mirror_averaged([face], [other], WIDTH, partner)) == 2
