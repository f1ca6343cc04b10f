"""Spring bones on the real Godette (VRM 0.x ``secondaryAnimation``) and a small VRM 1.0
``VRMC_springBone`` chain: settling, following a head turn, colliders, a fixed time step."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from engine.avatar import humanoid
from engine.avatar.gltf import load_model
from engine.avatar.spring_bones import STEP_S, SpringBones

FRAME_S = 1.0 / 30.0


def _godette(shared_asset):
    model = load_model(shared_asset("vrm/Godette_vrm_v4.vrm"))
    return model, humanoid.relaxed_world(model, model.world_matrices())


def _yaw(degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]],
                    np.float32)


def _run(model, rest, springs, yaws, tip: int) -> list[np.ndarray]:
    """World position of ``tip`` after each frame, the head turned by each yaw in turn."""
    chain = humanoid.head_chain(model)
    tips = []
    for degrees in yaws:
        world = rest.copy()
        humanoid.turn_head(world, chain, _yaw(degrees))
        springs.advance(world, FRAME_S)
        tips.append(world[tip][:3, 3].copy())
    return tips


def _joint_direction(world: np.ndarray, joint: int, child: int) -> np.ndarray:
    direction = world[child][:3, 3] - world[joint][:3, 3]
    return direction / np.linalg.norm(direction)


def test_godette_reads_its_spring_groups_and_colliders(shared_asset):
    model, _ = _godette(shared_asset)
    names = {model.nodes[j.node].name for j in model.spring_joints}
    assert {"HairBall_L", "HairBall_R", "HairBall_Center", "FrontHair_L", "Ribbon"} <= names
    assert len(model.spring_joints) == 16 and len(model.spring_colliders) == 4
    ribbon = next(j for j in model.spring_joints if model.nodes[j.node].name == "Ribbon")
    assert ribbon.stiffness == 2.0 and ribbon.drag == pytest.approx(0.4)
    assert ribbon.colliders == (0, 1)  # the chest's collider group


def test_hair_swings_behind_a_head_turn_then_comes_back(shared_asset):
    model, rest = _godette(shared_asset)
    springs = SpringBones(model, rest)
    joint = next(n for n, node in enumerate(model.nodes) if node.name == "HairBall_L")
    tip = model.nodes[joint].children[0]
    yaws = [0.0] * 30 + [30.0] * 120  # still for a second, then a quick turn held for 4 s
    chain = humanoid.head_chain(model)
    frames = []
    for degrees in yaws:
        world = rest.copy()
        humanoid.turn_head(world, chain, _yaw(degrees))
        springs.advance(world, FRAME_S)
        # Where the hair would point if it were rigid with the head:
        rigid = rest.copy()
        humanoid.turn_head(rigid, chain, _yaw(degrees))
        lag = math.degrees(math.acos(np.clip(_joint_direction(world, joint, tip)
                                             @ _joint_direction(rigid, joint, tip), -1, 1)))
        frames.append(lag)
    assert max(frames[:30]) < 0.5, "at rest the hair stays where the model put it"
    assert max(frames[30:40]) > 5.0, "the hair lags behind a quick head turn"
    assert frames[-1] < 0.5, "then it comes back to rest with the head"


def test_spring_bones_settle_under_gravity(shared_asset):
    model, rest = _godette(shared_asset)
    # Godette's own gravity power is 0; give the hair balls some to pull on.
    model.spring_joints = [replace(j, gravity=np.array([0.0, -3.0, 0.0], np.float32))
                           for j in model.spring_joints]
    springs = SpringBones(model, rest)
    tip = next(n for n, node in enumerate(model.nodes) if node.name == "HairBall_Center_End")
    tips = _run(model, rest, springs, [0.0] * 150, tip)
    assert tips[-1][1] < rest[tip][:3, 3][1] - 0.02, "gravity pulls the tail down"
    assert np.linalg.norm(tips[-1] - tips[-2]) < 1e-4, "and it comes to rest"
    # The segment keeps its length while it sags.
    joint = model.nodes[tip].parent
    world = rest.copy()
    springs.advance(world, FRAME_S)
    rest_length = np.linalg.norm(rest[tip][:3, 3] - rest[joint][:3, 3])
    assert np.linalg.norm(world[tip][:3, 3] - world[joint][:3, 3]) == pytest.approx(rest_length, rel=1e-3)


def test_colliders_keep_the_ribbon_out_of_the_chest(shared_asset):
    model, rest = _godette(shared_asset)
    # Push the ribbon hard into the chest (VRM 0.x faces -Z: the chest is at +Z of it).
    model.spring_joints = [replace(j, gravity=np.array([0.0, 0.0, 4.0], np.float32))
                           if model.nodes[j.node].name.startswith("Ribbon") else j
                           for j in model.spring_joints]
    joint = next(n for n, node in enumerate(model.nodes) if node.name == "Ribbon")
    tip = model.nodes[joint].children[0]
    collider = model.spring_colliders[0]
    reach = 0.02 + collider.radius
    centre = (rest[collider.node] @ np.append(collider.offset, 1.0))[:3]
    springs = SpringBones(model, rest)
    tips = _run(model, rest, springs, [0.0] * 90, tip)
    # Putting the tail back at its segment's length may sink it in again by a hair (as in UniVRM).
    assert np.linalg.norm(tips[-1] - centre) >= reach - 2.5e-3
    # Without the colliders the same push takes the tip inside the sphere.
    model.spring_joints = [replace(j, colliders=()) for j in model.spring_joints]
    free = _run(model, rest, SpringBones(model, rest), [0.0] * 90, tip)
    assert np.linalg.norm(free[-1] - centre) < reach - 0.01


def test_fixed_steps_make_runs_repeatable_whatever_the_frame_times(shared_asset):
    model, rest = _godette(shared_asset)
    tip = next(n for n, node in enumerate(model.nodes) if node.name == "FrontHair_L_End")
    yaws = [25.0 * math.sin(k / 6.0) for k in range(60)]
    first = _run(model, rest, SpringBones(model, rest), yaws, tip)
    second = _run(model, rest, SpringBones(model, rest), yaws, tip)
    np.testing.assert_array_equal(np.array(first), np.array(second))
    # Frames of any length advance whole 1/60 s steps; the remainder carries over.
    springs = SpringBones(model, rest)
    world = rest.copy()
    assert [springs.advance(world, 0.025) for _ in range(4)] == [1, 2, 1, 2]
    assert springs.advance(world, 10.0) == 4  # a stall is not caught up
    assert STEP_S == pytest.approx(1 / 60)


def _vrm1_chain(tmp_path) -> str:
    """A minimal VRM 1.0 file: a root, a head and a three-joint chain hanging from it, and a
    sphere collider on the head."""
    nodes = [{"name": "root", "children": [1]},
             {"name": "head", "translation": [0, 1, 0], "children": [2]},
             {"name": "j0", "translation": [0, 0, 0.1], "children": [3]},
             {"name": "j1", "translation": [0, -0.1, 0], "children": [4]},
             {"name": "j2", "translation": [0, -0.1, 0]}]
    joint = {"stiffness": 1.0, "dragForce": 0.5, "gravityPower": 1.0, "gravityDir": [0, -1, 0],
             "hitRadius": 0.01}
    document = {
        "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": nodes,
        "extensionsUsed": ["VRMC_vrm", "VRMC_springBone"],
        "extensions": {
            "VRMC_vrm": {"specVersion": "1.0", "humanoid": {"humanBones": {"head": {"node": 1}}}},
            "VRMC_springBone": {
                "specVersion": "1.0",
                "colliders": [{"node": 1, "shape": {"sphere": {"offset": [0, -0.05, 0], "radius": 0.05}}}],
                "colliderGroups": [{"colliders": [0]}],
                "springs": [{"joints": [{"node": 2, **joint}, {"node": 3, **joint}, {"node": 4}],
                             "colliderGroups": [0]}]}}}
    path = tmp_path / "chain.gltf"
    path.write_text(json.dumps(document))
    return str(path)


def test_vrm1_spring_chain_reads_its_joints_and_hangs_down(tmp_path):
    model = load_model(_vrm1_chain(tmp_path))
    assert [j.node for j in model.spring_joints] == [2, 3]  # the last joint is the tail
    assert model.spring_joints[0].colliders == (0,)
    np.testing.assert_allclose(model.spring_joints[0].tail, [0, -0.1, 0], atol=1e-6)
    rest = model.world_matrices()
    springs = SpringBones(model, rest)
    world = rest.copy()
    for _ in range(60):
        world = rest.copy()
        springs.advance(world, FRAME_S)
    # The tail (node 4, not simulated itself) follows its joint, and stays out of the sphere.
    np.testing.assert_allclose(world[4][:3, 3], (world[3] @ np.array([0, -0.1, 0, 1.0]))[:3], atol=1e-6)
    centre = (world[1] @ np.array([0, -0.05, 0, 1.0]))[:3]
    for node in (3, 4):
        assert np.linalg.norm(world[node][:3, 3] - centre) >= 0.06 - 1e-3


def test_a_broken_spring_extension_names_the_field(tmp_path):
    from engine.errors import AssetError

    path = _vrm1_chain(tmp_path)
    document = json.loads(open(path).read())
    document["extensions"]["VRMC_springBone"]["springs"][0]["joints"][1]["node"] = 99
    open(path, "w").write(json.dumps(document))
    with pytest.raises(AssetError, match=r"VRMC_springBone\.springs\[0\]\.joints\[1\]\.node"):
        load_model(path)


def test_springs_at_rest_sleep_and_a_head_turn_wakes_them(shared_asset):
    """Once the hair has stopped, frames with nothing moved pose the joints as the last step
    left them (no steps run); the first head turn swings the hair exactly as it would have."""
    model, rest = _godette(shared_asset)
    tip = next(n for n, node in enumerate(model.nodes) if node.name == "FrontHair_L_End")
    yaws = [0.0] * 60 + [25.0] * 30
    sleeping = _run(model, rest, SpringBones(model, rest), yaws, tip)
    awake = SpringBones(model, rest)
    awake_tips = []
    for degrees in yaws:  # the same run with the sleep forgotten before every frame
        world = rest.copy()
        humanoid.turn_head(world, humanoid.head_chain(model), _yaw(degrees))
        awake._asleep = None
        awake.advance(world, FRAME_S)
        awake_tips.append(world[tip][:3, 3].copy())
    np.testing.assert_allclose(np.array(sleeping), np.array(awake_tips), atol=1e-5)
    assert np.linalg.norm(sleeping[70] - sleeping[59]) > 0.01  # the turn moved the hair
