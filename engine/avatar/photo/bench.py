"""The photo avatar's part of ``persona bench render`` (engine/avatar/bench.py)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from engine.types import NUM_BLENDSHAPES, Expression


def render_figures(gl, shaders, compositor, seconds: float) -> dict[str, float]:
    """The photo avatar, built from skimage's astronaut into a temporary folder: frame times
    (warp + draw + readback) with random expressions, head turns within ±25° and gaze, and the
    numpy warp alone."""
    import skimage.data

    from engine.avatar.bench import _frame_times
    from engine.avatar.loader import open_avatar
    from engine.avatar.photo.build import build_photo_avatar
    from engine.safety.likeness import Consent
    from engine.tracking.head_pose import rotation_from_yaw_pitch_roll

    rng = np.random.default_rng(0)
    moving = []
    for _ in range(16):
        head = np.eye(4, dtype=np.float32)
        head[:3, :3] = rotation_from_yaw_pitch_roll(*rng.uniform(-25, 25, 2), 0.0)
        moving.append(Expression(rng.uniform(0.0, 1.0, NUM_BLENDSHAPES).astype(np.float32),
                                 head, rng.uniform(-0.3, 0.3, 2).astype(np.float32)))
    with tempfile.TemporaryDirectory() as folder:
        built = build_photo_avatar(skimage.data.astronaut(), "astronaut", "astronaut",
                                   Path(folder) / "astronaut", Consent(person="astronaut"))
        avatar = open_avatar(str(built), gl, shaders).avatar
    try:
        frame_ms, cpu_ms = _frame_times(avatar, compositor, moving, seconds)
        start = time.perf_counter()
        for k in range(200):
            avatar.rig.positions(moving[k % len(moving)])
        warp_ms = (time.perf_counter() - start) / 200 * 1000.0
        triangles = len(avatar.rig.triangles)
    finally:
        avatar.release()
    return {"photo_ms_p50": round(float(np.percentile(frame_ms, 50)), 2),
            "photo_ms_p99": round(float(np.percentile(frame_ms, 99)), 2),
            "photo_cpu_ms_mean": round(cpu_ms, 2),
            "photo_warp_numpy_ms_mean": round(warp_ms, 3),
            "photo_triangles": triangles}
