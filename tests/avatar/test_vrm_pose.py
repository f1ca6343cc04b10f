"""The VRM humanoid: arms lowered from the T-pose by the bone map, head turns shared down the
spine, on the real Godette (VRM 0.x) and the VRM 1.0 validation model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.avatar import humanoid
from engine.avatar.gltf import load_model
from engine.avatar.loader import open_avatar
from engine.scenes import Framing
from engine.types import Expression
from tests.avatar.pixels import foreground

SAMPLES = ["vrm/Godette_vrm_v4.vrm", "vrm/VRMC_vrm_expressions_isBinary_Overrides.vrm"]


def _position(world: np.ndarray, node: int) -> np.ndarray:
    return world[node][:3, 3]


def _yaw(degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]],
                    np.float32)


@pytest.mark.parametrize("sample", SAMPLES)
def test_rest_pose_lowers_both_arms_from_the_bone_map(shared_asset, sample):
    model = load_model(shared_asset(sample))
    authored = model.world_matrices()
    relaxed = humanoid.relaxed_world(model, authored)
    bones = model.bones
    for side in ("left", "right"):
        upper, lower, hand = (bones[f"{side}{b}"] for b in ("UpperArm", "LowerArm", "Hand"))
        t_arm = _position(authored, lower) - _position(authored, upper)
        arm = _position(relaxed, lower) - _position(relaxed, upper)
        assert abs(t_arm[1]) < 0.3 * np.linalg.norm(t_arm), "the file is in T-pose"
        below = math.degrees(math.asin(-arm[1] / np.linalg.norm(arm)))
        # Shoulder and upper arm together: 8 + 62 degrees below the T-pose's line.
        assert 60.0 < below < 80.0, f"{side} upper arm {below:.1f} degrees below horizontal"
        assert np.sign(arm[0]) == np.sign(t_arm[0]), "the arm stays on its own side"
        assert np.linalg.norm(arm) == pytest.approx(np.linalg.norm(t_arm), rel=1e-4)
        # The forearm bends towards the front the model faces.
        forearm = _position(relaxed, hand) - _position(relaxed, lower)
        assert forearm @ humanoid.forward(model) > 0.1 * np.linalg.norm(forearm)
        assert _position(relaxed, hand)[1] < _position(relaxed, upper)[1] - 0.5 * np.linalg.norm(t_arm)
    # Nothing but the arms moves: spine, head and legs are where the file put them.
    arms = set()
    for side in ("left", "right"):
        arms.update(humanoid.subtree(model, bones[f"{side}Shoulder"]))
    still = [n for n in range(len(model.nodes)) if n not in arms]
    np.testing.assert_allclose(relaxed[still], authored[still], atol=1e-6)


def test_the_elbow_follows_the_facing_of_each_vrm_version(shared_asset):
    model = load_model(shared_asset("vrm/Godette_vrm_v4.vrm"))
    authored = model.world_matrices()
    hand, elbow = model.bones["leftHand"], model.bones["leftLowerArm"]
    forward_zero = humanoid.relaxed_world(model, authored)
    model.vrm_version = "1.0"  # the same bones read as a +Z-facing model
    forward_one = humanoid.relaxed_world(model, authored)
    z_zero = (_position(forward_zero, hand) - _position(forward_zero, elbow))[2]
    z_one = (_position(forward_one, hand) - _position(forward_one, elbow))[2]
    assert z_zero < -0.01 < 0.01 < z_one


@pytest.mark.parametrize("sample", SAMPLES)
def test_head_turn_is_shared_down_the_spine_and_ends_exact(shared_asset, sample):
    model = load_model(shared_asset(sample))
    chain = humanoid.head_chain(model)
    assert chain[-1][0] == model.bones["head"]
    assert sum(share for _, share, _ in chain) == pytest.approx(1.0)
    assert [node for node, _, _ in chain][:2] == [model.bones["spine"],
                                                  model.bones.get("upperChest", model.bones["chest"])]
    world = humanoid.relaxed_world(model, model.world_matrices())
    turned = world.copy()
    rotation = _yaw(40.0)
    humanoid.turn_head(turned, chain, rotation)
    head = model.bones["head"]
    np.testing.assert_allclose(turned[head][:3, :3], rotation @ world[head][:3, :3], atol=1e-5)
    # Each bone of the chain turns by the shares up to and including its own, no more.
    done = 0.0
    for node, share, _ in chain:
        done += share
        relative = turned[node][:3, :3] @ np.linalg.inv(world[node][:3, :3])
        angle = math.degrees(math.acos(min((np.trace(relative) - 1) / 2, 1.0)))
        assert angle == pytest.approx(40.0 * done, abs=0.05)
    hips = model.bones["hips"]
    np.testing.assert_allclose(turned[hips], world[hips], atol=1e-6)


def test_godette_renders_with_arms_down(gl, shaders, draw, shared_asset):
    avatar = open_avatar(shared_asset("vrm/Godette_vrm_v4.vrm"), gl, shaders).avatar
    try:
        avatar.set_framing(Framing(zoom=0.35, offset=(0.0, 0.3)))
        body = foreground(draw(avatar, Expression()))
    finally:
        avatar.release()
    rows, columns = np.nonzero(body)
    height = rows.max() - rows.min()
    width = columns.max() - columns.min()
    # In T-pose the arms span about as much as the model is tall; lowered, the shoulders and
    # hands are the widest part, half the height at most.
    assert width < 0.55 * height, f"silhouette {width} wide, {height} high"
