"""The photo warp's mesh: which points exist, how they are joined, and where they go each frame.

One continuous mesh covers the whole picture, so nothing can tear:

* the 478 landmarks (the face; the iris points serve the eyeballs), moved in the face frame by
  the expression basis, turned by the head rotation and put back into the photo with the photo's
  own pose (a similarity fit onto the face template, as ``to_face_frame`` does): the photo's
  expression and pose are the neutral;
* two rings beyond the silhouette that follow its motion by a falloff (hair, ears and neck stretch
  instead of leaving holes), a third that stays put (the picture beyond it never moves, so the
  avatar draws it once: ``PhotoAvatar.layer_picture``), a ring on the photo's border, and a ring
  on the frame's border that fills a letterbox from the blurred margin beside the photo in the
  texture;
* each eye's opening filled from its lid margins and iris points (the photo's own eye, the iris
  moved by gaze inside the fixed margins); blinking moves the upper lid margin and the skin above
  it down onto the lower margin;
* the mouth interior (three rows across the opening: upper lip, middle, lower lip) textured from
  the synthesised mouth picture, behind the lips.

``PhotoRig.positions(expression)`` is the whole per-frame cost: a (52 × 1434) product, a rotation
and an affine map over a few hundred points, all numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.avatar.photo import topology
from engine.tracking import landmarks as lm
from engine.tracking.gaze import EYEBALL_RADIUS_CM
from engine.tracking.template import load_template
from engine.types import BLENDSHAPE_INDEX, NUM_LANDMARKS, Expression

# Where the head turns about, in template centimetres: on the midline, behind the face.
PIVOT_CM = np.array([0.0, -1.0, -9.0])
RING_SCALES = (1.3, 1.75)  # inner and outer ring, as multiples of the silhouette's radius
RING_FOLLOW = (0.6, 0.2)  # how much of the silhouette's motion each ring takes
# The still ring bounds what moves: the outer ring's share of the motion fades to nothing across
# the background between them (a ±30° turn moves the outer ring a few pixels), and the shoulders
# and the room beyond stay as in the photo, drawn once: 55–60 % of a built photo's pixels that
# llvmpipe does not raster each frame (docs/avatars.md, "Speed").
STILL_SCALE = 2.0
EDGE_FLATTEN = 0.7  # how far the silhouette's depth is drawn towards the face's middle
BORDER_MARGIN = (0.92, 0.96)  # the outer and the still ring stay inside these shares of the
# way to the photo border
MARGIN = 0.5  # the texture's blurred margin each side of the photo, in photo widths
CLOSED_LID = 0.15  # a closed eye's margins meet this far up from the lower margin
LID_REACH_CM = 1.1  # skin within this distance of the upper margin moves down with a blink
LID_TEXTURE_SLIDE = 0.45  # a closing lid samples the photo this share of its travel higher up
GAZE_LIMIT_CM = (0.35, 0.18)  # iris travel inside the fixed margins, sideways and up/down
MOUTH_DEPTH_CM = 0.8  # the mouth interior lies this far behind the lips
RING_DEPTH = (0.1, 0.25, 0.6)  # the moving rings, and all that is still, behind the silhouette


@dataclass(frozen=True)
class Pose:
    """The similarity taking photo pixels (x right, y down, z far) into the face frame (cm)."""

    rotation: np.ndarray  # (3, 3)
    scale: float  # cm per pixel
    source_mean: np.ndarray  # (3,) pixels, axes flipped to x right, y up, z near
    target_mean: np.ndarray  # (3,) cm

    @classmethod
    def fit(cls, landmarks: np.ndarray) -> Pose:
        template = load_template()
        points = landmarks.astype(np.float64) * (1.0, -1.0, -1.0)
        source, target = points[template.rigid], template.points[template.rigid].astype(np.float64)
        source_mean, target_mean = source.mean(0), target.mean(0)
        s, t = source - source_mean, target - target_mean
        u, sigma, vt = np.linalg.svd(s.T @ t)
        correction = np.array([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
        rotation = (u * correction) @ vt
        scale = float((sigma * correction).sum() / (s * s).sum())
        return cls(rotation, scale, source_mean, target_mean)

    def to_face(self, pixels: np.ndarray) -> np.ndarray:
        return ((pixels * (1.0, -1.0, -1.0)) - self.source_mean) @ self.rotation * self.scale \
            + self.target_mean

    def to_photo(self, face: np.ndarray) -> np.ndarray:
        return (((face - self.target_mean) / self.scale) @ self.rotation.T + self.source_mean) \
            * (1.0, -1.0, -1.0)


def _zipper(inner: np.ndarray, outer: np.ndarray, centre: np.ndarray, points: np.ndarray
            ) -> list[tuple[int, int, int]]:
    """Triangles joining two closed loops of vertex indices that wind the same way round
    ``centre`` (each star-shaped about it), walked together by angle."""
    def angles(loop):
        delta = points[loop] - centre
        return np.mod(np.arctan2(delta[:, 1], delta[:, 0]), 2 * np.pi)

    a_start, b_start = int(np.argmin(angles(inner))), int(np.argmin(angles(outer)))
    a = np.roll(inner, -a_start)
    b = np.roll(outer, -b_start)
    a_angle, b_angle = angles(a), angles(b)
    if np.any(np.diff(a_angle) < 0):  # the loop winds the other way: walk it backwards
        a = np.roll(a[::-1], 1)
        a_angle = angles(a)
    if np.any(np.diff(b_angle) < 0):
        b = np.roll(b[::-1], 1)
        b_angle = angles(b)
    a_angle = np.append(a_angle, a_angle[0] + 2 * np.pi)
    b_angle = np.append(b_angle, b_angle[0] + 2 * np.pi)
    triangles, i, j = [], 0, 0
    while i < len(a) or j < len(b):
        if j >= len(b) or (i < len(a) and a_angle[i + 1] <= b_angle[j + 1]):
            triangles.append((a[i], a[(i + 1) % len(a)], b[j % len(b)]))
            i += 1
        else:
            triangles.append((a[i % len(a)], b[j], b[(j + 1) % len(b)]))
            j += 1
    return triangles


def _inside(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Which ``points`` (N, 2) lie inside the closed ``polygon`` (M, 2), by ray crossings."""
    x, y = points[:, 0:1], points[:, 1:2]
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    crosses = (y0 > y) != (y1 > y)
    at = x0 + (y - y0) * (x1 - x0) / np.where(y1 == y0, 1e-12, y1 - y0)
    return ((crosses & (x < at)).sum(1) % 2) == 1


