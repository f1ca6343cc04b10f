"""Unit quaternions (x, y, z, w) for the per-frame path: conversions, slerp, scaling.

Hand-written because scipy's ``Rotation`` costs ~0.4 ms per conversion (array-API checks),
which the retarget stage would pay several times a frame.
"""

from __future__ import annotations

import math

import numpy as np


def quat_from_matrix(m: np.ndarray) -> np.ndarray:
    """(4,) unit quaternion (x, y, z, w) of a (3, 3) rotation matrix, w >= 0."""
    m = np.asarray(m, np.float64)
    (m00, m01, m02), (m10, m11, m12), (m20, m21, m22) = m[:3, :3].tolist()
    trace = m00 + m11 + m22
    if trace > 0.0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = ((m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s, 0.25 * s)
    elif m00 > m11 and m00 > m22:
        s = 2.0 * math.sqrt(1.0 + m00 - m11 - m22)
        q = (0.25 * s, (m01 + m10) / s, (m02 + m20) / s, (m21 - m12) / s)
    elif m11 > m22:
        s = 2.0 * math.sqrt(1.0 + m11 - m00 - m22)
        q = ((m01 + m10) / s, 0.25 * s, (m12 + m21) / s, (m02 - m20) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + m22 - m00 - m11)
        q = ((m02 + m20) / s, (m12 + m21) / s, 0.25 * s, (m10 - m01) / s)
    quat = np.array(q)
    quat /= np.linalg.norm(quat)
    return -quat if quat[3] < 0 else quat


def matrix_from_quat(q: np.ndarray) -> np.ndarray:
    """(3, 3) rotation matrix of a quaternion (x, y, z, w); it need not be unit length."""
    x, y, z, w = (np.asarray(q, np.float64) / np.linalg.norm(q)).tolist()
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def scale_rotation(q: np.ndarray, gain: float) -> np.ndarray:
    """The rotation about the same axis by ``gain`` times the angle."""
    q = np.asarray(q, np.float64)
    if q[3] < 0:
        q = -q
    half = math.atan2(float(np.linalg.norm(q[:3])), float(q[3]))
    if half < 1e-12:
        return np.array([0.0, 0.0, 0.0, 1.0])
    axis = q[:3] / math.sin(half)
    return np.append(axis * math.sin(gain * half), math.cos(gain * half))


def slerp(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """``a`` at w = 0, ``b`` at w = 1, along the shorter arc."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    dot = float(a @ b)
    if dot < 0.0:
        b, dot = -b, -dot
    if dot > 0.9995:  # nearly the same rotation: linear is exact enough and stable
        q = a + w * (b - a)
        return q / np.linalg.norm(q)
    theta = math.acos(dot)
    return (math.sin((1 - w) * theta) * a + math.sin(w * theta) * b) / math.sin(theta)


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 4) Hamilton products ``a b`` of quaternions (x, y, z, w): ``b`` first, then ``a``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    av, aw, bv, bw = a[..., :3], a[..., 3:], b[..., :3], b[..., 3:]
    vector = aw * bv + bw * av + np.cross(av, bv)
    return np.concatenate([vector, aw * bw - np.sum(av * bv, axis=-1, keepdims=True)], axis=-1)


def from_axis_angle(axes: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions turning ``angles`` radians about unit ``axes`` (..., 3)."""
    half = np.asarray(angles, np.float64)[..., None] / 2.0
    return np.concatenate([np.asarray(axes, np.float64) * np.sin(half), np.cos(half)], axis=-1)
