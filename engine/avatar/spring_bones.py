"""Spring bones: hair and accessories that swing, simulated on the CPU.

The physics is UniVRM's (VRM 0.x ``secondaryAnimation`` and VRM 1.0 ``VRMC_springBone`` share
it): each joint keeps the model-space position of its tail now and one step ago. A step moves
the tail by its verlet velocity (less ``drag``), by ``stiffness`` towards where the rest pose
points it and by gravity, puts it back at the segment's length from the joint, and pushes it
out of the sphere and capsule colliders it may touch. The joint then turns so that it points
at the tail, which places the joints below it for the next level.

Steps are a fixed ``STEP_S`` apart, however often frames come, so a run is repeatable: a frame
advances the accumulated time in whole steps (at most ``MAX_STEPS`` per frame; a long stall is
dropped, not caught up). Within a step the joints are handled one level down their chains at
a time, all of a level's joints (and all their colliders) at once with numpy, so the cost grows
with the longest chain rather than with the number of joints or colliders: Godette (16 joints
in chains 2 deep, 4 colliders) measures in ``persona bench render``
(``godette_springs_cpu_ms_mean``) against a budget of ``BUDGET_MS`` per frame.

A model at rest costs nothing: once every tail has stopped moving (``SETTLED_M`` per step)
and nothing the springs hang from or collide with has moved since, a frame writes the last
posed joints back instead of stepping; any movement wakes them.

One difference from UniVRM: a tail inside several colliders at once is pushed out of the
deepest one only (UniVRM pushes out of each in turn), which keeps the colliders in one
vectorised test.
"""

from __future__ import annotations

import numpy as np

from engine.avatar.gltf import Model

STEP_S = 1.0 / 60.0
MAX_STEPS = 4  # per frame: 1/15 s of physics; more would be a stall, not motion to show
BUDGET_MS = 1.5  # per 30 fps frame (two steps) on Godette; persona bench render measures it
SETTLED_M = 1e-6  # a tail that moves less than this in a step (a thousandth of a millimetre)


def _unit(vectors: np.ndarray) -> np.ndarray:
    lengths = np.sqrt((vectors * vectors).sum(axis=-1))
    return vectors / np.maximum(lengths, 1e-12)[:, None]


