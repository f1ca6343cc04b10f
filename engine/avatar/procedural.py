"""Stylised personas built entirely by code: mesh, UVs, textures and all 52 ARKit shape keys.

A persona belongs to no real person: its face is a few dozen numbers (``PersonaParams``) drawn
from a seed. The head is a deformed ellipsoid sampled on a (u, v) grid (u: azimuth, 0 at the
front; v: elevation). The grid has rows exactly on the eye and mouth lines, and along those lines
the row is split into an upper and a lower copy, so eyelids and lips are real openings that shape
keys can open and close. Every shape key is written as a move in (u, v) plus an offset along the
surface normal, evaluated through the same surface function, so keys follow the head's shape
whatever the parameters. Textures are painted in the same (u, v) space, so brows, lips and lash
lines ride along with the geometry.

The result is written as a ``.glb`` (pygltflib) whose "Head" node pivots at the top of the neck
and holds one mesh (skin, ears, eyes, mouth, teeth, tongue, hair) with 52 ARKit-named morph
targets stored as sparse accessors; the neck is a mesh of its own, skinned between the "Head"
joint and a "Neck" joint above the shoulders, so a renderer that turns the head node bends the
neck like a neck; a "Body" node has the shoulders.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine.types import BLENDSHAPE_NAMES

HAIR_STYLES = ("crop", "bob", "swept")
SKIN_TONES = ((0.96, 0.80, 0.69), (0.91, 0.71, 0.58), (0.80, 0.59, 0.45), (0.66, 0.46, 0.34),
              (0.50, 0.34, 0.25), (0.98, 0.86, 0.78))
HAIR_COLOURS = ((0.16, 0.11, 0.08), (0.36, 0.22, 0.12), (0.62, 0.42, 0.22), (0.85, 0.70, 0.45),
                (0.55, 0.18, 0.10), (0.20, 0.30, 0.55), (0.45, 0.60, 0.55))
EYE_COLOURS = ((0.30, 0.45, 0.70), (0.35, 0.25, 0.15), (0.30, 0.55, 0.35), (0.50, 0.40, 0.25),
               (0.45, 0.35, 0.60))
SHIRT_COLOURS = ((0.25, 0.45, 0.65), (0.80, 0.45, 0.30), (0.35, 0.55, 0.40), (0.55, 0.40, 0.65),
                 (0.85, 0.75, 0.35))

# Feature positions on the (u, v) grid, radians.
EYE_U, EYE_V, EYE_HALF_WIDTH = 0.37, 0.04, 0.20
MOUTH_V, MOUTH_HALF_WIDTH = -0.46, 0.27
BROW_V = 0.30
# The head turns about HEAD_PIVOT (at the top of the neck, just under the chin). The neck is
# skinned between a Neck joint at NECK_BASE_Y, where it leaves the shoulders, and the Head joint:
# its share of the turn grows smoothly from nothing there to all of it at NECK_TOP_Y, where it
# enters the head, so on a turn or roll it bends instead of swinging out of the collar.
HEAD_PIVOT = (0.0, -0.115, -0.018)
NECK_BASE_Y, NECK_TOP_Y = -0.19, -0.10
# The hair shell's height over the scalp grows from HAIR_MIN_LIFT_M at its edge on bare skin to
# its full thickness HAIR_TAPER_M in from that edge. The minimum clears the skin grid's chords
# (a 2 cm chord at the sides sags 0.6 mm inside the true surface) and leaves the thinnest sliver
# of background where a hairline crosses the silhouette.
HAIR_MIN_LIFT_M, HAIR_TAPER_M = 0.0012, 0.03


def grid_triangles(rows: int, cols: int, clockwise: bool) -> np.ndarray:
    """(rows * (cols - 1) * 2, 3) uint32 triangles over a (rows + 1) x cols vertex grid, two per
    cell, wound one way or the other."""
    i, j = np.meshgrid(np.arange(rows), np.arange(cols - 1), indexing="ij")
    a = i * cols + j
    b, c, d = a + 1, a + cols + 1, a + cols
    first, second = ((a, d, c), (a, c, b)) if clockwise else ((a, c, d), (a, b, c))
    cells = np.stack([np.stack(first, -1), np.stack(second, -1)], axis=2)
    return cells.reshape(-1, 3).astype(np.uint32)


@dataclass
class PersonaParams:
    """Everything that makes one persona's face; ``PersonaParams.from_seed`` draws them."""

    seed: int = 0
    head_width: float = 1.0  # relative to an average head
    head_height: float = 1.0
    jaw_width: float = 0.80  # lower face width at the jaw, relative to the cheeks
    chin: float = 0.5  # 0 soft, 1 pronounced
    nose_size: float = 0.5
    eye_size: float = 1.0
    eye_spacing: float = 1.0
    skin: tuple[float, float, float] = SKIN_TONES[0]
    hair: tuple[float, float, float] = HAIR_COLOURS[0]
    hair_style: str = "crop"
    eyes: tuple[float, float, float] = EYE_COLOURS[0]
    shirt: tuple[float, float, float] = SHIRT_COLOURS[0]
    freckles: float = 0.0
    # Real faces' brows sit 1.8-3.0 cm above the inner eye corner (the default's: 3.0) and their
    # open lids show less eye than the default's wide-open look: drawn personas span the range.
    brow_drop: float = 0.0  # radians of the head's surface the brows sit below the default
    eye_open: float = 1.0  # share of the default opening between the lids
    # Brows from the default's thin, light arc (0) to a thick, dark one (1), as real brows vary.
    # MediaPipe follows a drawn brow's lowering about 2.6x as far, and its outer lift at all,
    # when the brow is thick and dark (docs/tracking.md, expression fidelity).
    brow_weight: float = 0.0

    @classmethod
    def from_seed(cls, seed: int, **overrides) -> PersonaParams:
        rng = np.random.default_rng(seed)
        pick = lambda options: tuple(options[int(rng.integers(len(options)))])  # noqa: E731
        values = dict(
            seed=seed, head_width=float(rng.uniform(0.92, 1.08)),
            head_height=float(rng.uniform(0.94, 1.06)), jaw_width=float(rng.uniform(0.80, 0.95)),
            chin=float(rng.uniform(0.1, 0.6)), nose_size=float(rng.uniform(0.2, 0.9)),
            eye_size=float(rng.uniform(0.95, 1.12)), eye_spacing=float(rng.uniform(0.93, 1.07)),
            skin=pick(SKIN_TONES), hair=pick(HAIR_COLOURS), hair_style=pick([(s,) for s in HAIR_STYLES])[0],
            eyes=pick(EYE_COLOURS), shirt=pick(SHIRT_COLOURS), freckles=float(rng.uniform(0, 1) ** 3),
        )
        # Drawn last, so that every earlier seed's other features stay as they were.
        values.update(brow_drop=float(rng.uniform(0.0, 0.08)), eye_open=float(rng.uniform(0.72, 1.0)))
        values.update(brow_weight=float(rng.uniform(0.0, 1.0)))
        values.update(overrides)
        params = cls(**values)
        if params.hair_style not in HAIR_STYLES:
            raise ValueError(f"hair_style must be one of {HAIR_STYLES}, not {params.hair_style!r}")
        return params


def _smooth(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _gauss(x: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - centre) / sigma) ** 2)


