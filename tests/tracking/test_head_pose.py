"""Head pose on exact projections of the template, and the angle conventions."""

from __future__ import annotations

import numpy as np
import pytest

from engine.tracking.head_pose import (
    FACING_CAMERA, HeadPoseSolver, Intrinsics, rotation_from_yaw_pitch_roll, to_face_frame,
    yaw_pitch_roll,
)
from engine.tracking.template import load_template


def project(points: np.ndarray, rotation: np.ndarray, distance: float, k: Intrinsics) -> np.ndarray:
    """Pixel landmarks (z in MediaPipe's convention: pixel scale, smaller = nearer)."""
    camera = points @ (FACING_CAMERA @ rotation).T + np.array([0.0, 0.0, distance])
    x = k.fx * camera[:, 0] / camera[:, 2] + k.cx
    y = k.fy * camera[:, 1] / camera[:, 2] + k.cy
    z = (camera[:, 2] - distance) * k.fx / distance
    return np.stack([x, y, z], axis=1).astype(np.float32)


@pytest.mark.parametrize("yaw, pitch, roll", [(0, 0, 0), (25, -10, 5), (-30, 20, -12), (10, 30, 0)])
def test_angles_round_trip(yaw, pitch, roll):
    rotation = rotation_from_yaw_pitch_roll(yaw, pitch, roll)
    head = np.eye(4)
    head[:3, :3] = FACING_CAMERA @ rotation
    np.testing.assert_allclose(yaw_pitch_roll(head), (yaw, pitch, roll), atol=1e-6)


def test_angle_signs_follow_the_documented_convention():
    nose = np.array([0.0, 0.0, 1.0])
    # yaw > 0 turns towards the person's left, pitch > 0 lifts the chin, roll > 0 tilts the top
    # of the head towards the right shoulder.
    assert (rotation_from_yaw_pitch_roll(20, 0, 0) @ nose)[0] > 0
    assert (rotation_from_yaw_pitch_roll(0, 20, 0) @ nose)[1] > 0
    up = np.array([0.0, 1.0, 0.0])
    assert (rotation_from_yaw_pitch_roll(0, 0, 20) @ up)[0] < 0


@pytest.mark.parametrize("yaw, pitch, roll", [(0, 0, 0), (30, 0, 0), (0, -30, 0), (-20, 15, 10)])
def test_solver_recovers_exact_pose(yaw, pitch, roll):
    template = load_template()
    k = Intrinsics.for_frame(640, 480)
    landmarks = project(template.points, rotation_from_yaw_pitch_roll(yaw, pitch, roll), 50.0, k)
    head = HeadPoseSolver(template).solve(landmarks, (640, 480))
    np.testing.assert_allclose(yaw_pitch_roll(head), (yaw, pitch, roll), atol=0.05)
    np.testing.assert_allclose(head[:3, 3], (0.0, 0.0, 50.0), atol=0.05)


def test_face_frame_removes_pose_and_scale():
    template = load_template()
    k = Intrinsics.for_frame(1280, 720)
    landmarks = project(template.points, rotation_from_yaw_pitch_roll(20, -15, 8), 80.0, k)
    points, residual = to_face_frame(landmarks, template)
    assert residual < 0.15  # perspective is the only difference from a similarity
    error = np.linalg.norm(points - template.points, axis=1)
    assert np.median(error) < 0.1 and error.max() < 0.6  # the most at the ears, farthest back


def test_solver_gives_up_on_garbage_without_raising():
    template = load_template()
    rng = np.random.default_rng(0)
    landmarks = rng.uniform(0, 10, (478, 3)).astype(np.float32)
    head = HeadPoseSolver(template).solve(landmarks, (640, 480))
    assert head is None or np.isfinite(head).all()