def _apply(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """(k, rows) products of (k, rows, n) matrices with (k, n) vectors (einsum is slower here)."""
    return (matrices @ vectors[:, :, None])[:, :, 0]


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (k, 3) arrays (np.cross is several times slower on few rows)."""
    return np.stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1], a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                     a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]], axis=1)


def from_to(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(k, 3, 3) shortest rotations taking the unit vectors ``a`` onto ``b`` (both (k, 3))."""
    v = _cross(a, b)
    c = (a * b).sum(axis=1)
    # Rodrigues with sin folded in: I + [v] + [v]^2 / (1 + c), and [v]^2 = v v^T - |v|^2 I.
    # Opposite vectors (c = -1) have no unique rotation; a tail pointing straight back at its
    # rest direction stays put.
    scale = (c > -1.0 + 1e-6) / np.maximum(1.0 + c, 1e-6)
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    outer = (v[:, :, None] * v[:, None, :]) * scale[:, None, None]
    shrink = 1.0 - (v * v).sum(axis=1) * scale  # the diagonal: 1 - |v|^2 s
    rotation = outer
    rotation[:, 0, 0] += shrink
    rotation[:, 1, 1] += shrink
    rotation[:, 2, 2] += shrink
    rotation[:, 0, 1] -= z
    rotation[:, 0, 2] += y
    rotation[:, 1, 0] += z
    rotation[:, 1, 2] -= x
    rotation[:, 2, 0] -= y
    rotation[:, 2, 1] += x
    return rotation


class _Level:
    """The joints at one depth of the node tree: their settings, and their tails' state."""

    def __init__(self, model: Model, joints: list, rest_world: np.ndarray, touches: np.ndarray) -> None:
        self.nodes = np.array([j.node for j in joints], np.int64)
        self.parents = np.array([model.nodes[j.node].parent for j in joints], np.int64)
        # Rest local matrices from the rest world (the relaxed pose may have moved a parent).
        self.local = (np.linalg.inv(rest_world[self.parents]) @ rest_world[self.nodes]).astype(np.float32)
        self.tail = np.array([j.tail for j in joints], np.float32)
        self.stiffness = np.array([[j.stiffness] for j in joints], np.float32)
        self.keep = 1.0 - np.array([[j.drag] for j in joints], np.float32)
        self.gravity = np.array([j.gravity for j in joints], np.float32)
        self.hit = np.array([j.hit_radius for j in joints], np.float32)
        self.touches = touches  # (k, colliders) bool
        self.current = self.rest_tails(rest_world)
        self.previous = self.current.copy()
        self.length = np.linalg.norm(self.current - rest_world[self.nodes][:, :3, 3], axis=1)[:, None]

    def rest_tails(self, world: np.ndarray) -> np.ndarray:
        placed = world[self.nodes]
        return (_apply(placed[:, :3, :3], self.tail) + placed[:, :3, 3]).astype(np.float32)


class SpringBones:
    """The spring-bone state of one model; ``advance`` poses its joints in a world array."""

    def __init__(self, model: Model, rest_world: np.ndarray, step_s: float = STEP_S) -> None:
        # A joint swings about its parent's frame; a scene root has none and stays put.
        joints = [j for j in model.spring_joints if model.nodes[j.node].parent is not None]
        self.step_s = step_s
        self._time = 0.0
        self.joint_count = len(joints)
        colliders = model.spring_colliders
        self._collider_nodes = np.array([c.node for c in colliders], np.int64)
        self._collider_starts = np.array([[*c.offset, 1.0] for c in colliders], np.float32).reshape(-1, 4)
        self._collider_ends = np.array([[*(c.offset if c.tail is None else c.tail), 1.0]
                                        for c in colliders], np.float32).reshape(-1, 4)
        self._collider_radii = np.array([c.radius for c in colliders], np.float32)
        touches = np.zeros((len(joints), len(colliders)), bool)
        for k, joint in enumerate(joints):
            touches[k, list(joint.colliders)] = True
        nodes = {j.node for j in joints}
        depths = np.array([_chain_depth(model, j.node, nodes) for j in joints], np.int64)
        self._levels = []
        for depth in np.unique(depths):  # chain roots first: a level's parents are all placed
            chosen = np.flatnonzero(depths == depth)
            self._levels.append(_Level(model, [joints[k] for k in chosen], rest_world,
                                       touches[chosen]))
        self._followers = _followers(model, {j.node for j in joints})
        # What the springs depend on (the nodes their chains hang from, the colliders' nodes)
        # and what they pose (their joints and the nodes below): kept to sleep while at rest.
        spring_nodes = {j.node for j in joints}
        self._inputs = np.array(sorted({int(p) for level in self._levels for p in level.parents
                                        if int(p) not in spring_nodes}
                                       | set(self._collider_nodes.tolist())), np.int64)
        self._posed = np.array([*sorted(spring_nodes), *(n for n, _, _ in self._followers)],
                               np.int64)
        self._asleep: tuple[np.ndarray, np.ndarray] | None = None  # (inputs, posed rows)

    def reset(self, world: np.ndarray) -> None:
        """Put every tail at rest for the pose in ``world`` (no velocity)."""
        for level in self._levels:
            level.current = level.rest_tails(world)
            level.previous = level.current.copy()
        self._time = 0.0
        self._asleep = None

    def advance(self, world: np.ndarray, seconds: float) -> int:
        """Run the fixed steps that fit in ``seconds`` more (plus what earlier calls left over)
        with the rest of the body posed as in ``world``, then pose the joints (and the nodes
        below them) in ``world``, in place. Returns the number of steps taken."""
        if not self._levels:
            return 0
        self._time = min(self._time + max(seconds, 0.0), MAX_STEPS * self.step_s)
        steps = int(self._time / self.step_s + 1e-9)
        self._time -= steps * self.step_s
        inputs = world[self._inputs]
        if self._asleep is not None and np.array_equal(inputs, self._asleep[0]):
            world[self._posed] = self._asleep[1]  # nothing moved: the steps would change nothing
            return steps
        for _ in range(steps):
            self._pass(world, integrate=True)
        if not steps:
            self._pass(world, integrate=False)
        for node, parent, local in self._followers:
            world[node] = world[parent] @ local
        settled = steps and all(np.abs(level.current - level.previous).max() < SETTLED_M
                                for level in self._levels)
        self._asleep = (inputs, world[self._posed].copy()) if settled else None
        return steps

    def _pass(self, world: np.ndarray, integrate: bool) -> None:
        colliders = None
        if integrate and len(self._collider_radii):
            placed = world[self._collider_nodes]
            starts = _apply(placed[:, :3], self._collider_starts)
            colliders = (starts, _apply(placed[:, :3], self._collider_ends) - starts)
        for level in self._levels:
            head = world[level.parents] @ level.local  # the joints where the rest pose puts them
            position = head[:, :3, 3]
            rest = _unit(_apply(head[:, :3, :3], level.tail))
            tail = level.current
            if integrate:
                moved = (tail + (tail - level.previous) * level.keep
                         + rest * (level.stiffness * self.step_s) + level.gravity * self.step_s)
                moved = position + _unit(moved - position) * level.length
                if colliders is not None:
                    moved = self._collide(level, moved, position, *colliders)
                level.previous, level.current = tail, moved
                tail = moved
            head[:, :3, :3] = from_to(rest, _unit(tail - position)) @ head[:, :3, :3]
            world[level.nodes] = head

    def _collide(self, level: _Level, tails: np.ndarray, position: np.ndarray,
                 starts: np.ndarray, segments: np.ndarray) -> np.ndarray:
        """Push each tail out of the collider it is deepest inside, if any."""
        span = np.maximum((segments * segments).sum(axis=1), 1e-12)  # 0 for a sphere
        along = np.clip(((tails[:, None] - starts[None]) * segments[None]).sum(axis=2) / span, 0.0, 1.0)
        closest = starts[None] + along[..., None] * segments[None]  # (k, c, 3)
        out = tails[:, None] - closest
        distance = np.sqrt((out * out).sum(axis=2))
        reach = level.hit[:, None] + self._collider_radii[None]
        depth = np.where(level.touches, reach - distance, 0.0)
        deepest = depth.argmax(axis=1)
        inside = depth[np.arange(len(tails)), deepest] > 0.0
        if not inside.any():
            return tails
        rows, c = np.flatnonzero(inside), deepest[inside]
        pushed = (closest[rows, c] + out[rows, c] / np.maximum(distance[rows, c], 1e-9)[:, None]
                  * reach[rows, c][:, None])
        tails = tails.copy()
        tails[rows] = position[rows] + _unit(pushed - position[rows]) * level.length[rows]
        return tails


def _chain_depth(model: Model, node: int, joints: set[int]) -> int:
    """How many spring joints lie above ``node``: the level it is simulated at."""
    depth = 0
    while model.nodes[node].parent is not None:
        node = model.nodes[node].parent
        depth += node in joints
    return depth


def _depth(model: Model, node: int) -> int:
    depth = 0
    while model.nodes[node].parent is not None:
        node = model.nodes[node].parent
        depth += 1
    return depth


def _followers(model: Model, joints: set[int]) -> list[tuple[int, int, np.ndarray]]:
    """(node, parent, local) for nodes below a joint that are not joints themselves (a VRM 1.0
    chain's tail, meshes hung on hair), in depth order: they follow their parent."""
    found, stack = [], [c for j in joints for c in model.nodes[j].children]
    while stack:
        node = stack.pop()
        if node in joints:
            continue
        found.append(node)
        stack.extend(model.nodes[node].children)
    found.sort(key=lambda n: _depth(model, n))
    return [(n, model.nodes[n].parent, model.nodes[n].local) for n in found]
