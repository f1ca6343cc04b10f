"""The triangles of MediaPipe's 478-point face mesh and the loops a photo warp needs.

The triangles are the face template's (``engine.tracking.template``: MediaPipe's published
tessellation, with the eye and mouth openings closed by ear-clipping). The loops are ordered
from MediaPipe's connection sets: the silhouette (face oval), each eye's opening along the lid
margins, and the inner edge of the lips. ``face_triangles(holes=True)`` leaves out the
triangles that close the openings, so what lies behind them (eyeballs, the mouth interior)
shows through.

"Left" and "right" are the person's own, as in ``engine.tracking.landmarks``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.tracking import landmarks as lm

LEFT_IRIS = np.array([lm.LEFT_IRIS_CENTER, *lm.LEFT_IRIS_RING], np.int32)
RIGHT_IRIS = np.array([lm.RIGHT_IRIS_CENTER, *lm.RIGHT_IRIS_RING], np.int32)
IRIS = np.concatenate([LEFT_IRIS, RIGHT_IRIS])


def _ordered_loop(edges, start: int) -> np.ndarray:
    """The closed loop through ``start`` of an undirected edge set, in walking order."""
    neighbours: dict[int, list[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    loop, previous, current = [start], None, start
    while True:
        step = [v for v in neighbours[current] if v != previous][0]
        if step == start:
            return np.array(loop, np.int32)
        loop.append(step)
        previous, current = current, step


@lru_cache(maxsize=1)
def _loops() -> dict[str, np.ndarray]:
    from mediapipe.python.solutions import face_mesh_connections as fmc

    return {
        "oval": _ordered_loop(fmc.FACEMESH_FACE_OVAL, lm.FOREHEAD),
        "left_eye": _ordered_loop(fmc.FACEMESH_LEFT_EYE, lm.LEFT_EYE_OUTER),
        "right_eye": _ordered_loop(fmc.FACEMESH_RIGHT_EYE, lm.RIGHT_EYE_OUTER),
        "inner_lips": _ordered_loop(fmc.FACEMESH_LIPS, lm.UPPER_LIP_INNER),
    }


def face_oval() -> np.ndarray:
    """(36,) the silhouette loop, starting at the forehead."""
    return _loops()["oval"]


def eye_loop(side: str) -> np.ndarray:
    """(16,) the eye opening of ``side`` ("left" or "right"), starting at its outer corner."""
    return _loops()[f"{side}_eye"]


def inner_lip_loop() -> np.ndarray:
    """(20,) the mouth opening, starting at the middle of the upper lip."""
    return _loops()["inner_lips"]


def lid_margins(side: str) -> tuple[np.ndarray, np.ndarray]:
    """The upper and lower lid margins of an eye, each from the outer to the inner corner,
    corners excluded, in matching pairs (landmark i of one faces landmark i of the other)."""
    loop = list(eye_loop(side))
    inner = loop.index(lm.LEFT_EYE_INNER if side == "left" else lm.RIGHT_EYE_INNER)
    first, second = np.array(loop[1:inner], np.int32), np.array(loop[inner + 1:][::-1], np.int32)
    upper_lid = lm.LEFT_UPPER_LID if side == "left" else lm.RIGHT_UPPER_LID
    return (first, second) if upper_lid[0] in first else (second, first)


def lip_margins() -> tuple[np.ndarray, np.ndarray, int, int]:
    """The inner upper and lower lip from the right corner to the left one, corners excluded,
    in matching pairs; then the right and left corner."""
    loop = list(inner_lip_loop())
    template = _template_points()
    x = template[loop, 0]
    right, left = loop[int(np.argmin(x))], loop[int(np.argmax(x))]  # +x is the person's left
    a, b = loop.index(right), loop.index(left)
    if a > b:
        a, b = b, a
    one, other = loop[a + 1:b], loop[b + 1:] + loop[:a]
    upper, lower = (one, other) if lm.UPPER_LIP_INNER in one else (other, one)
    by_x = lambda side: np.array(sorted(side, key=lambda v: template[v, 0]), np.int32)
    return by_x(upper), by_x(lower), right, left


def _template_points() -> np.ndarray:
    from engine.tracking.template import load_template

    return load_template().points


@lru_cache(maxsize=2)
def face_triangles(holes: bool) -> np.ndarray:
    """(T, 3) int32 triangles of the 468 mesh points, counter-clockwise seen from the front;
    with ``holes`` the eye and mouth openings are left open."""
    from engine.tracking.template import load_template

    triangles = load_template().triangles
    if not holes:
        return triangles
    closing = np.zeros(len(triangles), bool)
    for loop in (eye_loop("left"), eye_loop("right"), inner_lip_loop()):
        closing |= np.isin(triangles, loop).all(axis=1)
    return np.ascontiguousarray(triangles[~closing])
