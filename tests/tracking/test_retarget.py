"""The retarget stage: calibration, smoothing with crisp blinks, style, and losing the face."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.retarget import Retargeter
from engine.scenes import Style, stylize
from engine.tracking.calibration import Calibration
from engine.tracking.head_pose import FACING_CAMERA, rotation_from_yaw_pitch_roll, yaw_pitch_roll
from engine.types import BLENDSHAPE_INDEX, Expression, FaceState, blendshape_vector

FPS = 30.0


def face(t: float, shapes: dict[str, float] | None = None, yaw: float = 0.0,
         pitch: float = 0.0) -> FaceState:
    head = np.eye(4, dtype=np.float32)
    head[:3, :3] = FACING_CAMERA @ rotation_from_yaw_pitch_roll(yaw, pitch, 0.0)
    head[2, 3] = 60.0
    return FaceState(t=t, found=True, head=head, blendshapes=blendshape_vector(shapes),
                     confidence=1.0)


def shape(expression: Expression, name: str) -> float:
    return float(expression.blendshapes[BLENDSHAPE_INDEX[name]])


def test_defaults_pass_a_steady_face_through():
    retargeter = Retargeter()
    for i in range(30):
        out = retargeter.update(face(i / FPS, {"jawOpen": 0.6}, yaw=20), i / FPS)
    assert abs(shape(out, "jawOpen") - 0.6) < 1e-3
    yaw, pitch, _ = yaw_pitch_roll(_as_camera(out.head))
    assert abs(yaw - 20) < 0.1 and abs(pitch) < 0.1


def _as_camera(head: np.ndarray) -> np.ndarray:
    """Expression.head is in template axes; yaw_pitch_roll reads face→camera transforms."""
    return FACING_CAMERA @ head[:3, :3]


def test_blink_is_crisp_while_brows_are_smoothed():
    retargeter = Retargeter()
    for i in range(10):
        retargeter.update(face(i / FPS), i / FPS)
    step = {"eyeBlinkLeft": 1.0, "browInnerUp": 1.0}
    outs = [retargeter.update(face((10 + i) / FPS, step), (10 + i) / FPS) for i in range(3)]
    assert shape(outs[1], "eyeBlinkLeft") > 0.9  # closed within two frames
    assert shape(outs[0], "browInnerUp") < 0.6 < shape(outs[0], "eyeBlinkLeft")  # brows ease in
    still = [shape(retargeter.update(face((20 + i) / FPS, {"browInnerUp": 0.5 + 0.05 * (-1) ** i}),
                                     (20 + i) / FPS), "browInnerUp") for i in range(60)]
    assert np.std(still[30:]) < 0.02  # ±0.05 frame-to-frame jitter mostly removed


def test_calibration_maps_the_persons_neutral_to_zero():
    resting = {"mouthFrownLeft": 0.3, "browDownLeft": 0.2}
    neutral = [face(i / FPS, resting, yaw=5, pitch=-8) for i in range(20)]
    retargeter = Retargeter()
    calibration = retargeter.calibrate(neutral)
    assert abs(calibration.rest[BLENDSHAPE_INDEX["mouthFrownLeft"]] - 0.3) < 1e-6
    out = retargeter.update(face(1.0, resting, yaw=5, pitch=-8), 1.0)
    assert shape(out, "mouthFrownLeft") < 1e-6 and shape(out, "browDownLeft") < 1e-6
    assert np.allclose(out.head[:3, :3], np.eye(3), atol=1e-3)  # their neutral head is "forward"
    out = retargeter.update(face(1.5, {"mouthFrownLeft": 1.0}, yaw=5, pitch=-8), 1.5)
    assert shape(out, "mouthFrownLeft") > 0.5  # the range above rest still reaches up


def test_calibrate_hotkey_collects_a_second_of_frames():
    retargeter = Retargeter()
    retargeter.calibrate_next(seconds=0.5)
    for i in range(30):
        retargeter.update(face(i / FPS, {"mouthSmileLeft": 0.25}), i / FPS)
    assert abs(retargeter.calibration.rest[BLENDSHAPE_INDEX["mouthSmileLeft"]] - 0.25) < 1e-6


def test_range_calibration_and_json_round_trip():
    calibration = Calibration.from_neutral([face(0.0, {"jawOpen": 0.1})])
    expressive = [face(i / FPS, {"jawOpen": 0.1 + 0.6 * i / 30}) for i in range(31)]
    calibration = calibration.with_range(expressive)
    assert 0.6 < calibration.full[BLENDSHAPE_INDEX["jawOpen"]] <= 0.7
    assert calibration.full[BLENDSHAPE_INDEX["eyeBlinkLeft"]] == 1.0  # unused: full range kept
    restored = Calibration.from_json(calibration.to_json())
    np.testing.assert_allclose(restored.rest, calibration.rest)
    np.testing.assert_allclose(restored.full, calibration.full)
    with pytest.raises(ConfigError, match="calib.json"):
        Calibration.from_json('{"rest": {}}', "calib.json")
    with pytest.raises(ValueError):
        Calibration.from_neutral([FaceState.lost(0.0)])


def test_lost_face_holds_then_eases_to_rest_and_back():
    retargeter = Retargeter(hold_s=0.5, ease_s=0.8)
    for i in range(30):
        retargeter.update(face(i / FPS, {"jawOpen": 0.8}, yaw=25), i / FPS)
    held = retargeter.update(FaceState.lost(1.2), 1.2)
    assert abs(shape(held, "jawOpen") - 0.8) < 0.01  # a short dropout shows nothing
    mid = retargeter.update(FaceState.lost(1.0 + 0.5 + 0.4), 1.9)
    assert 0.1 < shape(mid, "jawOpen") < 0.7
    rest = retargeter.update(FaceState.lost(3.0), 3.0)
    assert shape(rest, "jawOpen") == 0.0 and np.allclose(rest.head, np.eye(4), atol=1e-5)
    back = retargeter.update(face(3.0 + 1 / FPS, {"jawOpen": 0.8}), 3.0 + 1 / FPS)
    assert shape(back, "jawOpen") < 0.4  # eases back in rather than jumping
    for i in range(2, 20):
        back = retargeter.update(face(3.0 + i / FPS, {"jawOpen": 0.8}), 3.0 + i / FPS)
    assert abs(shape(back, "jawOpen") - 0.8) < 0.02


def test_rest_pose_hook_and_scene_style():
    idle = Expression(blendshape_vector({"eyeBlinkLeft": 0.7}))
    retargeter = Retargeter(rest_pose=lambda t: idle)
    assert shape(retargeter.update(FaceState.lost(0.0), 0.0), "eyeBlinkLeft") == pytest.approx(0.7)
    for i in range(30):
        out = retargeter.update(face(i / FPS, {"mouthSmileLeft": 0.8}, yaw=20), i / FPS)
    style = Style(channel_gains={"mouthSmileLeft": 0.5}, head_gain=0.5, mirror=False)
    styled = stylize(out, style)
    assert shape(styled, "mouthSmileLeft") == pytest.approx(0.4, abs=0.01)
    assert yaw_pitch_roll(_as_camera(styled.head))[0] == pytest.approx(10.0, abs=0.2)