class HeadSurface:
    """The head as a function of (u, v): an ellipsoid with jaw, chin, nose, cheeks and brows."""

    def __init__(self, p: PersonaParams) -> None:
        self.p = p
        self.a = 0.084 * p.head_width  # half width, metres
        self.b = 0.110 * p.head_height  # half height
        self.c = 0.098  # half depth
        self.eye_u = EYE_U * p.eye_spacing

    def base(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, outward normals of the underlying ellipsoid)."""
        p = self.p
        lower = _smooth(-0.15, -1.35, v)  # 0 above the cheekbones, 1 at the chin
        width = self.a * (1 - (1 - p.jaw_width) * lower) * (1 + 0.05 * _gauss(v, 0.1, 0.5))
        front = np.cos(u)
        depth = self.c * np.where(front < 0, 1.12, 1.0)  # the skull bulges behind
        # Below the eyes the outline narrows slower than an ellipse: a rounded jaw, not a point.
        x = width * np.where(v < 0, np.cos(v) ** 0.6, np.cos(v)) * np.sin(u)
        y = self.b * np.sin(v) - 0.012 * lower * (front > 0) * front
        z = depth * np.cos(v) * front
        # Chin forward and a little down; flatter cheeks at the front.
        z = z + 0.010 * (0.5 + p.chin) * _gauss(u, 0, 0.4) * _gauss(v, -1.05, 0.22) * (front > 0)
        positions = np.stack([x, y, z], axis=-1)
        normals = positions / np.stack([np.full_like(x, self.a ** 2), np.full_like(x, self.b ** 2),
                                        depth ** 2], axis=-1)
        normals /= np.linalg.norm(normals, axis=-1, keepdims=True) + 1e-12
        return positions, normals

    def relief(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Outward offset of the features, metres."""
        p = self.p
        nose = 0.018 * (0.7 + 0.6 * p.nose_size) * _gauss(u, 0, 0.07 + 0.03 * p.nose_size) \
            * _smooth(0.12, -0.05, v) * _smooth(-0.38, -0.26, v)
        tip = 0.008 * (0.6 + 0.8 * p.nose_size) * _gauss(u, 0, 0.11) * _gauss(v, -0.27, 0.06)
        wings = 0.004 * (_gauss(u, 0.1, 0.04) + _gauss(u, -0.1, 0.04)) * _gauss(v, -0.31, 0.04)
        brow = 0.006 * _gauss(v, BROW_V - 0.06, 0.09) * _smooth(0.8, 0.3, np.abs(u))
        sockets = -0.006 * (_gauss(u, self.eye_u, 0.14) + _gauss(u, -self.eye_u, 0.14)) * _gauss(v, EYE_V, 0.09)
        cheeks = 0.006 * (_gauss(u, 0.5, 0.2) + _gauss(u, -0.5, 0.2)) * _gauss(v, -0.22, 0.16)
        lips = 0.004 * _gauss(u, 0, 0.22) * (_gauss(v, MOUTH_V + 0.05, 0.05) + _gauss(v, MOUTH_V - 0.06, 0.05))
        philtrum = -0.0015 * _gauss(u, 0, 0.05) * _gauss(v, MOUTH_V + 0.12, 0.05)
        return nose + tip + wings + brow + sockets + cheeks + lips + philtrum

    def __call__(self, u: np.ndarray, v: np.ndarray, offset: np.ndarray | float = 0.0) -> np.ndarray:
        positions, normals = self.base(u, v)
        return positions + normals * (self.relief(u, v) + offset)[..., None]


def _axis(uniform: np.ndarray, required: list[float], min_gap: float) -> np.ndarray:
    """Uniform samples with ``required`` values inserted and near neighbours of them dropped."""
    keep = [x for x in uniform if all(abs(x - r) > min_gap for r in required)]
    return np.array(sorted(set(keep) | set(required)))


@dataclass
class _Part:
    """One primitive under construction: params or positions per vertex, triangles, material."""

    name: str
    positions: np.ndarray
    uvs: np.ndarray
    indices: np.ndarray
    material: str
    deltas: dict[str, np.ndarray] = field(default_factory=dict)
    normals: np.ndarray | None = None  # None: from the triangles
    head_weight: np.ndarray | None = None  # skinned: each vertex's share of the Head joint


