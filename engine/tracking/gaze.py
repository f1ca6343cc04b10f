"""Eye gaze from the iris landmarks, in the pose-free face frame.

Each eye is a ball of radius ``EYEBALL_RADIUS_CM``; the iris centre's offset from the middle of the
eye corners is the sine of the eye's rotation. The iris sits a little above the corners' midline
when looking straight ahead (``IRIS_REST_CM``), measured on neutral frontal faces.
"""

from __future__ import annotations

import numpy as np

from engine.tracking import landmarks as lm

EYEBALL_RADIUS_CM = 1.2
IRIS_REST_CM = np.array([0.0, 0.21])  # iris centre − corner midpoint, looking straight ahead
# Each eye's (outer corner, inner corner, iris centre); the left eye first.
_EYES = np.array([[lm.LEFT_EYE_OUTER, lm.LEFT_EYE_INNER, lm.LEFT_IRIS_CENTER],
                  [lm.RIGHT_EYE_OUTER, lm.RIGHT_EYE_INNER, lm.RIGHT_IRIS_CENTER]])


def eye_angles(points: np.ndarray) -> np.ndarray:
    """(2, 2) radians, rows = left eye, right eye; columns = yaw (> 0 towards the person's left),
    pitch (> 0 up). ``points`` are the (478, 3) landmarks in the template frame (cm)."""
    corners = 0.5 * (points[_EYES[:, 0], :2] + points[_EYES[:, 1], :2])
    offset = points[_EYES[:, 2], :2] - corners - IRIS_REST_CM
    return np.arcsin(np.clip(offset / EYEBALL_RADIUS_CM, -1.0, 1.0))


def gaze(angles: np.ndarray) -> np.ndarray:
    """(2,) float32 yaw, pitch of both eyes together: the mean of the two eyes."""
    return angles.mean(axis=0).astype(np.float32)
