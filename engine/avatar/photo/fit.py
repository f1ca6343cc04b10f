"""Finding and measuring the one face in a still photo: what a photo avatar is built from.

``fit_face`` runs our tracker's face mesh (``engine.tracking.face_mesh``, every image on its
own) and its head pose solver, and refuses, with one line naming the picture, what a warp of the
photo cannot hold: no face, several faces of similar size (whose likeness would it be?), a face
too small to carry detail, or a head turned beyond ``MAX_YAW_DEG`` / ``MAX_PITCH_DEG`` /
``MAX_ROLL_DEG`` (the live warp turns the head by up to ±30° more, and the far side of a face
turned further away is not in the photo).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import ConfigError

MIN_FACE_PX = 96  # smallest face (the larger side of its landmark box) worth warping
SIMILAR_FACE_AREA = 0.4  # a second face at least this share of the largest's area is ambiguous
MAX_YAW_DEG = 20.0
MAX_PITCH_DEG = 20.0
MAX_ROLL_DEG = 30.0


@dataclass(frozen=True)
class FittedFace:
    landmarks: np.ndarray  # (478, 3) float32: x, y pixels of the image; z in pixel units (MediaPipe)
    box: tuple[float, float, float, float]  # x, y, w, h pixels
    yaw_deg: float
    pitch_deg: float
    roll_deg: float


def fit_face(image: np.ndarray, where: str, min_face_px: int = MIN_FACE_PX) -> FittedFace:
    """The one face in ``image`` ((H, W, 3) uint8 RGB), or ConfigError ``"where: why"``."""
    from engine.tracking.face_mesh import FaceMeshDetector
    from engine.tracking.head_pose import HeadPoseSolver, yaw_pitch_roll
    from engine.tracking.mediapipe_tracker import face_box
    from engine.tracking.template import load_template

    detector = FaceMeshDetector(max_faces=4, video=False)
    try:
        faces = detector.detect(np.ascontiguousarray(image))
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None
    finally:
        detector.close()
    if not faces:
        raise ConfigError(f"{where}: no face found; use a photo with one face seen from the front")
    boxes = [face_box(face) for face in faces]
    areas = np.array([w * h for _, _, w, h in boxes])
    order = np.argsort(-areas)
    if len(faces) > 1 and areas[order[1]] >= SIMILAR_FACE_AREA * areas[order[0]]:
        raise ConfigError(f"{where}: {len(faces)} faces of similar size; crop the photo to the "
                          "one person it should show")
    landmarks, box = faces[order[0]], boxes[order[0]]
    size = max(box[2], box[3])
    if size < min_face_px:
        raise ConfigError(f"{where}: the face is {size:.0f} px across; at least {min_face_px} px "
                          "is needed")
    height, width = image.shape[:2]
    head = HeadPoseSolver(load_template()).solve(landmarks, (width, height))
    if head is None:
        raise ConfigError(f"{where}: the face's pose could not be measured")
    yaw, pitch, roll = yaw_pitch_roll(head)
    if abs(yaw) > MAX_YAW_DEG or abs(pitch) > MAX_PITCH_DEG or abs(roll) > MAX_ROLL_DEG:
        raise ConfigError(f"{where}: the head is turned (yaw {yaw:+.0f}°, pitch {pitch:+.0f}°, "
                          f"roll {roll:+.0f}°) beyond ±{MAX_YAW_DEG:.0f}° yaw, "
                          f"±{MAX_PITCH_DEG:.0f}° pitch, ±{MAX_ROLL_DEG:.0f}° roll; use a photo "
                          "facing the camera")
    return FittedFace(landmarks.astype(np.float32), box, yaw, pitch, roll)