class PersonaBuilder:
    """Builds the meshes and shape keys for one ``PersonaParams``."""

    def __init__(self, params: PersonaParams) -> None:
        self.p = params
        self.surface = HeadSurface(params)
        self.eye_u = self.surface.eye_u
        self.eye_half = EYE_HALF_WIDTH * params.eye_size
        self.lid_up = 0.105 * params.eye_size * params.eye_open  # the open upper lid above the eye line
        self.lid_down = 0.055 * params.eye_size * params.eye_open
        self.brow_v = BROW_V - params.brow_drop
        self._build_grid()

    # -- skin grid --------------------------------------------------------------------------------

    def _build_grid(self) -> None:
        e, h = self.eye_u, self.eye_half
        # Dense across the face, sparse behind it: llvmpipe pays per triangle, so triangles go
        # where the expressions are.
        us = _axis(np.concatenate([np.linspace(-math.pi, -1.3, 8, endpoint=False),
                                   np.linspace(-1.3, 1.3, 49), np.linspace(1.3, math.pi, 8)[1:]]),
                   [-e - h, -e + h, e - h, e + h, -MOUTH_HALF_WIDTH, MOUTH_HALF_WIDTH, 0.0], 0.012)
        vs = _axis(np.concatenate([np.linspace(-1.45, 0.6, 36, endpoint=False),
                                   np.linspace(0.6, math.pi / 2, 8)]), [EYE_V, MOUTH_V], 0.012)
        self.us, self.vs = us, vs
        eye_row, mouth_row = int(np.searchsorted(vs, EYE_V)), int(np.searchsorted(vs, MOUTH_V))
        grid_u, grid_v = np.meshgrid(us, vs)  # (rows, cols)
        rows, cols = grid_u.shape
        index = np.arange(rows * cols).reshape(rows, cols)
        in_eye = (np.abs(np.abs(us) - e) < h - 1e-9)
        in_mouth = np.abs(us) < MOUTH_HALF_WIDTH - 1e-9
        # Upper copies of split vertices get new indices after the grid's.
        upper = index.copy()
        extra_u, extra_v = [], []
        for row, inside in ((eye_row, in_eye), (mouth_row, in_mouth)):
            for col in np.flatnonzero(inside):
                upper[row, col] = rows * cols + len(extra_u)
                extra_u.append(us[col])
                extra_v.append(vs[row])
        quads = []
        for r in range(rows - 1):
            top = index[r + 1]
            bottom = upper[r]  # the cell above a split row uses the row's upper copies
            a, b, c, d = bottom[:-1], bottom[1:], top[1:], top[:-1]
            quads.append(np.stack([a, b, c, a, c, d], axis=1).reshape(-1, 3))
        triangles = np.concatenate(quads)
        u0 = np.concatenate([grid_u.ravel(), extra_u])
        v0 = np.concatenate([grid_v.ravel(), extra_v])
        split_lower = np.zeros(len(u0), bool)
        split_lower[index[eye_row][in_eye]] = True
        split_lower[index[mouth_row][in_mouth]] = True
        self.u0, self.v0 = u0, v0
        self.eye_side = np.where(v0 > EYE_V, 1.0, np.where(v0 < EYE_V, -1.0, 0.0))
        self.eye_side[rows * cols:][np.isclose(v0[rows * cols:], EYE_V)] = 1.0
        self.eye_side[split_lower & np.isclose(v0, EYE_V)] = -1.0
        self.mouth_side = np.where(v0 > MOUTH_V, 1.0, np.where(v0 < MOUTH_V, -1.0, 0.0))
        self.mouth_side[rows * cols:][np.isclose(v0[rows * cols:], MOUTH_V)] = 1.0
        self.mouth_side[split_lower & np.isclose(v0, MOUTH_V)] = -1.0
        self.grid_triangles = triangles.astype(np.uint32)
        # The open eye: lids pushed apart in v, fading out over the rows around the opening.
        du, dv = np.zeros_like(u0), self._lid_field(self.lid_up, self.lid_down)
        # A resting half-smile: friendlier than a straight mouth line.
        dv = dv + 0.03 * (_gauss(u0, MOUTH_HALF_WIDTH, 0.1) + _gauss(u0, -MOUTH_HALF_WIDTH, 0.1)) * _gauss(v0, MOUTH_V, 0.1)
        self.u, self.v = u0 + du, v0 + dv

    def _eye_s(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position across the nearest eye (-1..1) and which eye (+1 left = +x, -1 right)."""
        which = np.where(u >= 0, 1.0, -1.0)
        return (np.abs(u) - self.eye_u) / self.eye_half, which

    def _lid_profile(self, u: np.ndarray, up: float, down: float) -> tuple[np.ndarray, np.ndarray]:
        s, _ = self._eye_s(u)
        inside = np.clip(1 - s * s, 0, 1)
        return up * inside ** 0.6, down * inside ** 0.8

    def _lid_field(self, up: float, down: float, eye: float | None = None) -> np.ndarray:
        """dv moving the upper lid region by +up and the lower by -down (per-column profile)."""
        top, bottom = self._lid_profile(self.u0, up, down)
        d = self.v0 - EYE_V
        above = np.clip(1 - d / 0.22, 0, 1) * (self.eye_side > 0)
        below = np.clip(1 + d / 0.16, 0, 1) * (self.eye_side < 0)
        field = top * above - bottom * below
        if eye is not None:
            field = field * (np.sign(self.u0) == eye)
        return field

    # -- texture painting ---------------------------------------------------------------------

    def skin_texture(self, size: int = 1024) -> np.ndarray:
        p = self.p
        v_axis = math.pi / 2 - (np.arange(size) + 0.5) / size * math.pi
        u_axis = (np.arange(size) + 0.5) / size * 2 * math.pi - math.pi
        u, v = np.meshgrid(u_axis, v_axis)
        skin = np.array(p.skin, np.float32)
        colour = np.broadcast_to(skin, u.shape + (3,)).copy()
        rng = np.random.default_rng(p.seed + 7)
        # Warmth in the cheeks, nose and ears; a cooler jaw.
        blush = 0.55 * (_gauss(u, 0.55, 0.14) + _gauss(u, -0.55, 0.14)) * _gauss(v, -0.22, 0.12)
        blush += 0.3 * _gauss(u, 0, 0.06) * _gauss(v, -0.25, 0.06)
        colour += blush[..., None] * (np.array([0.95, 0.45, 0.45]) - skin) * 0.35
        freckle_noise = rng.random(u.shape) > 1 - 0.012 * p.freckles
        freckles = freckle_noise * _gauss(v, -0.1, 0.15) * _smooth(0.9, 0.4, np.abs(u))
        colour *= (1 - 0.25 * freckles)[..., None]
        # Lips: a lens around the mouth line, fuller below.
        s = u / MOUTH_HALF_WIDTH
        lens = np.clip(1 - s * s, 0, 1)
        lip = (v < MOUTH_V + 0.05 * lens ** 0.7 + 0.01) & (v > MOUTH_V - 0.07 * lens ** 0.6 - 0.01) & (np.abs(s) < 1.12)
        lip_colour = skin * np.array([0.95, 0.72, 0.72]) + np.array([0.04, 0.0, 0.01])
        edge = _smooth(0.0, 0.02, np.minimum(MOUTH_V + 0.05 * lens ** 0.7 + 0.01 - v, v - MOUTH_V + 0.07 * lens ** 0.6 + 0.01))
        colour = np.where(lip[..., None], colour + (lip_colour - colour) * edge[..., None], colour)
        # Brows: soft arcs above the eyes in the hair colour, tapering towards the tail; heavier
        # ones (``brow_weight``) are up to twice as thick at the inner end and darker.
        weight = p.brow_weight
        for side in (1.0, -1.0):
            bs = (u * side - self.eye_u) / (self.eye_half * 1.25)
            centre = self.brow_v + 0.035 * (1 - bs * bs) - 0.01 * bs
            thickness = (0.026 + 0.024 * weight) * (1.1 - (0.4 + 0.1 * weight) * (bs + 1) / 2)
            brow = _smooth(thickness, thickness * 0.5, np.abs(v - centre)) * _smooth(1.05, 0.8, np.abs(bs))
            shade = 0.8 - 0.55 * weight
            colour += brow[..., None] * (np.array(p.hair) * shade - colour) * 0.9
            # Lash line along the open upper lid and a fainter one under the eye.
            es = (u * side - self.eye_u) / self.eye_half
            inside = np.clip(1 - es * es, 0, 1)
            top = EYE_V + self.lid_up * inside ** 0.6
            low = EYE_V - self.lid_down * inside ** 0.8
            lash_width = 0.012 + 0.012 * _smooth(-0.2, 1.0, es)
            lash = _smooth(lash_width, lash_width * 0.4, v - top) * (v >= top - 0.004) * (np.abs(es) < 1.12)
            colour += lash[..., None] * (np.array([0.10, 0.07, 0.07]) - colour)
            lower = _smooth(0.01, 0.0, low - v) * (v <= low + 0.003) * (np.abs(es) < 1.0) * 0.35
            colour += lower[..., None] * (skin * 0.6 - colour)
            crease = _gauss(v, top + 0.05, 0.012) * inside * 0.12
            colour += crease[..., None] * (skin * 0.7 - colour)
        shade = 1 - 0.06 * _smooth(-0.6, -1.3, v)
        colour *= shade[..., None]
        rgba = np.concatenate([np.clip(colour, 0, 1), np.ones(u.shape + (1,))], axis=-1)
        return (rgba * 255 + 0.5).astype(np.uint8)

    def hair_texture(self, size: int = 512) -> np.ndarray:
        p = self.p
        v_axis = math.pi / 2 - (np.arange(size) + 0.5) / size * math.pi
        u_axis = (np.arange(size) + 0.5) / size * 2 * math.pi - math.pi
        u, v = np.meshgrid(u_axis, v_axis)
        rng = np.random.default_rng(p.seed + 11)
        coverage = self.hair_coverage(u, v)
        phase = rng.random(64) * 2 * math.pi
        strands = sum(np.sin(u * (20 + 9 * k) + phase[k] + 3 * v) for k in range(5)) / 5
        shade = 0.85 + 0.15 * strands + 0.12 * _smooth(0.2, 1.4, v)
        colour = np.array(p.hair)[None, None] * shade[..., None]
        alpha = _smooth(0.3, 0.6, coverage + 0.3 * strands * (coverage < 0.999))
        # Where the hair mesh has no triangles the alpha is never seen, but mip levels average it
        # in: at the grazing angles of the silhouette a transparent face region would thin the
        # hair into a see-through band. Opaque there keeps every mip level as dense as the hair.
        from scipy.ndimage import binary_dilation

        reach = binary_dilation(coverage > 0.001, np.ones((31, 15), bool))
        alpha = np.where(reach, alpha, 1.0)
        rgba = np.concatenate([np.clip(colour, 0, 1), alpha[..., None]], axis=-1)
        return (rgba * 255 + 0.5).astype(np.uint8)

    def hair_coverage(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """0..1 how much hair covers the scalp at (u, v) for this hair style."""
        style = self.p.hair_style
        au = np.abs(u)
        # The front hairlines rise and fall once across the forehead: a ripple on them reads as
        # a notch of bare forehead, not as hair. The strands in the alpha roughen the edge.
        if style == "swept":  # a side part: high on the parting side, sweeping down across
            front_line = 0.80 - 0.22 * _smooth(0.6, -0.5, u)
        elif style == "bob":  # a straight fringe cut in locks
            front_line = 0.56 + 0.03 * np.cos(u * 14) + 0.25 * _smooth(0.55, 0.95, au)
        else:  # crop: a short, rounded line, highest over the middle of the forehead
            front_line = 0.80 - 0.04 * _smooth(0.0, 0.5, au)
        side_drop = {"bob": -1.05, "swept": -0.35, "crop": -0.15}[style]
        back_drop = {"bob": -1.25, "swept": -0.65, "crop": -0.55}[style]
        # Blend from the front hairline (|u| < 0.9) to the sides (ears) and the back.
        sides = _smooth(0.5, 1.0, au)  # the temples are covered down to the ears
        back = _smooth(1.9, 2.6, au)
        line = front_line * (1 - sides) + side_drop * sides * (1 - back) + back_drop * back
        ear = {"bob": 0.0, "swept": 1.0, "crop": 1.0}[style] * _gauss(au, math.pi / 2, 0.28) * _smooth(0.15, -0.2, v)
        cover = _smooth(line - 0.02, line + 0.05, v) * (1 - ear)
        return cover

    def eye_texture(self, size: int = 256) -> np.ndarray:
        y, x = np.mgrid[0:size, 0:size]
        dx, dy = (x + 0.5) / size * 2 - 1, (y + 0.5) / size * 2 - 1
        r = np.hypot(dx, dy)  # 0 at the front pole, 1 at theta = pi
        angle = np.arctan2(dy, dx)
        iris_r, pupil_r = 0.21, 0.09
        sclera = np.array([0.96, 0.95, 0.93]) * (1 - 0.25 * _smooth(0.15, 0.45, r))[..., None]
        iris_base = np.array(self.p.eyes)
        streaks = 0.85 + 0.15 * np.sin(angle * 23) * np.sin(angle * 7 + 1)
        iris = iris_base * (0.55 + 0.6 * _smooth(iris_r, pupil_r, r))[..., None] * streaks[..., None]
        iris = iris * (1 - 0.5 * _smooth(iris_r * 0.8, iris_r, r))[..., None]  # limbal ring
        colour = np.where((r < iris_r)[..., None], iris, sclera)
        colour = np.where((r < pupil_r)[..., None], np.array([0.03, 0.03, 0.04]), colour)
        glint = np.hypot(dx + 0.07, dy + 0.08) < 0.04  # image row 0 is up: a highlight up left
        colour = np.where(glint[..., None], np.array([1.0, 1.0, 1.0]), colour)
        rgba = np.concatenate([np.clip(colour, 0, 1), np.ones((size, size, 1))], axis=-1)
        return (rgba * 255 + 0.5).astype(np.uint8)

    # -- parts ------------------------------------------------------------------------------------

    def uv_of(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.stack([(u + math.pi) / (2 * math.pi), (math.pi / 2 - v) / math.pi], axis=-1)

    def skin_positions(self, du=0.0, dv=0.0, dn=0.0) -> np.ndarray:
        return self.surface(self.u + du, self.v + dv, dn)

    def eyeball(self, side: float, segments: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(positions, uvs, triangles, centre) of one eye; texture pole faces +z."""
        radius = 0.0165 * self.p.eye_size
        rim_point = self.surface(np.array(side * self.eye_u), np.array(EYE_V))
        _, normal = self.surface.base(np.array(side * self.eye_u), np.array(EYE_V))
        # Straight behind the opening, so the pupil looks forward through it.
        centre = rim_point - np.array([0.0, -0.001, radius]) - normal * 0.0008
        theta = np.linspace(0, math.pi, segments + 1)
        phi = np.linspace(0, 2 * math.pi, segments * 2 + 1)
        t, f = np.meshgrid(theta, phi, indexing="ij")
        local = np.stack([np.sin(t) * np.cos(f), -np.sin(t) * np.sin(f), np.cos(t)], axis=-1).reshape(-1, 3)
        uv = np.stack([0.5 + 0.5 * (t / math.pi) * np.cos(f), 0.5 + 0.5 * (t / math.pi) * np.sin(f)], -1).reshape(-1, 2)
        positions = centre + local * radius
        return positions, uv, grid_triangles(segments, len(phi), clockwise=False), centre

    @staticmethod
    def ellipsoid(centre, radii, segments: int = 16) -> tuple[np.ndarray, np.ndarray]:
        theta = np.linspace(0, math.pi, segments + 1)
        phi = np.linspace(0, 2 * math.pi, segments * 2 + 1)
        t, f = np.meshgrid(theta, phi, indexing="ij")
        # The seam (phi = 0) faces backwards, where its split normals cannot be seen.
        local = np.stack([-np.sin(t) * np.sin(f), np.cos(t), -np.sin(t) * np.cos(f)], axis=-1).reshape(-1, 3)
        return (np.asarray(centre) + local * np.asarray(radii),
                grid_triangles(segments, len(phi), clockwise=True))

    def hair(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(positions, normals, uvs, triangles) of the hair shell."""
        us = np.linspace(-math.pi, math.pi, 65)
        vs = np.linspace(-1.35, math.pi / 2, 34)
        u, v = np.meshgrid(us, vs)
        cover = self.hair_coverage(u, v)
        thickness = 0.005 + 0.014 * _smooth(-0.4, 1.2, v) + 0.004 * (self.p.hair_style != "crop") \
            + 0.008 * _gauss(np.abs(u), math.pi / 2, 0.6) * _smooth(-0.8, 0.2, v)
        base, normal = self.surface.base(u, v)
        hang = _smooth(0.0, -0.6, v) if self.p.hair_style == "bob" else np.zeros_like(v)
        # Where hair meets bare skin (hairline, temples, round the ears) the shell comes down onto
        # the scalp: a shell standing off the skin there shows its inside and the gap under it as
        # a dark crescent when the head turns. Hanging ends (a bob below the ears) stay thick.
        edge = _smooth(0.0, HAIR_TAPER_M, self._distance_to_bare_scalp(base))
        relief = np.maximum(self.surface.relief(u, v), 0)

        def shell(lift: np.ndarray) -> np.ndarray:
            positions = base + normal * (relief + lift)[..., None]
            if self.p.hair_style == "bob":  # below the ears the hair hangs instead of following the jaw
                level = self.surface.base(u, np.zeros_like(v))[0] * np.array([1.08, 0, 1.08])
                hanging = np.stack([level[..., 0], positions[..., 1], level[..., 2]], -1)
                positions = positions + (hanging - positions) * hang[..., None]
            return positions.reshape(-1, 3)

        rows, cols = u.shape
        index = np.arange(rows * cols).reshape(rows, cols)
        a, b, c, d = index[:-1, :-1], index[:-1, 1:], index[1:, 1:], index[1:, :-1]
        cells = np.stack([a, b, c, a, c, d], -1).reshape(-1, 3)
        # Drop cells the hair never covers, keeping a margin so the alpha edge has geometry.
        cells = cells[cover.ravel()[cells].max(axis=1) > 0.001].astype(np.uint32)
        # Shaded as the untapered shell: the light on the hair follows the head's shape, not
        # the taper's slope down onto the skin.
        normals = vertex_normals(shell(thickness), cells)
        positions = shell(np.maximum(thickness * np.maximum(edge, hang), HAIR_MIN_LIFT_M))
        return positions, normals, self.uv_of(u, v).reshape(-1, 2), cells

    def _distance_to_bare_scalp(self, points: np.ndarray) -> np.ndarray:
        """Metres from each of ``points`` (on the head's base surface) to the nearest place the
        hair leaves bare (coverage under one half), measured through the head."""
        from scipy.spatial import cKDTree

        u, v = np.meshgrid(np.linspace(-math.pi, math.pi, 361), np.linspace(-1.45, math.pi / 2, 181))
        bare = self.hair_coverage(u, v) < 0.5
        scalp = self.surface.base(u[bare], v[bare])[0]
        distance, _ = cKDTree(scalp).query(points.reshape(-1, 3))
        return distance.reshape(points.shape[:-1])

    # -- shape keys -------------------------------------------------------------------------------

    def _skin_key(self, du=0.0, dv=0.0, dn=0.0) -> np.ndarray:
        return self.skin_positions(du, dv, dn) - self.skin_positions()

    def _jaw(self, positions: np.ndarray, angle: float, weight: np.ndarray | float = 1.0) -> np.ndarray:
        """Delta turning ``positions`` about the jaw hinge by ``angle`` (positive opens)."""
        pivot = np.array([0.0, -0.2 * self.surface.b, -0.02])
        c, s = math.cos(angle), math.sin(angle)
        q = positions - pivot
        turned = np.stack([q[:, 0], q[:, 1] * c - q[:, 2] * s, q[:, 1] * s + q[:, 2] * c], -1) + pivot
        return (turned - positions) * np.asarray(weight)[..., None] if np.ndim(weight) else (turned - positions) * weight

    def _skin_keys(self) -> dict[str, np.ndarray]:
        u, v0, au = self.u0, self.v0, np.abs(self.u0)
        # Soft halves: a one-sided key fades out across the midline instead of tearing it, and
        # the Left and Right keys together add up to the whole face.
        left = _smooth(-0.12, 0.12, u)
        right = 1.0 - left
        s, _ = self._eye_s(u)
        inside = np.clip(1 - s * s, 0, 1)
        p6, p8 = inside ** 0.6, inside ** 0.8
        d = v0 - EYE_V
        above = np.clip(1 - d / 0.22, 0, 1) * (self.eye_side > 0)
        below = np.clip(1 + d / 0.16, 0, 1) * (self.eye_side < 0)
        up, down = self.lid_up, self.lid_down
        lids = lambda a, b: above * a * up * p6 + below * b * down * p8  # noqa: E731

        mouth = _gauss(u, 0, MOUTH_HALF_WIDTH * 0.9) * _gauss(v0, MOUTH_V, 0.12)
        upper_lip = mouth * (self.mouth_side > 0)
        lower_lip = mouth * (self.mouth_side < 0)
        corner = {1.0: _gauss(u, MOUTH_HALF_WIDTH, 0.13) * _gauss(v0, MOUTH_V, 0.14),
                  -1.0: _gauss(u, -MOUTH_HALF_WIDTH, 0.13) * _gauss(v0, MOUTH_V, 0.14)}
        cheek = {1.0: _gauss(u, 0.5, 0.18) * _gauss(v0, -0.22, 0.15),
                 -1.0: _gauss(u, -0.5, 0.18) * _gauss(v0, -0.22, 0.15)}
        # Just the corner: a frown or stretch bends the mouth's line instead of moving it.
        tight_corner = {1.0: _gauss(u, MOUTH_HALF_WIDTH, 0.09) * _gauss(v0, MOUTH_V, 0.1),
                        -1.0: _gauss(u, -MOUTH_HALF_WIDTH, 0.09) * _gauss(v0, MOUTH_V, 0.1)}
        # The lips' outer edges, not the line between them: pressing thins the lips, never parts them.
        lip_edges = mouth * np.where(self.mouth_side > 0, _smooth(MOUTH_V, MOUTH_V + 0.06, v0),
                                     -_smooth(MOUTH_V, MOUTH_V - 0.08, v0))
        # The brow keys fade out above the upper lid's margin instead of stopping at a row: a
        # lowered brow pushes the lid's skin down a little, never the lashes.
        brow_band = _gauss(v0, self.brow_v, 0.12) * _smooth(EYE_V + 0.02, EYE_V + 0.16, v0) * (self.eye_side > 0)
        inner_brow = brow_band * _gauss(au, self.eye_u - 0.17, 0.12)
        outer_brow = brow_band * _gauss(au, self.eye_u + 0.12, 0.12)
        nose_wing = {1.0: _gauss(u, 0.11, 0.09) * _gauss(v0, -0.25, 0.11),
                     -1.0: _gauss(u, -0.11, 0.09) * _gauss(v0, -0.25, 0.11)}
        # The jaw's share of each vertex: fading in across the mouth line and out at the sides.
        # The lower lip inside the mouth goes all the way (jawOpen parts the lips); a sideways
        # jaw uses the plain fade (jaw_shift), so it carries the closed lips along together.
        jaw_shift = _smooth(MOUTH_V + 0.12, MOUTH_V - 0.12, v0) * _smooth(1.55, 1.0, au)
        lower_face = np.where((self.mouth_side < 0) & (au < MOUTH_HALF_WIDTH),
                              _smooth(1.55, 1.0, au), jaw_shift)
        chin = _gauss(u, 0, 0.2) * _gauss(v0, MOUTH_V - 0.2, 0.12) * (self.mouth_side < 0)
        base = self.skin_positions()
        keys: dict[str, np.ndarray] = {}
        # Amplitudes are those of an adult face at full strength (in radians of the head's
        # surface: 0.01 is about 1 mm): the inner brow drops about 9 mm on browDown and rises 8 on
        # browInnerUp, a frown's corners fall 8 mm, a pucker narrows the mouth by a third and
        # pushes the lips 1.5 cm forward. Smaller keys than this vanish in MediaPipe's landmark
        # noise and on a call: the fidelity bench's renders and the viewer both need them seen.
        for side, name in ((1.0, "Left"), (-1.0, "Right")):
            mask = left if side > 0 else right
            keys[f"eyeBlink{name}"] = self._skin_key(
                dv=mask * (lids(-1.0, 0.0) - above * 0.6 * down * p8 + below * 0.4 * down * p8),
                dn=mask * 0.003 * inside * (above + below))
            keys[f"eyeSquint{name}"] = self._skin_key(dv=mask * lids(-0.2, -1.0) + 0.04 * cheek[side])
            keys[f"eyeWide{name}"] = self._skin_key(dv=mask * lids(0.35, 0.25))
            keys[f"eyeLookUp{name}"] = self._skin_key(dv=mask * lids(0.2, -0.1))
            keys[f"eyeLookDown{name}"] = self._skin_key(dv=mask * lids(-0.35, 0.1))
            keys[f"eyeLookIn{name}"] = np.zeros_like(base)
            keys[f"eyeLookOut{name}"] = np.zeros_like(base)
            keys[f"mouthSmile{name}"] = self._skin_key(
                du=side * 0.07 * corner[side], dv=0.09 * corner[side] + 0.04 * cheek[side],
                dn=0.005 * cheek[side])
            keys[f"mouthFrown{name}"] = self._skin_key(
                dv=-0.04 * corner[side] - 0.05 * tight_corner[side] + 0.02 * chin * mask,
                du=side * 0.01 * corner[side])
            keys[f"mouthDimple{name}"] = self._skin_key(du=side * 0.06 * corner[side], dn=-0.002 * corner[side])
            keys[f"mouthStretch{name}"] = self._skin_key(
                du=side * (0.04 * corner[side] + 0.09 * tight_corner[side]), dv=-0.045 * tight_corner[side])
            # No push into the head: behind the lips are the teeth, which would show through.
            keys[f"mouthPress{name}"] = self._skin_key(dv=-0.025 * lip_edges * mask)
            keys[f"mouthLowerDown{name}"] = self._skin_key(dv=-0.06 * lower_lip * mask * _smooth(MOUTH_V - 0.25, MOUTH_V - 0.02, v0))
            keys[f"mouthUpperUp{name}"] = self._skin_key(dv=0.05 * upper_lip * mask * _smooth(MOUTH_V + 0.25, MOUTH_V + 0.02, v0))
            keys[f"browDown{name}"] = self._skin_key(
                dv=-(0.04 + 0.05 * _gauss(au, self.eye_u - 0.17, 0.14)) * brow_band * mask,
                du=-side * 0.05 * inner_brow * mask)
            keys[f"browOuterUp{name}"] = self._skin_key(dv=0.075 * outer_brow * mask)
            keys[f"cheekSquint{name}"] = self._skin_key(dv=0.06 * cheek[side] + mask * lids(0, -0.5),
                                                        dn=0.003 * cheek[side])
            keys[f"noseSneer{name}"] = self._skin_key(
                dv=0.07 * nose_wing[side], dn=0.003 * nose_wing[side])
        keys["browInnerUp"] = self._skin_key(dv=0.075 * inner_brow)
        keys["jawOpen"] = self._jaw(base, 0.32, lower_face)
        # With jawOpen's weights (the lower lip 1, the upper lip's edge 0.5) a sideways jaw
        # sheared the mouth's slit open at a corner. A forward jaw keeps them: its lower lip has
        # to cover the lower teeth, which go all the way.
        keys["jawForward"] = np.stack([0 * u, 0 * u, 0.008 * lower_face], -1)
        keys["jawLeft"] = np.stack([0.008 * jaw_shift, 0 * u, 0 * u], -1)
        keys["jawRight"] = np.stack([-0.008 * jaw_shift, 0 * u, 0 * u], -1)
        # mouthClose comes with jawOpen (lips together over a dropped jaw: "m", "b", "p"). The
        # lower lip rises to meet the upper lip's edge, which the jaw already pulls down half as
        # far as the lower lip (lower_face is 0.5 on the mouth line's upper copies): lifted all
        # the way back, the lower lip crossed behind the upper one and vanished.
        closing = _smooth(MOUTH_HALF_WIDTH * 1.4, MOUTH_HALF_WIDTH * 0.9, au) \
            * _smooth(MOUTH_V - 0.3, MOUTH_V - 0.02, v0) * (self.mouth_side < 0)
        keys["mouthClose"] = -0.5 * keys["jawOpen"] * closing[:, None]
        keys["mouthFunnel"] = self._skin_key(du=-0.2 * u * mouth, dv=0.04 * upper_lip - 0.05 * lower_lip,
                                             dn=0.01 * mouth)
        keys["mouthPucker"] = self._skin_key(du=-0.45 * u * mouth, dn=0.015 * mouth)
        keys["mouthLeft"] = self._skin_key(du=0.12 * mouth)
        keys["mouthRight"] = self._skin_key(du=-0.12 * mouth)
        # Rolled in, a lip's red shows less: its outer edge comes to the mouth line, which stays
        # where it is (moving the line itself crossed the lips and opened the mouth).
        keys["mouthRollLower"] = self._skin_key(dn=-0.0015 * lower_lip, dv=0.035 * np.maximum(-lip_edges, 0))
        keys["mouthRollUpper"] = self._skin_key(dn=-0.0015 * upper_lip, dv=-0.035 * np.maximum(lip_edges, 0))
        keys["mouthShrugLower"] = self._skin_key(dv=0.05 * lower_lip + 0.02 * chin, dn=0.004 * lower_lip)
        keys["mouthShrugUpper"] = self._skin_key(dv=0.035 * upper_lip)
        keys["cheekPuff"] = self._skin_key(dn=0.012 * (cheek[1.0] + cheek[-1.0]) + 0.003 * mouth)
        keys["tongueOut"] = self._jaw(base, 0.12, lower_face)
        return keys

    def _eye_keys(self, positions: np.ndarray, which: np.ndarray, centres: np.ndarray) -> dict[str, np.ndarray]:
        from engine.avatar.renderer import yaw_pitch

        keys = {name: np.zeros_like(positions) for name in BLENDSHAPE_NAMES}
        q = positions - centres
        for side, name in ((1.0, "Left"), (-1.0, "Right")):
            mask = (which == side)[:, None]
            for look, yaw, pitch in (("Up", 0, 0.35), ("Down", 0, -0.35),
                                     ("In", -side * 0.45, 0), ("Out", side * 0.45, 0)):
                turned = q @ yaw_pitch(yaw, pitch).T
                keys[f"eyeLook{look}{name}"] = (turned - q) * mask
        return keys

    # -- assembly ---------------------------------------------------------------------------------

    def neck(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(positions, normals, triangles, share of the Head joint) of the neck: an open tube
        from inside the shoulders to inside the head, flaring a little where it meets the
        shoulders. Rings every few millimetres, so it bends smoothly."""
        ys = np.linspace(-0.215, -0.06, 26)
        angle = np.linspace(0, 2 * math.pi, 25)
        y, a = np.meshgrid(ys, angle, indexing="ij")
        flare = 1 + 0.25 * _smooth(-0.17, -0.215, y)
        # Seam (angle 0) at the back, as on the ellipsoids.
        radius_x, radius_z = 0.049, 0.046
        positions = np.stack([-radius_x * flare * np.sin(a), y, HEAD_PIVOT[2] - radius_z * flare * np.cos(a)],
                             axis=-1).reshape(-1, 3)
        # Normals of the elliptic cylinder, not from the triangles: those split at the seam, which
        # the viewer's orbit shows at the back of the neck.
        normals = np.stack([-np.sin(a) / radius_x, 0 * a, -np.cos(a) / radius_z], axis=-1).reshape(-1, 3)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        return positions, normals, grid_triangles(len(ys) - 1, len(angle), clockwise=False), \
            _smooth(NECK_BASE_Y, NECK_TOP_Y, positions[:, 1])

    def parts(self) -> tuple[list[_Part], _Part, _Part]:
        """The Head mesh's primitives (with shape keys), the skinned neck and the Body."""
        names = BLENDSHAPE_NAMES
        zeros = lambda n: {k: np.zeros((n, 3)) for k in names}  # noqa: E731
        skin = self.skin_positions()
        skin_part = _Part("skin", skin, self.uv_of(self.u, self.v), self.grid_triangles, "skin",
                          self._skin_keys())

        eye_positions, eye_uvs, eye_tris, which, centres = [], [], [], [], []
        for side in (1.0, -1.0):
            pos, uv, tris, centre = self.eyeball(side)
            eye_tris.append(tris + sum(len(p) for p in eye_positions))
            eye_positions.append(pos), eye_uvs.append(uv)
            which.append(np.full(len(pos), side)), centres.append(np.broadcast_to(centre, pos.shape))
        eye_positions = np.concatenate(eye_positions)
        eyes = _Part("eyes", eye_positions, np.concatenate(eye_uvs), np.concatenate(eye_tris), "eyes",
                     self._eye_keys(eye_positions, np.concatenate(which), np.concatenate(centres)))
        blinks = {k for k in names if k.startswith("eyeBlink")}
        for k in blinks:
            eyes.deltas[k] = np.zeros_like(eye_positions)

        # Ears: skin-coloured, textured from plain cheek skin (as the neck is, below).
        extras, extra_tris = [], []
        for side in (1.0, -1.0):
            anchor = self.surface(np.array(side * math.pi / 2), np.array(-0.02))
            pos, tris = self.ellipsoid(anchor + np.array([side * 0.004, 0, -0.004]), (0.009, 0.027, 0.017), 7)
            extra_tris.append(tris + sum(len(p) for p in extras))
            extras.append(pos)
        extras = np.concatenate(extras)
        ear_uv = self.uv_of(np.array([math.pi / 2]), np.array([-0.05]))
        ears = _Part("ears", extras, np.repeat(ear_uv, len(extras), 0), np.concatenate(extra_tris),
                     "skin", zeros(len(extras)))

        mouth_anchor = self.surface(np.array(0.0), np.array(MOUTH_V))
        _, mouth_normal = self.surface.base(np.array(0.0), np.array(MOUTH_V))
        inner = lambda depth, dy: mouth_anchor - mouth_normal * depth + np.array([0, dy, 0])  # noqa: E731
        pieces = []
        for name, centre, radii, material, jaw, tongue in (
                ("mouth", inner(0.024, -0.004), (0.028, 0.02, 0.022), "mouth", "lower", False),
                ("teeth", inner(0.0085, 0.0045), (0.019, 0.0045, 0.008), "teeth", "none", False),
                ("teeth_lower", inner(0.0105, -0.007), (0.017, 0.0038, 0.007), "teeth", "all", False),
                ("tongue", inner(0.02, -0.011), (0.015, 0.006, 0.017), "tongue", "all", True)):
            pos, tris = self.ellipsoid(centre, radii, 8)
            weight = {"none": 0.0, "all": 1.0}.get(jaw)
            if weight is None:
                weight = _smooth(centre[1] + 0.004, centre[1] - 0.006, pos[:, 1])
            deltas = zeros(len(pos))
            deltas["jawOpen"] = self._jaw(pos, 0.32, weight if np.ndim(weight) else np.full(len(pos), weight))
            deltas["tongueOut"] = self._jaw(pos, 0.12, weight if np.ndim(weight) else np.full(len(pos), weight))
            if tongue:
                deltas["tongueOut"] = deltas["tongueOut"] + np.array([0, -0.006, 0.026]) * \
                    _smooth(centre[2] - 0.01, centre[2] + 0.015, pos[:, 2])[:, None]
            for k in ("jawForward", "jawLeft", "jawRight"):
                if weight is not None and (np.ndim(weight) or weight):
                    w = weight if np.ndim(weight) else np.full(len(pos), weight)
                    axis = {"jawForward": (0, 0, 0.008), "jawLeft": (0.008, 0, 0), "jawRight": (-0.008, 0, 0)}[k]
                    deltas[k] = np.asarray(axis) * w[:, None]
            pieces.append(_Part(name, pos, np.zeros((len(pos), 2)), tris, material, deltas))
        # One primitive per material keeps the draw count down.
        merged: dict[str, _Part] = {}
        for piece in pieces:
            if piece.material in merged:
                m = merged[piece.material]
                m.indices = np.concatenate([m.indices, piece.indices + len(m.positions)])
                m.positions = np.concatenate([m.positions, piece.positions])
                m.uvs = np.concatenate([m.uvs, piece.uvs])
                m.deltas = {k: np.concatenate([m.deltas[k], piece.deltas[k]]) for k in names}
            else:
                merged[piece.material] = piece
        hair_pos, hair_normals, hair_uv, hair_tris = self.hair()
        hair = _Part("hair", hair_pos, hair_uv, hair_tris, "hair", zeros(len(hair_pos)), hair_normals)
        head = [skin_part, ears, eyes, *merged.values(), hair]
        for part in head:
            for k in names:
                part.deltas.setdefault(k, np.zeros((len(part.positions), 3)))
        neck_pos, neck_normals, neck_tris, neck_weight = self.neck()
        neck = _Part("neck", neck_pos, np.repeat(ear_uv, len(neck_pos), 0), neck_tris, "skin",
                     normals=neck_normals, head_weight=neck_weight)
        shoulders, shoulder_tris = self.ellipsoid((0, -0.275, -0.03), (0.19, 0.1, 0.10), 16)
        body = _Part("body", shoulders, np.zeros((len(shoulders), 2)), shoulder_tris, "shirt")
        return head, neck, body


def vertex_normals(positions: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals (bincount: one pass per axis, no Python loop)."""
    tris = positions[triangles]
    face = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    corners = triangles.reshape(-1)
    normals = np.stack([np.bincount(corners, np.repeat(face[:, k], 3), len(positions))
                        for k in range(3)], axis=1)
    return normals / (np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12)


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG", optimize=True)
    return out.getvalue()


class _GlbWriter:
    """Accumulates buffer views and accessors into one binary blob."""

    def __init__(self, gltf) -> None:
        self.gltf = gltf
        self.blob = bytearray()

    def view(self, data: bytes, target: int | None = None) -> int:
        import pygltflib

        while len(self.blob) % 4:
            self.blob.append(0)
        self.gltf.bufferViews.append(pygltflib.BufferView(buffer=0, byteOffset=len(self.blob),
                                                          byteLength=len(data), target=target))
        self.blob.extend(data)
        return len(self.gltf.bufferViews) - 1

    def accessor(self, array: np.ndarray, kind: str, target: int | None = None, bounds: bool = False,
                 sparse=None) -> int:
        import pygltflib

        array = np.ascontiguousarray(array)
        component = {np.dtype(np.float32): 5126, np.dtype(np.uint32): 5125,
                     np.dtype(np.uint16): 5123}[array.dtype]
        view = None if sparse is not None else self.view(array.tobytes(), target)
        accessor = pygltflib.Accessor(bufferView=view, componentType=component, count=len(array),
                                      type=kind, sparse=sparse)
        if bounds:
            accessor.min, accessor.max = array.min(axis=0).tolist(), array.max(axis=0).tolist()
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1

    def sparse_delta(self, delta: np.ndarray, bounds: bool = False) -> int:
        """A VEC3 accessor of zeros with only the vertices that move stored (sparse)."""
        import pygltflib

        delta = delta.astype(np.float32)
        moving = np.flatnonzero(np.abs(delta).max(axis=1) > 1e-6).astype(np.uint32)
        if len(moving) == 0:
            moving = np.array([0], np.uint32)
        sparse = pygltflib.Sparse(
            count=len(moving),
            indices=pygltflib.AccessorSparseIndices(bufferView=self.view(moving.tobytes()), componentType=5125),
            values=pygltflib.AccessorSparseValues(bufferView=self.view(delta[moving].tobytes())))
        accessor = self.accessor(np.zeros((len(delta), 3), np.float32), "VEC3", sparse=sparse)
        if bounds:
            self.gltf.accessors[accessor].min = delta.min(axis=0).tolist()
            self.gltf.accessors[accessor].max = delta.max(axis=0).tolist()
        return accessor


def build_glb(params: PersonaParams) -> bytes:
    """The persona as GLB bytes: a Neck joint with the Head (morph targets) under it, the neck
    mesh skinned to the two, and the Body."""
    import pygltflib

    builder = PersonaBuilder(params)
    head_parts, neck, body = builder.parts()
    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(version="2.0", generator="persona procedural.py"),
                           scene=0)
    writer = _GlbWriter(gltf)
    textures = {"skin": builder.skin_texture(), "eyes": builder.eye_texture(), "hair": builder.hair_texture()}
    flat = {"mouth": (0.32, 0.09, 0.11), "teeth": (0.95, 0.93, 0.88), "tongue": (0.80, 0.40, 0.42),
            "shirt": params.shirt}
    material_index = {}
    for name, image in textures.items():
        view = writer.view(_png(image))
        gltf.images.append(pygltflib.Image(bufferView=view, mimeType="image/png"))
        gltf.samplers.append(pygltflib.Sampler(magFilter=9729, minFilter=9987, wrapS=33071, wrapT=33071))
        gltf.textures.append(pygltflib.Texture(source=len(gltf.images) - 1, sampler=len(gltf.samplers) - 1))
        gltf.materials.append(pygltflib.Material(
            # Hair is a shell with a gap under it: its inside shows when the head turns.
            name=name, alphaMode="BLEND" if name == "hair" else "OPAQUE", doubleSided=name == "hair",
            pbrMetallicRoughness=pygltflib.PbrMetallicRoughness(
                baseColorTexture=pygltflib.TextureInfo(index=len(gltf.textures) - 1),
                metallicFactor=0.0, roughnessFactor=0.8)))
        material_index[name] = len(gltf.materials) - 1
    for name, colour in flat.items():
        gltf.materials.append(pygltflib.Material(name=name, pbrMetallicRoughness=pygltflib.PbrMetallicRoughness(
            baseColorFactor=[*map(float, colour), 1.0], metallicFactor=0.0, roughnessFactor=0.8)))
        material_index[name] = len(gltf.materials) - 1

    pivot = np.array(HEAD_PIVOT)
    primitives = []
    for part in head_parts:
        positions = (part.positions - pivot).astype(np.float32)
        normals = (vertex_normals(positions, part.indices) if part.normals is None
                   else part.normals).astype(np.float32)
        targets = []
        for name in BLENDSHAPE_NAMES:
            delta = part.deltas[name].astype(np.float32)
            moved_normals = vertex_normals(positions + delta, part.indices) - normals if np.any(delta) \
                else np.zeros_like(delta)
            # Renormalising leaves float noise on every vertex; keep only real changes (sparse).
            moved_normals[np.abs(moved_normals).max(axis=1) < 2e-3] = 0.0
            targets.append({"POSITION": writer.sparse_delta(delta, bounds=True),
                            "NORMAL": writer.sparse_delta(moved_normals.astype(np.float32))})
        primitives.append(pygltflib.Primitive(
            attributes=pygltflib.Attributes(
                POSITION=writer.accessor(positions, "VEC3", 34962, bounds=True),
                NORMAL=writer.accessor(normals, "VEC3", 34962),
                TEXCOORD_0=writer.accessor(part.uvs.astype(np.float32), "VEC2", 34962)),
            indices=writer.accessor(part.indices.astype(np.uint32).reshape(-1), "SCALAR", 34963),
            material=material_index[part.material], targets=targets))
    gltf.meshes.append(pygltflib.Mesh(name="Head", primitives=primitives,
                                      weights=[0.0] * len(BLENDSHAPE_NAMES),
                                      extras={"targetNames": list(BLENDSHAPE_NAMES)}))
    body_positions = body.positions.astype(np.float32)
    gltf.meshes.append(pygltflib.Mesh(name="Body", primitives=[pygltflib.Primitive(
        attributes=pygltflib.Attributes(
            POSITION=writer.accessor(body_positions, "VEC3", 34962, bounds=True),
            NORMAL=writer.accessor(vertex_normals(body_positions, body.indices).astype(np.float32), "VEC3", 34962)),
        indices=writer.accessor(body.indices.astype(np.uint32).reshape(-1), "SCALAR", 34963),
        material=material_index["shirt"])]))
    # The neck, in model space, skinned to joint 0 (Neck, which never turns) and joint 1 (Head).
    neck_positions = neck.positions.astype(np.float32)
    joints = np.tile(np.array([0, 1, 0, 0], np.uint16), (len(neck_positions), 1))
    weights = np.zeros((len(neck_positions), 4), np.float32)
    weights[:, 0], weights[:, 1] = 1.0 - neck.head_weight, neck.head_weight
    gltf.meshes.append(pygltflib.Mesh(name="Neck", primitives=[pygltflib.Primitive(
        attributes=pygltflib.Attributes(
            POSITION=writer.accessor(neck_positions, "VEC3", 34962, bounds=True),
            NORMAL=writer.accessor(neck.normals.astype(np.float32), "VEC3", 34962),
            TEXCOORD_0=writer.accessor(neck.uvs.astype(np.float32), "VEC2", 34962),
            JOINTS_0=writer.accessor(joints, "VEC4", 34962),
            WEIGHTS_0=writer.accessor(weights, "VEC4", 34962)),
        indices=writer.accessor(neck.indices.astype(np.uint32).reshape(-1), "SCALAR", 34963),
        material=material_index[neck.material])]))
    neck_base = np.array([0.0, NECK_BASE_Y, HEAD_PIVOT[2]])
    inverse_binds = np.tile(np.eye(4, dtype=np.float32), (2, 1, 1))
    inverse_binds[0, :3, 3], inverse_binds[1, :3, 3] = -neck_base, -pivot
    gltf.skins = [pygltflib.Skin(name="Neck", joints=[2, 3], inverseBindMatrices=writer.accessor(
        inverse_binds.transpose(0, 2, 1).reshape(-1, 16), "MAT4"))]  # glTF matrices are column-major
    gltf.nodes = [
        pygltflib.Node(name="Persona", children=[1, 2, 4]),
        pygltflib.Node(name="Body", mesh=1),
        pygltflib.Node(name="Neck", translation=neck_base.tolist(), children=[3]),
        pygltflib.Node(name="Head", mesh=0, translation=(pivot - neck_base).tolist()),
        pygltflib.Node(name="NeckSkin", mesh=2, skin=0),
    ]
    gltf.scenes = [pygltflib.Scene(nodes=[0])]
    gltf.extras = {"persona": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(params).items()}}
    gltf.buffers = [pygltflib.Buffer(byteLength=len(writer.blob))]
    gltf.set_binary_blob(bytes(writer.blob))
    return b"".join(gltf.save_to_bytes())


def write_persona(folder: Path, name: str, params: PersonaParams, description: str = "",
                  shading: str = "lit") -> Path:
    """Write ``folder/name/name.glb`` and its ``avatar.toml``; returns the model path.

    The manifest declares the likeness synthetic: the face was drawn from a seed and depicts no
    one, so the consent checks need no signature for it.
    """
    target = Path(folder) / name
    target.mkdir(parents=True, exist_ok=True)
    model = target / f"{name}.glb"
    model.write_bytes(build_glb(params))
    described = description or f"Generated persona (seed {params.seed}); belongs to no real person."
    (target / "avatar.toml").write_text(
        f'kind = "gltf"\nmodel = "{model.name}"\nshading = "{shading}"\n'
        f'description = "{described}"\n\n'
        "[consent]\n"
        'likeness = "synthetic"\n',
        encoding="utf-8")
    return model
