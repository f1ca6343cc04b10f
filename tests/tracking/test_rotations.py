"""Quaternion helpers agree with scipy's Rotation."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from engine.tracking.rotations import matrix_from_quat, quat_from_matrix, scale_rotation, slerp


def test_against_scipy():
    rng = np.random.default_rng(3)
    for rotation in Rotation.random(200, random_state=rng):
        matrix = rotation.as_matrix()
        q = quat_from_matrix(matrix)
        expected = rotation.as_quat()
        expected = -expected if expected[3] < 0 else expected
        np.testing.assert_allclose(q, expected, atol=1e-9)
        np.testing.assert_allclose(matrix_from_quat(q), matrix, atol=1e-9)
        half = Rotation.from_rotvec(rotation.as_rotvec() * 0.5).as_matrix()
        np.testing.assert_allclose(matrix_from_quat(scale_rotation(q, 0.5)), half, atol=1e-9)
    a, b = Rotation.random(2, random_state=rng)
    for w in (0.0, 0.3, 1.0):
        mid = (a * Rotation.from_rotvec((a.inv() * b).as_rotvec() * w)).as_matrix()
        got = matrix_from_quat(slerp(a.as_quat(), b.as_quat(), w))
        np.testing.assert_allclose(got, mid, atol=1e-9)
    np.testing.assert_allclose(quat_from_matrix(np.eye(3)), [0, 0, 0, 1])
