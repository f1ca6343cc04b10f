"""The fast path (source cached, batch norms folded, channels-last; torch and onnxruntime) gives
the straightforward loop's pictures, and the relative motion does what FOMM's does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.neural.animator import (Animator, movement_scale, reference_frame,
                                    relative_keypoints, to_tensor)


def _frames(size: int, count: int) -> list[np.ndarray]:
    from engine.neural.bench import _frames as frames

    return frames(size, count, seed=5)


def test_the_fast_path_equals_the_reference_within_1e4(tiny_model):
    source, calibration, *driving = _frames(64, 5)
    animator = Animator(tiny_model, "cpu")
    animator.set_source(source)
    animator.calibrate(animator.keypoints(calibration))
    with torch.no_grad():
        kp_source = tiny_model.kp_detector(to_tensor(source))
        kp_calibration = tiny_model.kp_detector(to_tensor(calibration))
    scale = movement_scale(kp_source, kp_calibration)
    assert scale == pytest.approx(animator.scale, rel=1e-5)
    for frame in driving:
        reference = reference_frame(tiny_model, to_tensor(source), to_tensor(frame), kp_source,
                                    kp_calibration, scale)
        fast = animator.render(animator.motion_keypoints(animator.keypoints(frame)))
        assert float((fast - reference).abs().max()) < 1e-4
        assert float(reference.std()) > 1e-3  # a real picture, not a constant


def test_onnxruntime_gives_the_same_pictures(tiny_model):
    pytest.importorskip("onnxruntime")
    from engine.neural.onnx_path import OnnxAnimator

    source, calibration, driving = _frames(64, 3)
    animator = Animator(tiny_model, "cpu")
    animator.set_source(source)
    animator.calibrate(animator.keypoints(calibration))
    onnx = OnnxAnimator(animator, threads=2)
    kp_torch, kp_onnx = animator.keypoints(driving), onnx.keypoints(driving)
    for key in kp_torch:
        assert float((kp_torch[key] - kp_onnx[key]).abs().max()) < 1e-4
    torch_picture = animator.render(animator.motion_keypoints(kp_torch))
    onnx_picture = onnx.render(animator.motion_keypoints(kp_onnx))
    assert float((torch_picture - onnx_picture).abs().max()) < 1e-4


def test_relative_motion_is_zero_at_calibration_and_scaled_by_hull_areas():
    g = torch.Generator().manual_seed(0)
    kp_source = {"value": torch.rand(1, 10, 2, generator=g) - 0.5,
                 "jacobian": torch.eye(2).repeat(1, 10, 1, 1)
                 + 0.1 * torch.rand(1, 10, 2, 2, generator=g)}
    kp_calibration = {"value": (torch.rand(1, 10, 2, generator=g) - 0.5) * 2.0,
                      "jacobian": torch.eye(2).repeat(1, 10, 1, 1) * 1.5}
    same = relative_keypoints(kp_calibration, kp_calibration, kp_source, 0.7)
    assert torch.allclose(same["value"], kp_source["value"])
    assert torch.allclose(same["jacobian"], kp_source["jacobian"], atol=1e-6)
    moved = {"value": kp_calibration["value"] + torch.tensor([0.1, 0.0]),
             "jacobian": kp_calibration["jacobian"]}
    shifted = relative_keypoints(moved, kp_calibration, kp_source, 0.5)
    assert torch.allclose(shifted["value"] - kp_source["value"],
                          torch.tensor([0.05, 0.0]).expand(1, 10, 2), atol=1e-6)
    twice = {"value": kp_source["value"] * 2.0}
    assert movement_scale(kp_source, twice) == pytest.approx(0.5, rel=1e-6)
