"""The driving square: framed round the tracked face, steady under landmark noise."""

from __future__ import annotations

import numpy as np

from engine.neural.driving import FACE_SHARE, DrivingCrop, crop_square, face_square


def test_the_square_frames_the_face_and_smoothing_removes_jitter(astronaut):
    from engine.avatar.photo import topology
    from engine.avatar.photo.fit import fit_face

    landmarks = fit_face(astronaut, "astronaut").landmarks
    cx, cy, side = face_square(landmarks)
    oval = landmarks[topology.face_oval(), :2]
    assert abs(np.ptp(oval, axis=0).max() - FACE_SHARE * side) < 1e-3
    assert oval[:, 0].min() > cx - side / 2 and oval[:, 0].max() < cx + side / 2
    crop = crop_square(astronaut, np.array([cx, cy, side]), 128)
    assert crop.shape == (128, 128, 3)
    # Landmark noise of 1.5 px at 30 fps: the raw square jitters, the smoothed one barely.
    rng = np.random.default_rng(0)
    cropper, raw, smooth = DrivingCrop(128), [], []
    for i in range(90):
        noisy = landmarks + rng.normal(0.0, 1.5, landmarks.shape).astype(np.float32)
        raw.append(face_square(noisy))
        smooth.append(cropper._filter(face_square(noisy), i / 30.0))
    raw, smooth = np.array(raw[30:]), np.array(smooth[30:])
    assert np.std(smooth[:, :2], axis=0).max() < 0.4 * np.std(raw[:, :2], axis=0).max()
    # A real move is followed: 40 px to the right in a third of a second.
    for i in range(10):
        square = cropper._filter(face_square(landmarks + [40.0, 0.0, 0.0]), 3.0 + i / 30.0)
    assert abs(square[0] - (cx + 40.0)) < 4.0
