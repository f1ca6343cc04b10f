"""The VRM humanoid: a relaxed rest pose and head turns shared down the spine.

VRM models are authored in T-pose (arms straight out). A VRM player lowers the arms before it
shows the model, and turns the head over several bones so the neck does not bend like rubber.
Both work from the humanoid bone map (VRM 0.x ``humanoid.humanBones`` list, VRM 1.0 dict; both
read into ``Model.bones``) and in model space, so they hold for either version's axes and for
any bone-local frames an exporter chose: a bone is turned about its own joint, by a rotation
whose axis comes from where its child bone lies.

All matrices are (4, 4) column-vector transforms in the model's own space (before the VRM 0.x
half turn the renderer applies to face the camera).

Tracked arms (``Expression.arms``, engine/tracking/pose.py) turn the shoulders, upper arms and
forearms on top of the relaxed rest pose. They are rotations in the body frame (+x the avatar's
left, +y up, +z its front) from each segment's rest pose, so identity leaves the rest pose as it
is and the same rotations fit every model whose arms were authored straight out, palms down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.avatar.gltf import Model
from engine.tracking.rotations import matrix_from_quat, quat_from_matrix

# Arms lowered from the T-pose, degrees: the shoulder a little, the upper arm most of the way,
# the forearm bent forward at the elbow. Together the hand ends at the thigh, as in a standing
# "A-pose at rest" that VRM viewers show (rest_arm_directions turns these into directions).
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


def aim(direction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """3x3 shortest rotation taking ``direction`` onto ``target``'s direction (identity when they
    are parallel or either is zero)."""
    axis = np.cross(direction, target)
    norm, dot = float(np.linalg.norm(axis)), float(np.dot(direction, target))
    if norm < 1e-9:
        return np.eye(3, dtype=np.float32)
    return axis_angle(axis, math.atan2(norm, dot))


def relaxed_world(model: Model, world: np.ndarray) -> np.ndarray:
    """World matrices with both arms lowered from the T-pose (a copy; ``world`` is the model's
    authored rest pose). A model without the arm bones comes back unchanged.

    The shoulder swings down by SHOULDER_DOWN_DEG; the upper arm and forearm are then aimed at
    ``rest_arm_directions``, so every model rests in the same pose however level its authored
    arms were (Godette's slope 4 degrees), and tracked arms, given relative to those directions,
    put the hands where the performer's are."""
    world = world.copy()
    bones = model.bones
    down = np.array([0.0, -1.0, 0.0], np.float32)
    rest = rest_arm_directions() @ body_to_model(model).T  # model space
    for side, name in enumerate(SIDES):
        upper, lower, hand = (bones.get(f"{name}{b}") for b in ("UpperArm", "LowerArm", "Hand"))
        if upper is None or lower is None:
            continue
        shoulder = bones.get(f"{name}Shoulder")
        if shoulder is not None:
            # It swings about the axis that takes its direction towards straight down; its
            # direction (shoulder joint → upper arm joint) comes from the map, not bone axes.
            direction = world[upper][:3, 3] - world[shoulder][:3, 3]
            axis = np.cross(direction, down)
            if np.linalg.norm(axis) > 1e-6 * max(float(np.linalg.norm(direction)), 1e-9):
                turn_subtree(world, subtree(model, shoulder), world[shoulder][:3, 3],
                             axis_angle(axis, math.radians(SHOULDER_DOWN_DEG)))
        for bone, child, target in ((upper, lower, rest[side, 0]), (lower, hand, rest[side, 1])):
            if child is None:
                continue
            turn_subtree(world, subtree(model, bone), world[bone][:3, 3].copy(),
                         aim(world[child][:3, 3] - world[bone][:3, 3], target))
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


# -- tracked arms ---------------------------------------------------------------------------------

SIDES = ("left", "right")  # the order of Expression.arms' first axis


def body_to_model(model: Model) -> np.ndarray:
    """3x3 from the body frame (+x the avatar's left, +y up, +z its front) to model space: the
    identity for +Z-facing models (glTF, VRM 1.0), a half turn about +y for VRM 0.x."""
    flip = -1.0 if model.faces_minus_z else 1.0
    return np.diag([flip, 1.0, flip]).astype(np.float32)


def rest_arm_directions() -> np.ndarray:
    """(2 sides, 2 segments, 3) unit directions of the upper arm and forearm in the relaxed rest
    pose, in the body frame: what ``relaxed_world`` makes of arms authored straight out."""
    down, front = np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, 1.0])
    directions = np.zeros((2, 2, 3), np.float32)
    for side, outward in enumerate((1.0, -1.0)):
        straight = np.array([outward, 0.0, 0.0])
        upper = axis_angle(np.cross(straight, down),
                           math.radians(SHOULDER_DOWN_DEG + UPPER_ARM_DOWN_DEG)) @ straight
        forearm = axis_angle(np.cross(upper, front), math.radians(ELBOW_FORWARD_DEG)) @ upper
        directions[side] = upper, forearm
    return directions


