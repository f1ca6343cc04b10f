"""Head pose from 2D landmarks against the 3D face template, and the pose-free face frame.

Two views of the same fit:

* ``HeadPoseSolver.solve`` runs ``cv2.solvePnP`` (perspective, camera intrinsics from the frame
  size unless given) on the template's rigid landmarks and returns the 4x4 face→camera transform
  in centimetres — what the avatar's head follows.
* ``to_face_frame`` removes pose and scale from MediaPipe's 3D landmarks with a least-squares
  similarity fit onto the template (weak perspective), giving the points in template centimetres
  — the frame the expression formulas measure in, the same for every head angle and distance.

Angles: ``yaw_pitch_roll`` reads the head's rotation relative to looking straight at the camera
(along the line of sight, wherever the head is in the frame).
Yaw > 0 turns the face to the person's left, pitch > 0 lifts the chin, roll > 0 tilts the head
towards the person's right shoulder (counter-clockwise in the unmirrored image).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from engine.tracking.template import FaceTemplate

# Template axes (x person's left, y up, z towards the camera) in camera axes (x right, y down,
# z forward) for a face looking straight into the camera. It is its own inverse.
FACING_CAMERA = np.diag([1.0, -1.0, -1.0])
DEFAULT_HFOV_DEG = 60.0  # typical webcam horizontal field of view
INLIER_SHARE = 0.7  # the pose is refined on this best-fitting share of the rigid landmarks


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole camera: focal lengths and principal point in pixels."""

    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def for_frame(cls, width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG) -> Intrinsics:
        """A centred pinhole camera with square pixels and the given horizontal field of view."""
        focal = 0.5 * width / math.tan(math.radians(hfov_deg) / 2)
        return cls(focal, focal, width / 2, height / 2)

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], np.float64)


class HeadPoseSolver:
    """Face→camera transforms from pixel landmarks.

    Each frame is solved from scratch with SQPnP (a globally optimal PnP solver, about 50 µs for
    two hundred points: cheaper than refining the previous frame's pose), then solved again on
    the best-fitting share of the landmarks.
    """

    def __init__(self, template: FaceTemplate, intrinsics: Intrinsics | None = None) -> None:
        self._object = template.points[template.rigid].astype(np.float64)
        self._rigid = template.rigid
        self._fixed = intrinsics
        self._camera: np.ndarray | None = None
        self._size: tuple[int, int] | None = None

    def solve(self, landmarks: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray | None:
        """(4, 4) float32 face→camera in cm for (478, 3) pixel landmarks, or None if no fit."""
        if frame_size != self._size:
            intrinsics = self._fixed or Intrinsics.for_frame(*frame_size)
            self._camera, self._size = intrinsics.matrix(), frame_size
        image = landmarks[self._rigid, :2].astype(np.float64)
        pose = self._solve(self._object, image)
        if pose is not None:
            # Re-solve on the landmarks that fit best: a hand, hair or a silhouette displaces
            # some landmarks far more than noise does, and would otherwise tilt the head.
            projected, _ = cv2.projectPoints(self._object, *pose, self._camera, None)
            residual = np.linalg.norm(projected[:, 0] - image, axis=1)
            inliers = residual <= np.quantile(residual, INLIER_SHARE)
            pose = self._solve(self._object[inliers], image[inliers])
        if pose is None:
            return None
        rvec, tvec = pose
        head = np.eye(4, dtype=np.float32)
        head[:3, :3] = cv2.Rodrigues(rvec)[0]
        head[:3, 3] = tvec[:, 0]
        return head

    def _solve(self, points: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            ok, rvec, tvec = cv2.solvePnP(points, image, self._camera, None,
                                          flags=cv2.SOLVEPNP_SQPNP)
        except cv2.error:
            return None
        if not ok or not (np.isfinite(rvec).all() and np.isfinite(tvec).all()) or tvec[2, 0] <= 0:
            return None
        return rvec, tvec


def head_rotation(head: np.ndarray) -> np.ndarray:
    """(3, 3) rotation of the head in template axes: identity when the face looks straight at the
    camera.

    "Straight at the camera" is along the line of sight from the head to the camera, not along
    the camera's optical axis, so a person sitting off to one side of the frame who faces the
    camera reads as facing forward. A 3x3 ``head`` (no position) is taken as on the axis.
    """
    head = np.asarray(head, np.float64)
    rotation = head[:3, :3]
    if head.shape == (4, 4):
        rotation = _towards_axis(head[:3, 3]) @ rotation
    return FACING_CAMERA @ rotation


def _towards_axis(position: np.ndarray) -> np.ndarray:
    """The smallest rotation taking the direction of ``position`` onto the optical axis
    (Rodrigues' formula about d × z, written out: this runs every frame)."""
    x, y, z = (float(v) for v in position)
    norm = math.sqrt(x * x + y * y + z * z)
    if norm < 1e-9:
        return np.eye(3)
    x, y, z = x / norm, y / norm, z / norm
    sin = math.hypot(x, y)
    if sin < 1e-12:
        return np.eye(3)
    kx, ky = y / sin, -x / sin  # unit axis d × z, which has no z component
    c = 1.0 - z  # 1 - cos
    return np.array([
        [1.0 - c * ky * ky, c * kx * ky, sin * ky],
        [c * kx * ky, 1.0 - c * kx * kx, -sin * kx],
        [-sin * ky, sin * kx, z],
    ])


def yaw_pitch_roll(head: np.ndarray) -> tuple[float, float, float]:
    """Degrees, from a face→camera 4x4 (or 3x3), relative to looking straight at the camera
    (``head_rotation``); rotation = R_y(yaw) R_x(-pitch) R_z(roll)."""
    r = head_rotation(head)
    yaw = math.atan2(r[0, 2], r[2, 2])
    pitch = math.asin(max(-1.0, min(1.0, r[1, 2])))
    roll = math.atan2(r[1, 0], r[1, 1])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def rotation_from_yaw_pitch_roll(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """(3, 3) head rotation in template axes from degrees; inverse of ``yaw_pitch_roll``."""
    a, b, c = (math.radians(v) for v in (yaw, -pitch, roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return ry @ rx @ rz


def to_face_frame(landmarks: np.ndarray, template: FaceTemplate) -> tuple[np.ndarray, float]:
    """Landmarks moved into template centimetres by the similarity fit of their rigid points.

    Returns the (478, 3) float64 points and the fit's RMS residual in cm: a mesh that is not
    face-shaped (a bad detection) fits badly, which makes the residual a confidence signal.
    """
    points = landmarks.astype(np.float64) * (1.0, -1.0, -1.0)  # pixels → x right, y up, z near
    source = points[template.rigid]
    target = template.points[template.rigid].astype(np.float64)
    source_mean, target_mean = source.mean(0), target.mean(0)
    s, t = source - source_mean, target - target_mean
    u, sigma, vt = np.linalg.svd(s.T @ t)
    d = np.sign(np.linalg.det(u @ vt))
    correction = np.array([1.0, 1.0, d])
    rotation = (u * correction) @ vt
    scale = (sigma * correction).sum() / max((s * s).sum(), 1e-12)
    aligned = (points - source_mean) @ rotation * scale + target_mean
    residual = aligned[template.rigid] - target
    return aligned, float(np.sqrt((residual * residual).sum(1).mean()))