def _eye_fill(side: str, pixels: np.ndarray) -> list[tuple[int, int, int]]:
    """Triangles over one eye opening: its lid margins and the iris points inside them."""
    from scipy.spatial import Delaunay

    loop = topology.eye_loop(side)
    iris = topology.LEFT_IRIS if side == "left" else topology.RIGHT_IRIS
    iris = iris[_inside(pixels[loop, :2], pixels[iris, :2])]
    used = np.concatenate([loop, iris])
    found = Delaunay(pixels[used, :2]).simplices
    centroids = pixels[used[found], :2].mean(1)
    keep = _inside(pixels[loop, :2], centroids)
    return [tuple(t) for t in used[found[keep]]]


class PhotoRig:
    """The mesh of one photo avatar: static topology and texture coordinates, and the vertex
    positions for an expression."""

    def __init__(self, landmarks: np.ndarray, size: tuple[int, int],
                 basis: np.ndarray) -> None:
        width, height = size
        self.size = size
        self.landmarks = landmarks.astype(np.float64)  # (478, 3) photo pixels
        self.pose = Pose.fit(self.landmarks)
        self.neutral = self.pose.to_face(self.landmarks)  # the photo's own face, face frame
        oval = topology.face_oval()
        xy = self.landmarks[:, :2]
        self.face_px = float(np.ptp(xy[oval], axis=0).max())
        self.centre = xy[oval].mean(0)

        # Rings beyond the silhouette, scaled about its centre and kept inside the photo.
        spokes = xy[oval] - self.centre
        with np.errstate(divide="ignore"):
            room_x = np.where(spokes[:, 0] > 0, width - self.centre[0], self.centre[0])
            room_y = np.where(spokes[:, 1] > 0, height - self.centre[1], self.centre[1])
            room = np.minimum(room_x / np.abs(spokes[:, 0]), room_y / np.abs(spokes[:, 1]))
        outer_scale = np.minimum(RING_SCALES[1], 1.0 + (room - 1.0) * BORDER_MARGIN[0])
        outer_scale = np.maximum(outer_scale, 1.02)
        inner_scale = 1.0 + (outer_scale - 1.0) * (RING_SCALES[0] - 1.0) / (RING_SCALES[1] - 1.0)
        still_scale = np.minimum(STILL_SCALE, 1.0 + (room - 1.0) * BORDER_MARGIN[1])
        still_scale = np.maximum(still_scale, outer_scale + 0.01)
        rings = [self.centre + spokes * s[:, None] for s in (inner_scale, outer_scale, still_scale)]
        # The photo's border: where each spoke meets it, plus the corners.
        border = self.centre + spokes * room[:, None]
        corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
        border = np.concatenate([np.clip(border, 0, (width, height)), corners])
        turn = np.arctan2(border[:, 1] - self.centre[1], border[:, 0] - self.centre[0])
        border = border[np.argsort(turn)]  # one loop round the centre, as the zipper walks it

        count = NUM_LANDMARKS
        inner, outer, still = (count + k * len(oval) + np.arange(len(oval)) for k in range(3))
        self.ring_index = [inner, outer]  # the rings that move
        self.border_index = still[-1] + 1 + np.arange(len(border))
        self.frame_index = self.border_index + len(border)
        # The points that never move: the still ring, the photo's border and the frame's.
        self.still_index = np.r_[still, self.border_index, self.frame_index]
        self.mouth_index = self.frame_index[-1] + 1 + np.arange(6 * 11)
        self.count = int(self.mouth_index[-1] + 1)

        plane = np.zeros((self.count, 2))
        plane[:count] = xy
        for index, ring in zip((inner, outer, still), rings):
            plane[index] = ring
        plane[self.border_index] = border
        plane[self.frame_index] = border
        self._plane = plane  # rest positions (pixels) of the points that are not landmarks

        triangles: list[tuple[int, int, int]] = [tuple(t) for t in topology.face_triangles(True)]
        for side in ("left", "right"):
            triangles += _eye_fill(side, self.landmarks)
        loops = [oval, inner, outer, still, self.border_index, self.frame_index]
        for loop, beyond in zip(loops, loops[1:]):
            triangles += _zipper(loop, beyond, self.centre, plane)
        upper, lower, right, left = topology.lip_margins()
        top, bottom = np.r_[right, upper, left], np.r_[right, lower, left]
        # The mouth, six rows of 11 across the opening: the photo's own opening split at its
        # middle, each half following its lip (rows 0-1 and 4-5, photo texture), and between
        # them the synthesised interior (rows 2-3), of no height while the mouth is as in the
        # photo.
        middle = 0.5 * (self.neutral[top] + self.neutral[bottom])
        self._lip_rows = (top, bottom)
        self._mouth_offsets = (middle - self.neutral[top], middle - self.neutral[bottom])
        depth = np.full((6, 11), 0.1 * MOUTH_DEPTH_CM)  # the photo's own opening: just behind
        depth[2:4] = MOUTH_DEPTH_CM  # the synthesised interior: deeper
        self._mouth_depth = depth.ravel() / self.pose.scale  # centimetres → photo pixels
        rows = self.mouth_index.reshape(6, 11)
        for a, b in ((0, 1), (2, 3), (4, 5)):
            for k in range(10):
                triangles += [(rows[a][k], rows[a][k + 1], rows[b][k]),
                              (rows[a][k + 1], rows[b][k + 1], rows[b][k])]
        self.triangles = np.array(triangles, np.int32)

        # Texture coordinates (0..1, y down): the photo's, or the mouth picture's where in_mouth.
        uv = np.zeros((self.count, 2))
        uv[: self.frame_index[-1] + 1] = plane[: self.frame_index[-1] + 1] / (width, height)
        middle_px = 0.5 * (xy[top] + xy[bottom])
        photo_rows = (xy[top], middle_px, middle_px, xy[bottom])
        for row, points in zip(rows[[0, 1, 4, 5]], photo_rows):
            uv[row] = points / (width, height)
        across = np.linspace(0.0, 1.0, 11)
        uv[rows[2]] = np.stack([across, np.zeros(11)], 1)
        uv[rows[3]] = np.stack([across, np.ones(11)], 1)
        self.uv = uv.astype(np.float32)
        self.in_mouth = np.zeros(self.count, bool)
        self.in_mouth[rows[2:4].ravel()] = True  # the synthesised interior

        self.basis = self._avatar_basis(basis)
        self.depth_unit = self.face_px
        # Depth that the turn sees: the silhouette and the loop inside it are flattened towards
        # the face's middle depth. The photo shows the sides of the face at a grazing angle, and
        # turning them into view at their true depth would stretch a few edge pixels across the
        # cheek; flattened, the silhouette moves with the face and the background ring stretches
        # instead.
        edge = np.zeros(NUM_LANDMARKS)
        mesh = topology.face_triangles(False)
        edge[np.unique(mesh[np.isin(mesh, oval).any(axis=1)])] = 0.5
        edge[oval] = 1.0
        middle = self.neutral[: lm.NUM_MESH, 2].mean()
        self._flatten = np.zeros((NUM_LANDMARKS, 3))
        self._flatten[:, 2] = EDGE_FLATTEN * edge * (middle - self.neutral[:, 2])
        # Blinks: what the moving lid skin samples at a full blink. It slides up the photo by a
        # share of the lid's travel, so the closed lid shows the clean skin above the lashes
        # instead of the lashes stretched over the eye. (shift u, shift v, left, right)
        lid = np.zeros((self.count, 4), np.float32)
        for column, channel in ((2, "eyeBlinkLeft"), (3, "eyeBlinkRight")):
            travel = self.basis[BLENDSHAPE_INDEX[channel]].reshape(NUM_LANDMARKS, 3)
            moved = self.pose.to_photo(self.neutral + travel)[:, :2] - xy
            moving = np.linalg.norm(moved, axis=1) > 1e-6
            moving[lm.NUM_MESH:] = False  # the irises fold away with the eye
            lid[:NUM_LANDMARKS][moving, :2] = (-LID_TEXTURE_SLIDE * moved[moving]
                                               / (width, height))
            lid[:NUM_LANDMARKS][moving, column] = 1.0
        self.lid = lid

    # -- the expression basis for this face ---------------------------------------------------

    def _avatar_basis(self, basis: np.ndarray) -> np.ndarray:
        """The shipped basis with this face's own blinks: each upper lid margin onto its lower
        one, the skin above following by distance, the irises pressed down with the lid."""
        basis = np.array(basis, np.float64)
        face = self.neutral
        for side, channel in (("left", "eyeBlinkLeft"), ("right", "eyeBlinkRight")):
            upper, lower = topology.lid_margins(side)
            meet = face[lower] + CLOSED_LID * (face[upper] - face[lower])
            shift = np.zeros((NUM_LANDMARKS, 3))
            shift[upper] = meet - face[upper]
            shift[lower] = meet - face[lower]
            # Skin above the upper margin (and not the lower lid) follows it by distance.
            distance = np.linalg.norm(face[:, None, :2] - face[None, upper, :2], axis=2)
            nearest = upper[np.argmin(distance, 1)]
            falloff = np.clip(1.0 - distance.min(1) / LID_REACH_CM, 0.0, 1.0) ** 2
            above = face[:, 1] > np.interp(face[:, 0], *_sorted_xy(face[upper]))
            skin = above & ~np.isin(np.arange(NUM_LANDMARKS), np.r_[upper, lower])
            skin[lm.NUM_MESH:] = False
            shift[skin] = falloff[skin, None] * shift[nearest[skin]]
            iris = topology.LEFT_IRIS if side == "left" else topology.RIGHT_IRIS
            shift[iris, 1] = meet[:, 1].mean() - face[iris, 1]
            basis[BLENDSHAPE_INDEX[channel]] = shift
        return basis.reshape(len(basis), -1)

    # -- per frame ------------------------------------------------------------------------------

    def set_frame(self, frame_size: tuple[int, int]) -> tuple[float, float, float, float]:
        """Fit the photo centred in a frame of ``frame_size`` (letterboxed), move the frame
        ring onto the frame's border and give it its texture coordinates. Returns (scale x, scale y, offset x, offset y): photo
        pixels to normalised device coordinates."""
        width, height = self.size
        frame_w, frame_h = frame_size
        fit = min(frame_w / width, frame_h / height)
        half_w, half_h = frame_w / fit / 2, frame_h / fit / 2  # the frame in photo pixels
        centre = np.array([width / 2, height / 2])
        stretch = np.array([half_w / (width / 2), half_h / (height / 2)])
        # The photo's border ring stretched onto the frame's (corners onto corners). The
        # letterbox between them shows the texture's blurred margin beside the photo
        # (PhotoAvatar's atlas), mapped one to one as far as the margin reaches.
        frame = centre + (self._plane[self.border_index] - centre) * stretch
        self._plane[self.frame_index] = frame
        self.uv[self.frame_index] = np.clip(frame / (width, height), (-MARGIN, 0.0),
                                            (1.0 + MARGIN, 1.0))
        return (1.0 / half_w, -1.0 / half_h, -centre[0] / half_w, centre[1] / half_h)

    def positions(self, expression: Expression) -> np.ndarray:
        """(count, 3) float32 vertex positions: photo pixels x, y and a depth (larger = farther,
        in face widths)."""
        face = self.neutral + (expression.blendshapes.astype(np.float64) @ self.basis
                               ).reshape(NUM_LANDMARKS, 3)
        yaw, pitch = (float(v) for v in expression.gaze[:2])
        shift = np.clip(EYEBALL_RADIUS_CM * np.sin((yaw, pitch)),
                        (-GAZE_LIMIT_CM[0], -GAZE_LIMIT_CM[1]), GAZE_LIMIT_CM)
        face[topology.IRIS, :2] += shift
        top, bottom = face[self._lip_rows[0]], face[self._lip_rows[1]]
        upper_half, lower_half = top + self._mouth_offsets[0], bottom + self._mouth_offsets[1]
        mouth = np.concatenate([top, upper_half, upper_half, lower_half, lower_half, bottom])
        rotation = np.asarray(expression.head, np.float64)[:3, :3]
        points = np.concatenate([face + self._flatten, mouth])
        moved = (points - PIVOT_CM) @ rotation.T + PIVOT_CM
        moved[:NUM_LANDMARKS] -= self._flatten  # unturned, the photo's own depth exactly
        pixels = self.pose.to_photo(moved)
        out = np.empty((self.count, 3))
        out[:NUM_LANDMARKS] = pixels[:NUM_LANDMARKS]
        # The interior shares its rim with the lips exactly (no gap can open between them) and
        # lies behind them in depth only: pushed back after projection, not before.
        out[self.mouth_index] = pixels[NUM_LANDMARKS:]
        out[self.mouth_index, 2] += self._mouth_depth
        oval = topology.face_oval()
        motion = pixels[oval, :2] - self.landmarks[oval, :2]
        rim = pixels[oval, 2]
        for index, follow, depth in zip(self.ring_index, RING_FOLLOW, RING_DEPTH):
            out[index, :2] = self._plane[index] + follow * motion
            out[index, 2] = rim + depth * self.depth_unit
        still = self.still_index
        out[still, :2] = self._plane[still]
        out[still, 2] = self.landmarks[oval, 2].max() + RING_DEPTH[2] * self.depth_unit
        out[:, 2] /= self.depth_unit
        return out.astype(np.float32)


def _sorted_xy(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(points[:, 0])
    return points[order, 0], points[order, 1]