def rest_hand_across() -> np.ndarray:
    """(2 sides, 3) unit direction from the little finger's knuckle to the index finger's in the
    relaxed rest pose, in the body frame. A VRM T-pose has the palms down and the index fingers
    forward; lowering the arms about the body's front axis keeps that (the palms face the
    thighs), and the elbow's bend tilts it with the forearm."""
    front = np.array([0.0, 0.0, 1.0])
    across = np.zeros((2, 3), np.float32)
    for side, upper in enumerate(rest_arm_directions()[:, 0]):
        across[side] = axis_angle(np.cross(upper, front), math.radians(ELBOW_FORWARD_DEG)) @ front
    return across


@dataclass(frozen=True)
class ArmBones:
    """One side's arm joints and the nodes each one carries; the shoulder (clavicle) and hand
    are optional in VRM (without a shoulder the arm does not shrug; without a hand the forearm
    takes the whole twist)."""

    upper: int
    lower: int
    upper_nodes: list[int]
    lower_nodes: list[int]
    shoulder: int | None
    shoulder_nodes: list[int]
    hand: int | None
    hand_nodes: list[int]


@dataclass(frozen=True)
class ArmRig:
    """What ``pose_arms`` turns: per side (left, right) the arm bones, or None where a model
    lacks them (procedural personas have no arms: nothing turns)."""

    sides: tuple[ArmBones | None, ArmBones | None]
    to_model: np.ndarray  # (3, 3) body frame → model space


def arm_rig(model: Model) -> ArmRig:
    sides = []
    for side in SIDES:
        upper, lower, shoulder, hand = (model.bones.get(f"{side}{bone}") for bone in
                                        ("UpperArm", "LowerArm", "Shoulder", "Hand"))
        if upper is None or lower is None:
            sides.append(None)
            continue
        sides.append(ArmBones(upper, lower, subtree(model, upper), subtree(model, lower),
                              shoulder, [] if shoulder is None else subtree(model, shoulder),
                              hand, [] if hand is None else subtree(model, hand)))
    return ArmRig(tuple(sides), body_to_model(model))


def split_twist(rotation: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, float]:
    """(swing, twist angle): the 3x3 ``rotation`` as ``swing @ axis_angle(axis, angle)``, the
    twist about ``axis`` first, then a swing about an axis across it."""
    quat = quat_from_matrix(np.asarray(rotation, np.float64))
    unit = np.asarray(axis, np.float64) / max(float(np.linalg.norm(axis)), 1e-12)
    angle = 2.0 * math.atan2(float(quat[:3] @ unit), float(quat[3]))
    return (rotation @ axis_angle(unit, angle).T).astype(np.float32), angle


def pose_arms(world: np.ndarray, rig: ArmRig, arms: np.ndarray) -> None:
    """Turn the arms of ``world`` (the relaxed rest pose, in place) by ``Expression.arms``
    ([side][upper arm, forearm, shoulder], engine.tracking.pose): the shoulder about its joint,
    then each segment about its own joint by what is left of its rotation once the bones above
    have carried it. The forearm's twist about its length is shared with the hand, half each
    (all of it on one bone would wring the skin at the elbow or the wrist)."""
    to_model = rig.to_model
    for bones, quats in zip(rig.sides, np.asarray(arms, np.float64)):
        if bones is None:
            continue
        upper, lower, shoulder = ((to_model @ matrix_from_quat(q) @ to_model.T).astype(np.float32)
                                  for q in quats)
        carried = np.eye(3, dtype=np.float32)
        if bones.shoulder is not None:
            turn_subtree(world, bones.shoulder_nodes, world[bones.shoulder][:3, 3].copy(), shoulder)
            carried = shoulder
        turn_subtree(world, bones.upper_nodes, world[bones.upper][:3, 3].copy(), upper @ carried.T)
        elbow = world[bones.lower][:3, 3].copy()
        if bones.hand is None:
            turn_subtree(world, bones.lower_nodes, elbow, lower @ upper.T)
            continue
        axis = world[bones.hand][:3, 3] - elbow
        swung, twist = split_twist(lower @ upper.T, axis)
        turn_subtree(world, bones.lower_nodes, elbow, swung @ axis_angle(axis, twist / 2.0))
        wrist = world[bones.hand][:3, 3].copy()
        turn_subtree(world, bones.hand_nodes, wrist, axis_angle(wrist - elbow, twist / 2.0))
