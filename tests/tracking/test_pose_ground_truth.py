"""Head pose against ground truth: face meshes textured with real photos, rendered at known
angles with moderngl, then tracked.

Each photo's own MediaPipe landmarks are its texture coordinates, so the render shows that
person's eyes, nose and mouth where the mesh has them. Two meshes: the tracker's own template
(geometry and tracker agree, so this measures MediaPipe + PnP + the angle conventions), and
MediaPipe's canonical face (a different face shape: yaw must still be right, and pitch right up to
the constant offset between the two shapes' notion of "level", which the neutral calibration
removes).
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.tracking.face_mesh import FaceMeshDetector
from engine.tracking.head_pose import HeadPoseSolver, yaw_pitch_roll
from engine.tracking.template import load_template
from tests.tracking.face_render import FaceRenderer, load_obj

ANGLES = (-30, -15, 15, 30)
POSES = [(0, 0)] + [(a, 0) for a in ANGLES] + [(0, a) for a in ANGLES]
SIZE = (640, 480)


@pytest.fixture(scope="module")
def detector():
    detector = FaceMeshDetector(video=False)
    yield detector
    detector.close()


def tracked_angles(gl, detector, photo, vertices, triangles) -> dict[tuple[int, int], np.ndarray]:
    """(yaw, pitch) the tracker reads for each pose in POSES."""
    template = load_template()
    (landmarks,) = detector.detect(photo)
    uvs = landmarks[:, :2] / np.array([photo.shape[1], photo.shape[0]])
    renderer = FaceRenderer(gl.ctx, photo, vertices, triangles, uvs, SIZE)
    try:
        readings = {}
        for yaw, pitch in POSES:
            faces = detector.detect(renderer.render(yaw, pitch, distance_cm=35.0))
            assert faces, f"no face found in the render at yaw {yaw}, pitch {pitch}"
            head = HeadPoseSolver(template).solve(faces[0], SIZE)
            readings[(yaw, pitch)] = np.array(yaw_pitch_roll(head)[:2])
        return readings
    finally:
        renderer.release()


def test_render_matches_its_pose(gl, detector, photos, tmp_path):
    """The renderer itself: a frontal render looks like a face MediaPipe finds, centred."""
    template = load_template()
    photo = photos["astronaut"]
    (landmarks,) = detector.detect(photo)
    renderer = FaceRenderer(gl.ctx, photo, template.points, template.triangles,
                            landmarks[:, :2] / np.array([photo.shape[1], photo.shape[0]]), SIZE)
    try:
        image = renderer.render(0, 0, distance_cm=35.0)
    finally:
        renderer.release()
    assert image.shape == (480, 640, 3)
    (found,) = detector.detect(image)
    centre = found[:, :2].mean(axis=0)
    assert abs(centre[0] - 320) < 20 and abs(centre[1] - 240) < 40


def test_yaw_and_pitch_on_the_template_mesh(gl, detector, photos):
    errors = []
    for name in ("astronaut", "obama", "pyfeat"):
        readings = tracked_angles(gl, detector, photos[name], load_template().points,
                                  load_template().triangles)
        for (yaw, pitch), (got_yaw, got_pitch) in readings.items():
            errors += [got_yaw - yaw, got_pitch - pitch]
    errors = np.abs(errors)
    assert np.median(errors) <= 3.0, f"median error {np.median(errors):.2f}°"
    assert errors.max() <= 12.0


def test_yaw_and_pitch_on_the_canonical_mesh(gl, detector, photos, shared_asset):
    vertices, triangles = load_obj(shared_asset("face_mesh/face_model_with_iris.obj"))
    yaw_errors, pitch_errors = [], []
    for name in ("astronaut", "obama", "pyfeat"):
        readings = tracked_angles(gl, detector, photos[name], vertices, triangles)
        level = readings[(0, 0)][1]  # what the neutral calibration would record
        for (yaw, pitch), (got_yaw, got_pitch) in readings.items():
            yaw_errors.append(got_yaw - yaw)
            pitch_errors.append(got_pitch - level - pitch)
        assert abs(level) < 8.0
    assert np.median(np.abs(yaw_errors)) <= 3.0
    assert np.median(np.abs(pitch_errors)) <= 3.0
