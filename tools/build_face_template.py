"""Build engine/tracking/face_template.npz, the 3D face template head pose is solved against.

Geometry comes from MediaPipe's landmarks (with depth) on real frontal face photos that pip
packages ship (scikit-image's ``astronaut``, public domain), each photo also seen mirrored. The
observations are made symmetric (every landmark averaged with its reflected partner), rotated so
the symmetry plane is x = 0 and the chin→forehead line is +y, centred on the mesh centroid and
scaled so the outer eye corners are 8.8 cm apart (adult biocular width). Triangles come from the
tessellation edges in mediapipe's ``face_mesh_connections``.

Usage: python tools/build_face_template.py [--out PATH]
"""

from __future__ import annotations

import argparse
import itertools
import logging
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.tracking import landmarks as lm
from engine.tracking.face_mesh import FaceMeshDetector
from engine.tracking.template import TEMPLATE_PATH

log = logging.getLogger("build_face_template")

BIOCULAR_WIDTH_CM = 8.8
REFLECT = np.array([-1.0, 1.0, 1.0])


def photos() -> list[np.ndarray]:
    """Frontal real-face photos shipped by pip packages."""
    import skimage.data

    return [skimage.data.astronaut()]


def to_face_frame(points_px: np.ndarray) -> np.ndarray:
    """Pixel landmarks (x right, y down, z away) → right-handed (x right, y up, z towards us)."""
    return points_px.astype(np.float64) * np.array([1.0, -1.0, -1.0])


def observe(detector: FaceMeshDetector, image: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Two observations of the face (the photo, and the mirrored photo flipped back) and the
    left/right partner map.

    Landmark i of the mirrored photo, flipped back, lands on the partner of landmark i in the
    photo; matching the two sets one to one gives the partner map, and re-indexing the flipped-back
    set by it gives a second, independent observation of the same face.
    """
    width = image.shape[1]
    (direct,) = detector.detect(image)
    (mirrored,) = detector.detect(np.ascontiguousarray(image[:, ::-1]))
    mirrored[:, 0] = width - mirrored[:, 0]
    direct, mirrored = to_face_frame(direct), to_face_frame(mirrored)
    perm = matching(direct, mirrored)
    return [direct, mirrored[perm]], perm


def matching(points: np.ndarray, others: np.ndarray) -> np.ndarray:
    """perm such that ``others[perm[i]]`` is matched one to one with ``points[i]`` (image x, y only:
    depth is the least reliable coordinate)."""
    cost = np.linalg.norm(points[:, None, :2] - others[None, :, :2], axis=2)
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(len(points), np.int64)
    perm[rows] = cols
    return perm


def kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``source`` rigidly moved (rotation + translation) onto ``target``, least squares."""
    sc, tc = source.mean(0), target.mean(0)
    u, _, vt = np.linalg.svd((source - sc).T @ (target - tc))
    d = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, 1.0, d]) @ vt
    return (source - sc) @ rotation + tc


def symmetrise(points: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Average a face with its own reflection (partners swapped), aligned rigidly onto it."""
    twin = points[perm] * REFLECT
    return 0.5 * (points + kabsch(twin, points))


def axes_from_symmetry(points: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Rotation (rows = new axes) putting the symmetry plane at x = 0 and chin→forehead on +y.

    Up comes from the face itself (not from how the photo happened to frame it), so pitch 0 is
    an anatomical pose: the chin straight below the forehead.
    """
    pairs = [i for i in range(lm.NUM_MESH) if perm[i] > i]
    across = points[pairs] - points[perm[pairs]]
    across *= np.sign(across @ across[0])[:, None]
    x_axis = np.linalg.svd(across, full_matrices=False)[2][0]
    if (points[lm.LEFT_EYE_OUTER] - points[lm.RIGHT_EYE_OUTER]) @ x_axis < 0:
        x_axis = -x_axis
    up = points[lm.FOREHEAD] - points[lm.CHIN]
    y_axis = up - (up @ x_axis) * x_axis
    y_axis /= np.linalg.norm(y_axis)
    return np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)])


