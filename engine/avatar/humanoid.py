"""The VRM humanoid: a relaxed rest pose and head turns shared down the spine.

VRM models are authored in T-pose (arms straight out). A VRM player lowers the arms before it
shows the model, and turns the head over several bones so the neck does not bend like rubber.
Both work from the humanoid bone map (VRM 0.x ``humanoid.humanBones`` list, VRM 1.0 dict; both
read into ``Model.bones``) and in model space, so they hold for either version's axes and for
any bone-local frames an exporter chose: a bone is turned about its own joint, by a rotation
whose axis comes from where its child bone lies.

All matrices are (4, 4) column-vector transforms in the model's own space (before the VRM 0.x
half turn the renderer applies to face the camera).
"""

from __future__ import annotations

import math

import numpy as np

from engine.avatar.gltf import Model

# Arms lowered from the T-pose, degrees: the shoulder a little, the upper arm most of the way,
# the forearm bent forward at the elbow. Together the hand ends at the thigh, as in a standing
# "A-pose at rest" that VRM viewers show.
SHOULDER_DOWN_DEG = 8.0
UPPER_ARM_DOWN_DEG = 62.0
ELBOW_FORWARD_DEG = 12.0

# How a head rotation is shared, root first. What a model lacks goes to the head, so the head
# always ends exactly at the tracked rotation. "upperChest" is optional in VRM; a model without
# it gives its share to "chest" (see HEAD_SHARE_FALLBACK).
HEAD_SHARE = (("spine", 0.10), ("upperChest", 0.15), ("neck", 0.30), ("head", 0.45))
HEAD_SHARE_FALLBACK = {"upperChest": "chest"}


def subtree(model: Model, node: int) -> list[int]:
    """``node`` and every node below it."""
    nodes, stack = [], [node]
    while stack:
        n = stack.pop()
        nodes.append(n)
        stack.extend(model.nodes[n].children)
    return nodes


def axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """3x3 rotation by ``angle`` radians about ``axis`` (need not be unit length)."""
    x, y, z = np.asarray(axis, np.float64) / max(float(np.linalg.norm(axis)), 1e-12)
    c, s, t = math.cos(angle), math.sin(angle), 1.0 - math.cos(angle)
    return np.array([[t * x * x + c, t * x * y - s * z, t * x * z + s * y],
                     [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
                     [t * x * z - s * y, t * y * z + s * x, t * z * z + c]], np.float32)


def fraction_of(rotation: np.ndarray, fraction: float) -> np.ndarray:
    """The rotation ``fraction`` of the way from identity to the 3x3 ``rotation``."""
    angle = math.acos(min(max((float(np.trace(rotation)) - 1.0) / 2.0, -1.0), 1.0))
    if angle < 1e-7:
        return np.eye(3, dtype=np.float32)
    axis = np.array([rotation[2, 1] - rotation[1, 2], rotation[0, 2] - rotation[2, 0],
                     rotation[1, 0] - rotation[0, 1]], np.float64)
    if np.linalg.norm(axis) < 1e-6:  # a half turn: the axis is the matrix's +1 eigenvector
        values, vectors = np.linalg.eigh((rotation + rotation.T) / 2.0)
        axis = vectors[:, int(np.argmax(values))]
    return axis_angle(axis, angle * fraction)


def turn_subtree(world: np.ndarray, nodes: list[int], pivot: np.ndarray,
                 rotation: np.ndarray) -> None:
    """Turn the world matrices of ``nodes`` in place by the 3x3 ``rotation`` about ``pivot``."""
    turn = np.eye(4, dtype=np.float32)
    turn[:3, :3] = rotation
    turn[:3, 3] = pivot - rotation @ pivot
    world[nodes] = turn @ world[nodes]


def forward(model: Model) -> np.ndarray:
    """The direction the model faces in its own space: -Z for VRM 0.x, +Z otherwise."""
    return np.array([0.0, 0.0, -1.0 if model.faces_minus_z else 1.0], np.float32)


def relaxed_world(model: Model, world: np.ndarray) -> np.ndarray:
    """World matrices with both arms lowered from the T-pose (a copy; ``world`` is the model's
    authored rest pose). A model without the arm bones comes back unchanged."""
    world = world.copy()
    bones = model.bones
    down = np.array([0.0, -1.0, 0.0], np.float32)
    front = forward(model)
    for side in ("left", "right"):
        upper, lower, hand = (bones.get(f"{side}{b}") for b in ("UpperArm", "LowerArm", "Hand"))
        if upper is None or lower is None:
            continue
        shoulder = bones.get(f"{side}Shoulder")
        # Each bone swings about the axis that takes its direction towards straight down; the
        # arm's own direction (shoulder joint → elbow) comes from the map, not from bone axes.
        for bone, child, degrees in ((shoulder, upper, SHOULDER_DOWN_DEG),
                                     (upper, lower, UPPER_ARM_DOWN_DEG)):
            if bone is None:
                continue
            direction = world[child][:3, 3] - world[bone][:3, 3]
            axis = np.cross(direction, down)
            if np.linalg.norm(axis) < 1e-6 * max(float(np.linalg.norm(direction)), 1e-9):
                continue  # already hanging straight down
            turn_subtree(world, subtree(model, bone), world[bone][:3, 3],
                         axis_angle(axis, math.radians(degrees)))
        if hand is not None:
            forearm = world[hand][:3, 3] - world[lower][:3, 3]
            axis = np.cross(forearm, front)  # bends the hand towards the front
            if np.linalg.norm(axis) > 1e-9:
                turn_subtree(world, subtree(model, lower), world[lower][:3, 3],
                             axis_angle(axis, math.radians(ELBOW_FORWARD_DEG)))
    return world


def head_chain(model: Model) -> list[tuple[int, float, list[int]]]:
    """(node, share of the head rotation, its subtree) root first, over the bones the model has;
    the shares add up to 1. Empty when the model has no humanoid head."""
    if "head" not in model.bones:
        return []
    chain: list[tuple[int, float]] = []
    spare = 0.0  # the shares of bones the model lacks
    for bone, share in HEAD_SHARE:
        if bone == "head":
            chain.append((model.bones["head"], share + spare))
            break
        node = model.bones.get(bone)
        if node is None and bone in HEAD_SHARE_FALLBACK:
            node = model.bones.get(HEAD_SHARE_FALLBACK[bone])
        if node is None or any(node == n for n, _ in chain):
            spare += share
            continue
        chain.append((node, share))
    return [(node, share, subtree(model, node)) for node, share in chain]


def turn_head(world: np.ndarray, chain: list[tuple[int, float, list[int]]],
              rotation: np.ndarray) -> None:
    """Share the 3x3 model-space ``rotation`` over ``chain`` (see ``head_chain``), in place:
    each bone turns its part about its own joint, where the bones below it have moved it."""
    for node, share, nodes in chain:
        turn_subtree(world, nodes, world[node][:3, 3].copy(), fraction_of(rotation, share))
