"""Merging the face mesh's direct and mirrored passes: both on every frame
(``face_mesh.mirror_averaged``) and in turn (``face_mesh.AlternatingLooks``)."""

from __future__ import annotations

import numpy as np

from engine.tracking import face_mesh
from engine.tracking.face_mesh import AlternatingLooks, mirror_averaged, unmirror
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


def test_alternating_looks_report_the_mean_of_a_held_face_from_the_second_frame_on():
    face = face_at(300, 7)
    bias = np.zeros_like(face)
    bias[:, 0] = 3.0  # the mirror look reads the whole face 3 px to the right
    looks = AlternatingLooks()
    first = looks.merge(0, [face])
    np.testing.assert_allclose(first[0], face)  # nothing to compare with yet
    for frame in range(1, 6):
        look = frame % 2
        reported = looks.merge(look, [face + bias if look else face])
        assert len(reported) == 1
        np.testing.assert_allclose(reported[0], face + 0.5 * bias, atol=1e-4)


def test_alternating_looks_follow_a_changed_difference_at_the_documented_rate():
    face = face_at(300, 8)
    looks = AlternatingLooks()
    looks.merge(0, [face])
    looks.merge(1, [face + 4.0])  # the mirror look reads 4 px more: direct − mirrored = -4
    looks.merge(0, [face])
    # From now on they agree: the estimate falls by LOOK_DIFFERENCE_RATE of itself each frame,
    # and each look is moved towards where the other one was by half of it.
    expected = 4.0
    for frame in range(3, 9):
        look = frame % 2
        reported = looks.merge(look, [face])[0]
        expected *= 1 - face_mesh.LOOK_DIFFERENCE_RATE
        sign = 1.0 if look == 0 else -1.0
        np.testing.assert_allclose(reported - face, sign * 0.5 * expected, atol=1e-4)


def test_a_face_one_look_misses_is_held_and_a_face_that_leaves_is_gone_by_the_second_frame():
    face, bystander = face_at(160, 9), face_at(480, 10)
    looks = AlternatingLooks()
    looks.merge(0, [face, bystander])
    # The mirror look misses the bystander: it is still reported, as the direct look saw it.
    reported = looks.merge(1, [face + 2.0])
    assert len(reported) == 2
    np.testing.assert_allclose(reported[1], bystander)
    assert len(looks.merge(0, [face, bystander])) == 2
    # Both leave: the first empty frame holds the other look's newest faces, the second is empty.
    assert len(looks.merge(1, [])) == 2
    assert looks.merge(0, []) == []
