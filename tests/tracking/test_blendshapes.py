"""Blendshape formulas on template geometry: symmetry, range, and the expressions they name."""

from __future__ import annotations

import numpy as np
import pytest

from engine.tracking import blendshapes, gaze
from engine.tracking import landmarks as lm
from engine.tracking.template import load_template
from engine.types import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES


def coefficients(points: np.ndarray) -> dict[str, float]:
    values = blendshapes.compute(points, gaze.eye_angles(points))
    assert values.shape == (52,) and values.dtype == np.float32
    assert (values >= 0).all() and (values <= 1).all()
    return dict(zip(BLENDSHAPE_NAMES, values.tolist()))


def swapped(name: str) -> str:
    if name.endswith("Left"):
        return name[:-4] + "Right"
    if name.endswith("Right"):
        return name[:-5] + "Left"
    return name


def test_mirroring_the_face_swaps_left_and_right_channels():
    template = load_template()
    points = template.points.astype(np.float64).copy()
    points[lm.LEFT_UPPER_LID, 1] -= 0.6  # close the left eye
    points[lm.LEFT_MOUTH_CORNER, 1] += 0.7  # lift the left mouth corner
    points[lm.LEFT_BROW, 1] += 0.4
    mirrored = points[template.mirror] * np.array([-1.0, 1.0, 1.0])
    a, b = coefficients(points), coefficients(mirrored)
    for name in BLENDSHAPE_NAMES:
        assert abs(a[name] - b[swapped(name)]) < 1e-5, name
    assert a["eyeBlinkLeft"] > 0.5 > a["eyeBlinkRight"]


def test_opening_the_jaw_raises_jaw_open_not_smile():
    template = load_template()
    points = template.points.astype(np.float64).copy()
    lower = [i for i in range(lm.NUM_MESH) if points[i, 1] < points[lm.LOWER_LIP_INNER, 1] + 0.01]
    before = coefficients(points)
    points[lower, 1] -= 1.5
    after = coefficients(points)
    assert after["jawOpen"] > before["jawOpen"] + 0.5
    assert after["mouthSmileLeft"] <= before["mouthSmileLeft"] + 0.05


def test_ramp():
    assert blendshapes.ramp(0.5, 0.0, 1.0) == 0.5
    assert blendshapes.ramp(2.0, 0.0, 1.0) == 1.0
    assert blendshapes.ramp(-1.0, 0.0, 1.0) == 0.0
    assert blendshapes.ramp(0.25, 0.5, 0.0) == 0.5  # falling ramps work too
    assert BLENDSHAPE_INDEX["tongueOut"] == 51


def test_gaze_follows_the_irises():
    template = load_template()
    points = template.points.astype(np.float64).copy()
    # The template's irises sit 0.1 cm outward of looking ahead (4.9 degrees each, within
    # MediaPipe's iris accuracy, which the look channels' dead zone absorbs); centre them first
    # so both eyes start from straight ahead.
    offset = np.sin(gaze.eye_angles(points)) * gaze.EYEBALL_RADIUS_CM
    for eye, ring in ((0, [lm.LEFT_IRIS_CENTER, *lm.LEFT_IRIS_RING]),
                      (1, [lm.RIGHT_IRIS_CENTER, *lm.RIGHT_IRIS_RING])):
        points[ring, :2] -= offset[eye]
    straight = gaze.gaze(gaze.eye_angles(points))
    assert np.abs(straight).max() < 1e-6
    assert coefficients(points)["eyeLookOutLeft"] == 0.0
    iris = list(range(468, 478))
    points[iris, 0] += 0.3  # both irises towards the person's left
    points[iris, 1] -= 0.2  # and down
    angles = gaze.eye_angles(points)
    yaw, pitch = gaze.gaze(angles) - straight
    expected = np.degrees(np.arcsin(0.3 / gaze.EYEBALL_RADIUS_CM))
    assert np.degrees(yaw) == pytest.approx(expected, abs=1.5)
    assert pitch < -0.1
    values = coefficients(points)
    assert values["eyeLookOutLeft"] > 0.3 and values["eyeLookInRight"] > 0.3
    assert values["eyeLookInLeft"] == 0.0 and values["eyeLookOutRight"] == 0.0
    assert values["eyeLookDownLeft"] > 0.2 and values["eyeLookUpLeft"] == 0.0
