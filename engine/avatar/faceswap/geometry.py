"""The swapped face's mesh: the persona's face shape, posed and animated by the live face.

Each frame the live landmarks are aligned to the persona's by a 3D similarity (Umeyama). In that
frame the live shape minus the performer's neutral shape is their expression; the swapped face
is the persona's shape plus that expression, mapped back to the live pose. So the inner face
(eyes, brows, nose, mouth) has the persona's proportions while moving as the performer moves,
and the silhouette stays the performer's: the identity weight falls to zero at the face oval,
where the swap blends into the live picture, so no second jaw line or cheek shows beside it.

The performer's neutral shape is not known in advance: it is the running mean of their aligned
shape (``NEUTRAL_S`` time constant), which expressions come and go around.

Vertices are the 478 landmarks plus the centres of the two eye openings and the mouth opening.
Skin triangles (``topology.face_triangles(holes=True)``) take their texture from the photo; the
openings (fans from their centres) take theirs from the live picture at the live landmarks, so
the performer's gaze and mouth interior are seen, moved to where the persona's eyes and mouth
are.
"""

from __future__ import annotations

import numpy as np

from engine.avatar.photo import topology
from engine.tracking import landmarks as lm
from engine.types import NUM_LANDMARKS

# Extra vertices after the 478 landmarks: the centres of the three openings, where their fans meet.
OPENINGS = ("left_eye", "right_eye", "mouth")
NUM_VERTICES = NUM_LANDMARKS + len(OPENINGS)
# Mask, in face widths from the silhouette inwards: transparent for ERODE (the tracked oval
# wanders onto hair and background by a few pixels), then a smooth ramp over FEATHER.
ERODE = 0.015
FEATHER = 0.10
# ... and fading out over the forehead, FOREHEAD_FADE face widths above the brows: the live
# forehead joins the live hair line naturally. Below that the photo's own forehead is kept where
# it is skin (persona.py: a fringe or a hat is left out texel by texel).
FOREHEAD_FADE = (0.10, 0.28)
BROW_ZONE = (-0.02, 0.05)  # face widths above the brows where the photo's texels may be hair
IDENTITY_RAMP = 0.05  # the persona's shape takes over within this many face widths of the oval
NEUTRAL_S = 8.0  # time constant of the performer's running neutral shape
MAX_EYE_RATIO = 1.6  # the eyes open at most this much wider than the performer's neutral


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def distance_to_oval(points: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(N,) distance of each 2D point from the face silhouette of ``landmarks``, in face widths
    (the silhouette's horizontal extent)."""
    oval = landmarks[topology.face_oval(), :2].astype(np.float64)
    a, b = oval, np.roll(oval, -1, axis=0)
    ab = b - a
    ap = points[:, None, :2] - a[None]
    t = np.clip((ap * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    nearest = a[None] + t[..., None] * ab[None]
    distance = np.linalg.norm(points[:, None, :2] - nearest, axis=-1).min(axis=1)
    return distance / max(float(np.ptp(oval[:, 0])), 1e-6)


def opening_loops() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The loops of ``OPENINGS``, in that order."""
    return topology.eye_loop("left"), topology.eye_loop("right"), topology.inner_lip_loop()


def with_centres(points: np.ndarray) -> np.ndarray:
    """(478, k) landmarks → (481, k): the centres of the ``OPENINGS`` appended."""
    centres = [points[loop].mean(axis=0) for loop in opening_loops()]
    return np.concatenate([points, np.stack(centres)]).astype(np.float32)


def _fan(centre: int, loop: np.ndarray) -> np.ndarray:
    return np.stack([np.full(len(loop), centre), loop, np.roll(loop, -1)], axis=1)


def skin_triangles() -> np.ndarray:
    """(T, 3) int32: the face without the eye and mouth openings."""
    return np.ascontiguousarray(topology.face_triangles(holes=True), np.int32)


def opening_triangles() -> np.ndarray:
    """(T, 3) int32: fans from their centres closing both eye openings and the mouth."""
    return np.concatenate([_fan(NUM_LANDMARKS + i, loop)
                           for i, loop in enumerate(opening_loops())]).astype(np.int32)


def similarity(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(scale, rotation (3, 3), translation (3,)) minimising |scale·R·source + t − target|²
    over corresponding (N, 3) points (Umeyama 1991), without reflection."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mu_s, target - mu_t
    u, d, vt = np.linalg.svd(t.T @ s / len(source))
    flip = np.ones(3)
    flip[2] = np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0
    rotation = (u * flip) @ vt
    scale = float((d * flip).sum() / max((s * s).sum() / len(source), 1e-12))
    return scale, rotation, mu_t - scale * rotation @ mu_s


class IdentityShape:
    """Per frame: where the swapped face's vertices go, given the live landmarks."""

    def __init__(self, persona: np.ndarray, neutral_s: float = NEUTRAL_S) -> None:
        self.persona = persona.astype(np.float64)  # (478, 3) photo pixels
        distance = distance_to_oval(self.persona, self.persona)
        self.weight = smoothstep(0.0, IDENTITY_RAMP, distance)[:, None]  # (478, 1)
        self.neutral_s = neutral_s
        self.neutral: np.ndarray | None = None  # (478, 3), the performer's, in the persona frame
        self._t: float | None = None
        margins = [topology.lid_margins(side) for side in ("left", "right")]
        self._lids = tuple(np.concatenate(parts) for parts in zip(*margins))  # upper, lower
        self._lips = topology.lip_margins()[:2]

    def place(self, live: np.ndarray, t: float) -> np.ndarray:
        """(481, 3) float32 vertex positions in live pixels for live landmarks (478, 3)."""
        live = live.astype(np.float64)
        scale, rotation, shift = similarity(live, self.persona)
        aligned = scale * live @ rotation.T + shift
        if self.neutral is None or self._t is None:
            self.neutral = aligned.copy()
        else:
            rate = 1.0 - float(np.exp(-max(t - self._t, 0.0) / self.neutral_s))
            self.neutral += rate * (aligned - self.neutral)
        self._t = t
        swapped = aligned + self.weight * (self.persona - self.neutral)
        # Adding the expression to the persona's shape moves the openings' edges by the
        # performer's own distances, so a persona with wider eyes never quite closed them and
        # one photographed mid-smile never closed the mouth. The lids open by the performer's
        # share of their neutral opening instead, the lips by the performer's opening.
        upper, lower = self._lids
        opening = np.linalg.norm(aligned[upper] - aligned[lower], axis=1)
        neutral = np.linalg.norm(self.neutral[upper] - self.neutral[lower], axis=1)
        ratio = np.clip(opening / np.maximum(neutral, 1e-6), 0.0, MAX_EYE_RATIO)[:, None]
        _reopen(swapped, upper, lower, (self.persona[upper] - self.persona[lower]) * ratio)
        upper, lower = self._lips
        _reopen(swapped, upper, lower, aligned[upper] - aligned[lower])
        return with_centres((swapped - shift) @ rotation / scale)


def _reopen(points: np.ndarray, upper: np.ndarray, lower: np.ndarray, gap: np.ndarray) -> None:
    """Move matching upper/lower margin points apart by ``gap`` about their midpoints."""
    middle = 0.5 * (points[upper] + points[lower])
    points[upper] = middle + 0.5 * gap
    points[lower] = middle - 0.5 * gap


def height_above_brows(points: np.ndarray, persona: np.ndarray) -> np.ndarray:
    """(N,) how far each 2D point lies above the brows of the face ``persona``, towards its
    forehead, in face widths (negative below)."""
    across = persona[lm.LEFT_EYE_OUTER, :2] - persona[lm.RIGHT_EYE_OUTER, :2]
    up = np.array([across[1], -across[0]]) / max(float(np.linalg.norm(across)), 1e-6)
    if np.dot(persona[lm.FOREHEAD, :2] - persona[lm.NOSE_TIP, :2], up) < 0:
        up = -up  # image y runs down; "up" is towards the forehead whichever way round
    brows = persona[[*lm.LEFT_BROW, *lm.RIGHT_BROW], :2].mean(axis=0)
    width = max(float(np.ptp(persona[topology.face_oval(), 0])), 1e-6)
    return (points[:, :2] - brows) @ up / width


def mask_alpha(persona: np.ndarray) -> np.ndarray:
    """(481,) float32 per-vertex opacity of the swapped skin, measured on the persona's
    landmarks (so it moves with the face): 0 on the silhouette, eroded and feathered inwards,
    and faded out over the upper forehead."""
    points = with_centres(persona[:, :2]).astype(np.float64)
    alpha = smoothstep(ERODE, ERODE + FEATHER, distance_to_oval(points, persona))
    alpha *= 1.0 - smoothstep(*FOREHEAD_FADE, height_above_brows(points, persona))
    return alpha.astype(np.float32)


def opaque_triangles(persona: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The skin triangles split into those drawn opaque (every vertex fully opaque, below the
    brows where no texel is see-through) and the rest. Blending costs llvmpipe about as much
    again as the texturing, and most of the face needs none."""
    triangles = skin_triangles()
    below = height_above_brows(with_centres(persona[:, :2]), persona) < BROW_ZONE[0]
    opaque = ((alpha[triangles] >= 0.999) & below[triangles]).all(axis=1)
    return (np.ascontiguousarray(triangles[opaque]), np.ascontiguousarray(triangles[~opaque]))


def core_triangles(alpha: np.ndarray, threshold: float = 0.99) -> np.ndarray:
    """(T, 3) int32: the skin triangles drawn fully opaque, where skin colour is measured."""
    triangles = skin_triangles()
    return np.ascontiguousarray(triangles[(alpha[triangles] >= threshold).all(axis=1)])