def triangles_from_edges(points: np.ndarray) -> np.ndarray:
    """Mesh triangles (counter-clockwise seen from +z) from MediaPipe's tessellation edge list."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    neighbours: dict[int, set[int]] = {}
    for a, b in FACEMESH_TESSELATION:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    triangles = set()
    for a, near in neighbours.items():
        for b, c in itertools.combinations(sorted(near), 2):
            if c in neighbours[b]:
                triangles.add(tuple(sorted((a, b, c))))
    faces = np.array(sorted(triangles), np.int32)
    # A 3-cycle that is not a face has an edge shared by more than two triangles; drop the
    # largest of those until every edge borders at most two (a manifold surface).
    faces = _drop_non_faces(faces, points)
    faces = np.concatenate([faces, _fill_holes(faces, points)])
    normals = np.cross(points[faces[:, 1]] - points[faces[:, 0]],
                       points[faces[:, 2]] - points[faces[:, 0]])
    flip = normals[:, 2] < 0
    faces[flip] = faces[flip][:, [0, 2, 1]]
    return faces


def _drop_non_faces(faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    area = np.linalg.norm(np.cross(points[faces[:, 1]] - points[faces[:, 0]],
                                   points[faces[:, 2]] - points[faces[:, 0]]), axis=1)
    keep = np.ones(len(faces), bool)
    while True:
        users: dict[tuple[int, int], list[int]] = {}
        for f in np.flatnonzero(keep):
            a, b, c = faces[f]
            for edge in ((a, b), (b, c), (a, c)):
                users.setdefault(edge, []).append(f)
        crowded = [fs for fs in users.values() if len(fs) > 2]
        if not crowded:
            return faces[keep]
        for fs in crowded:  # the spurious cycle is the one spanning the widest
            keep[max(fs, key=lambda f: area[f])] = False


def _boundary_loops(faces: np.ndarray) -> list[list[int]]:
    """Closed loops of edges that border exactly one triangle."""
    count: dict[tuple[int, int], int] = {}
    for a, b, c in faces:
        for edge in ((a, b), (b, c), (a, c)):
            key = (min(edge), max(edge))
            count[key] = count.get(key, 0) + 1
    nxt: dict[int, list[int]] = {}
    for (a, b), n in count.items():
        if n == 1:
            nxt.setdefault(a, []).append(b)
            nxt.setdefault(b, []).append(a)
    loops, seen = [], set()
    for start in nxt:
        if start in seen:
            continue
        loop, previous, current = [start], None, start
        seen.add(start)
        while True:
            step = [v for v in nxt[current] if v != previous]
            if not step or step[0] == start:
                break
            previous, current = current, step[0]
            if current in seen:
                break
            loop.append(current)
            seen.add(current)
        loops.append(loop)
    return loops


def _fill_holes(faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Triangles closing the eye and mouth openings (every boundary loop but the outline).

    The tessellation leaves the eyes and the mouth open; a rendered face needs them closed (a
    face with holes for eyes is not one a face tracker recognises). Each hole is ear-clipped in
    the template's front view, where the openings are simple polygons.
    """
    loops = sorted(_boundary_loops(faces), key=len)[:-1]  # the longest loop is the outline
    added = []
    for loop in loops:
        ring = list(loop)
        while len(ring) > 3:
            for k in range(len(ring)):
                a, b, c = ring[k - 1], ring[k], ring[(k + 1) % len(ring)]
                if _is_ear(points[:, :2], ring, a, b, c):
                    added.append((a, b, c))
                    ring.pop(k)
                    break
            else:  # degenerate polygon: close what is left as a fan
                added += [(ring[0], ring[i], ring[i + 1]) for i in range(1, len(ring) - 1)]
                ring = []
        if len(ring) == 3:
            added.append(tuple(ring))
    return np.array(added, np.int32).reshape(-1, 3)


def _is_ear(xy: np.ndarray, ring: list[int], a: int, b: int, c: int) -> bool:
    area = np.cross(xy[b] - xy[a], xy[c] - xy[a])
    orientation = np.sign(sum(np.cross(xy[ring[i - 1]], xy[ring[i]]) for i in range(len(ring))))
    if area * orientation <= 0:
        return False  # reflex corner
    for v in ring:
        if v in (a, b, c):
            continue
        d1 = np.cross(xy[b] - xy[a], xy[v] - xy[a])
        d2 = np.cross(xy[c] - xy[b], xy[v] - xy[b])
        d3 = np.cross(xy[a] - xy[c], xy[v] - xy[c])
        if (d1 * orientation >= 0) and (d2 * orientation >= 0) and (d3 * orientation >= 0):
            return False  # another corner inside
    return True


def build() -> dict[str, np.ndarray]:
    detector = FaceMeshDetector(max_faces=1, video=False)
    observations, perms = [], []
    for image in photos():
        seen, perm = observe(detector, image)
        observations += seen
        perms.append(perm)
    detector.close()
    perm = perms[0]
    involution = np.array_equal(perm[perm], np.arange(len(perm)))
    if any(not np.array_equal(p, perm) for p in perms) or not involution:
        raise RuntimeError("the photos disagree on which landmarks are left/right partners")
    reference = observations[0]
    mean = np.mean([reference] + [kabsch(o, reference) for o in observations[1:]], axis=0)
    mean = symmetrise(mean, perm)
    rotation = axes_from_symmetry(mean, perm)
    mean = (mean - mean[: lm.NUM_MESH].mean(0)) @ rotation.T
    mean = 0.5 * (mean + mean[perm] * REFLECT)  # exact symmetry
    mean[:, 0] -= mean[: lm.NUM_MESH, 0].mean()
    scale = BIOCULAR_WIDTH_CM / np.linalg.norm(mean[lm.LEFT_EYE_OUTER] - mean[lm.RIGHT_EYE_OUTER])
    mean *= scale
    return {
        "points": mean.astype(np.float32),
        "triangles": triangles_from_edges(mean),
        "mirror": perm.astype(np.int32),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TEMPLATE_PATH, help="where to write the .npz")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    template = build()
    np.savez_compressed(args.out, **template)
    log.info("wrote %s: %d points, %d triangles", args.out, len(template["points"]),
             len(template["triangles"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
