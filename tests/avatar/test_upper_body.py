"""Tracked arms on the VRM humanoid (engine/avatar/humanoid.py, engine/tracking/pose.py):
MediaPipe-style world landmarks → ``Expression.arms`` → Godette's skinned hands where the
landmarks put them, her shoulders shrugging and her hands turning as the performer's do;
visibility loss eases to the rest pose; the scene field that enables it and the upper-body shot
that shows it."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from engine.avatar import humanoid
from engine.avatar.gltf import load_model
from engine.scenes import SceneError, parse_scene
from engine.tracking.pose import (EASE_S, FOREARM, REST, REST_ACROSS, SHOULDER, SHRUG_DEAD_M,
                                  SHRUG_DEG, SHRUG_FULL_M, TWIST_LIMIT_DEG, UPPER_ARM, ArmFollower,
                                  arm_angles, arm_landmarks, segment_directions, swing)

GODETTE = "vrm/Godette_vrm_v4.vrm"
FPS = 30.0
SHOULDER_X, SHOULDER_Y = 0.18, -0.45  # MediaPipe world axes: metres, x to the image's right, y down


TOWARDS_CAMERA = np.array([0.0, 0.0, -1.0])  # MediaPipe's -z: the body's front


def _performer(left: tuple[np.ndarray, np.ndarray], right: tuple[np.ndarray, np.ndarray],
               visibility: float = 1.0, raised: tuple[float, float] = (0.0, 0.0),
               across: tuple[np.ndarray, np.ndarray] = (TOWARDS_CAMERA, TOWARDS_CAMERA),
               ear_tilt: float = 0.0):
    """33 MediaPipe world landmarks with the arms given as (upper arm, forearm) offsets in
    MediaPipe's axes; the performer's left shoulder is at +x (the image's right). ``raised``:
    metres each shoulder is lifted (a shrug); ``across``: each hand's knuckle line (index minus
    little finger; towards the camera is the rest pose's, palms to the thighs); ``ear_tilt``:
    metres the left ear is lower and the right higher (the head tilted)."""
    world = np.zeros((33, 3))
    for (shoulder, elbow, wrist, index, little, ear), sign, (upper, forearm), lift, line, tilt in (
            ((11, 13, 15, 19, 17, 7), 1.0, left, raised[0], across[0], ear_tilt),
            ((12, 14, 16, 20, 18, 8), -1.0, right, raised[1], across[1], -ear_tilt)):
        world[shoulder] = (sign * SHOULDER_X, SHOULDER_Y - lift, 0.0)
        world[elbow] = world[shoulder] + upper
        world[wrist] = world[elbow] + forearm
        knuckles = world[wrist] + 0.06 * forearm / np.linalg.norm(forearm)
        world[index], world[little] = knuckles + 0.02 * line, knuckles - 0.02 * line
        world[ear] = (sign * 0.07, SHOULDER_Y - 0.17 + tilt, 0.02)
    return arm_landmarks(world, np.full(33, visibility), np.zeros((33, 2)))


DOWN = (np.array([0.0, 0.28, 0.0]), np.array([0.0, 0.25, 0.0]))
LEFT_OUT = (np.array([0.28, 0.0, 0.0]), np.array([0.25, 0.0, 0.0]))  # towards the image's right
RIGHT_OUT = (np.array([-0.28, 0.0, 0.0]), np.array([-0.25, 0.0, 0.0]))
# Upper arm down, forearm forward towards the camera (MediaPipe -z), as when typing.
RIGHT_TYPING = (np.array([0.0, 0.28, 0.0]), np.array([0.0, 0.0, -0.25]))


def _follow(landmarks, seconds: float = 1.5, follower: ArmFollower | None = None,
            start: float = 0.0):
    follower = follower or ArmFollower()
    for k in range(int(seconds * FPS)):
        arms = follower.update(landmarks, start + k / FPS)
    return follower, arms


@pytest.fixture(scope="module")
def godette(shared_asset):
    model = load_model(shared_asset(GODETTE))
    return model, humanoid.relaxed_world(model, model.world_matrices())


def _skinned_joint(model, world: np.ndarray, node: int) -> np.ndarray:
    """Where the skin puts ``node``'s joint: its joint matrix applied to its bind position."""
    for instance in model.instances:
        if instance.skin is not None and node in instance.skin.joints:
            j = list(instance.skin.joints).index(node)
            inverse_bind = instance.skin.inverse_binds[j]
            bind_position = np.linalg.inv(inverse_bind)[:, 3]
            return (world[node] @ inverse_bind @ bind_position)[:3]
    raise AssertionError(f"node {node} drives no skin")


def test_the_rest_directions_are_godettes_relaxed_arms(godette):
    model, relaxed = godette
    to_body = humanoid.body_to_model(model).T
    for side, name in enumerate(humanoid.SIDES):
        upper, lower, hand = (model.bones[f"{name}{b}"] for b in ("UpperArm", "LowerArm", "Hand"))
        for segment, (a, b) in enumerate(((upper, lower), (lower, hand))):
            direction = to_body @ (relaxed[b][:3, 3] - relaxed[a][:3, 3])
            direction /= np.linalg.norm(direction)
            off = math.degrees(math.acos(min(1.0, float(direction @ REST[side, segment]))))
            assert off < 2.0, f"{name} segment {segment} is {off:.2f} degrees off the rest"


@pytest.mark.parametrize("pose", ["down", "out", "typing"])
def test_the_hands_end_where_the_landmarks_say(godette, pose):
    model, relaxed = godette
    landmarks = {"down": _performer(DOWN, DOWN), "out": _performer(LEFT_OUT, RIGHT_OUT),
                 "typing": _performer(DOWN, RIGHT_TYPING)}[pose]
    _, arms = _follow(landmarks)
    world = relaxed.copy()
    humanoid.pose_arms(world, humanoid.arm_rig(model), arms)
    to_model = humanoid.body_to_model(model)
    directions = segment_directions(landmarks.points)  # body frame
    for side, name in enumerate(humanoid.SIDES):
        upper, lower, hand = (model.bones[f"{name}{b}"] for b in ("UpperArm", "LowerArm", "Hand"))
        upper_length = np.linalg.norm(relaxed[lower][:3, 3] - relaxed[upper][:3, 3])
        forearm_length = np.linalg.norm(relaxed[hand][:3, 3] - relaxed[lower][:3, 3])
        shoulder = world[upper][:3, 3]
        np.testing.assert_allclose(shoulder, relaxed[upper][:3, 3], atol=1e-6)  # it turns in place
        expected = shoulder + to_model @ (upper_length * directions[side, 0]
                                          + forearm_length * directions[side, 1])
        skinned = _skinned_joint(model, world, hand)
        assert np.linalg.norm(skinned - expected) < 0.01, f"{name} hand misses by " \
            f"{np.linalg.norm(skinned - expected) * 100:.1f} cm"
    hands = [to_model.T @ (world[model.bones[f"{n}Hand"]][:3, 3] - world[model.bones[f"{n}UpperArm"]][:3, 3])
             for n in humanoid.SIDES]
    if pose == "out":  # the performer's left arm out to their left: the avatar's left, at +x
        assert hands[0][0] > 0.3 and hands[1][0] < -0.3
        assert abs(hands[0][1]) < 0.05 and abs(hands[1][1]) < 0.05
    if pose == "typing":  # the right hand in front of the avatar, the left hanging
        assert hands[1][2] > 0.1 and abs(hands[0][2]) < 0.03


def test_identity_is_the_rest_pose_and_armless_models_ignore_arms(godette, shared_asset):
    model, relaxed = godette
    world = relaxed.copy()
    identity = np.tile(np.array([0.0, 0.0, 0.0, 1.0], np.float32), (2, 3, 1))
    humanoid.pose_arms(world, humanoid.arm_rig(model), identity)
    np.testing.assert_allclose(world, relaxed, atol=1e-6)
    cube = load_model(shared_asset("gltf/AnimatedMorphCube/AnimatedMorphCube.gltf"))
    rig = humanoid.arm_rig(cube)
    assert rig.sides == (None, None)
    cube_world = cube.world_matrices()
    before = cube_world.copy()
    humanoid.pose_arms(cube_world, rig, _follow(_performer(LEFT_OUT, RIGHT_OUT))[1])
    np.testing.assert_array_equal(cube_world, before)


def test_lost_visibility_eases_to_rest_without_snapping_or_freezing():
    follower, arms = _follow(_performer(LEFT_OUT, RIGHT_OUT))
    start = arm_angles(arms)[:, :SHOULDER]
    assert np.all(start > 60.0), start  # out sideways: 70 degrees up from the rest pose
    # The arms leave the frame: MediaPipe's guesses swing wildly and their visibility is low.
    rng = np.random.default_rng(3)
    angles = [start]
    for k in range(int(1.5 * FPS)):
        wild = (rng.normal(0, 0.3, 3), rng.normal(0, 0.3, 3))
        arms = follower.update(_performer(wild, wild, visibility=0.1), 1.5 + k / FPS)
        angles.append(arm_angles(arms)[:, :SHOULDER])
    angles = np.array(angles)
    steps = np.abs(np.diff(angles, axis=0))
    assert steps.max() < 8.0, f"a {steps.max():.1f} degree jump in one frame"
    assert np.all(np.diff(angles, axis=0) <= 1e-3), "easing to rest only, never back out"
    settled = int(EASE_S * FPS) + 2
    assert np.all(angles[settled:] < 1e-3), "at rest once the ease is over"
    assert np.all(angles[settled // 2] > 10.0), "still on its way half-way through"
    # Nobody in the frame at all: the same ease; and back in view: eased in again, not snapped.
    follower, _ = _follow(_performer(LEFT_OUT, RIGHT_OUT))
    back = [arm_angles(follower.update(None, 1.5 + k / FPS)) for k in range(int(FPS))]
    assert back[-1].max() < 1e-3 and np.abs(np.diff(back, axis=0)).max() < 8.0
    returning = [arm_angles(follower.update(_performer(LEFT_OUT, RIGHT_OUT), 2.5 + k / FPS))
                 for k in range(int(FPS))]
    assert np.abs(np.diff(returning, axis=0)).max() < 8.0
    assert returning[-1][:, :SHOULDER].min() > 60.0


def test_a_partly_visible_arm_follows_only_what_is_seen():
    landmarks = _performer(LEFT_OUT, LEFT_OUT)
    visibility = np.ones((2, 3))
    visibility[:, 2] = 0.1  # wrists out of the frame
    landmarks = dataclasses.replace(landmarks, visibility=visibility)
    follower, arms = _follow(landmarks)
    np.testing.assert_allclose(follower.weights[:, UPPER_ARM], 1.0)
    np.testing.assert_allclose(follower.weights[:, FOREARM], 0.0)
    assert np.all(arm_angles(arms)[:, FOREARM] < 1e-3)


def test_godette_draws_the_tracked_arms(gl, shaders, draw, shared_asset):
    """Through the renderer on real GL: arms out sideways widen the silhouette to about the
    model's height (the span of a T), the rest pose keeps it narrow; the performer's left arm
    raised alone widens only the avatar's left, which the viewer sees on the right."""
    from engine.avatar.loader import open_avatar
    from engine.scenes import Framing
    from engine.types import Expression
    from tests.avatar.pixels import foreground

    avatar = open_avatar(shared_asset(GODETTE), gl, shaders).avatar
    try:
        avatar.set_framing(Framing(zoom=0.35, offset=(0.0, 0.3)))
        shapes = {}
        for name, landmarks in (("rest", _performer(DOWN, DOWN)),
                                ("out", _performer(LEFT_OUT, RIGHT_OUT)),
                                ("left", _performer(LEFT_OUT, DOWN))):
            shapes[name] = foreground(draw(avatar, Expression(arms=_follow(landmarks)[1])))
    finally:
        avatar.release()

    def extent(mask: np.ndarray) -> tuple[int, int, int, int]:
        rows, columns = np.nonzero(mask)
        return rows.min(), rows.max(), columns.min(), columns.max()

    top, bottom, left, right = extent(shapes["rest"])
    height = bottom - top
    assert right - left < 0.55 * height
    _, _, out_left, out_right = extent(shapes["out"])
    assert out_right - out_left > 0.8 * height
    _, _, one_left, one_right = extent(shapes["left"])
    centre = (left + right) / 2
    assert one_right - centre > 0.35 * height and centre - one_left < 0.3 * height


def _scene(text: str):
    return parse_scene(__import__("pathlib").Path("scenes/arms.toml"), 'avatar = "godette"\n' + text)


def test_the_scene_field_enables_it_and_is_checked():
    assert _scene("").upper_body is False
    assert _scene("upper_body = true\n").upper_body is True
    with pytest.raises(SceneError) as error:
        _scene('upper_body = "yes"\n')
    assert str(error.value) == "scenes/arms.toml:2: upper_body: must be true or false, got 'yes'"
    with pytest.raises(SceneError, match="upper_bdy.*did you mean 'upper_body'"):
        _scene("upper_bdy = true\n")


def test_a_scene_that_follows_the_arms_frames_the_upper_body():
    assert _scene("").framing.shot == "head"
    assert _scene("upper_body = true\n").framing.shot == "upper_body"
    assert _scene('upper_body = true\n[framing]\nshot = "head"\n').framing.shot == "head"
    assert _scene('[framing]\nshot = "upper_body"\n').framing.shot == "upper_body"
    with pytest.raises(SceneError) as error:
        _scene('upper_body = true\n[framing]\nshot = "upperbody"\n')
    assert str(error.value) == ("scenes/arms.toml:4: framing.shot: unknown shot 'upperbody'; "
                                "did you mean 'upper_body'? (use head or upper_body)")


def _in_frame(avatar, size: tuple[int, int], bone: str) -> np.ndarray:
    """Where ``bone`` of the relaxed rest pose lands, in normalised device coordinates."""
    flip = np.diag([-1.0, 1.0, -1.0, 1.0]) if avatar.model.faces_minus_z else np.eye(4)
    view, projection = avatar.camera(size)
    clip = projection @ view @ flip @ avatar.rest_world[avatar.model.bones[bone]][:, 3]
    return clip[:2] / clip[3]


def test_the_upper_body_shot_shows_the_hands_at_rest(gl, shaders, draw, shared_asset):
    """Godette's hands hang at her thighs: below the head shot's frame, inside the upper-body
    shot's, with her head still in it. A persona without a humanoid body keeps its head shot."""
    from engine.avatar.loader import open_avatar
    from engine.scenes import Framing
    from engine.types import Expression

    size = (640, 360)
    godette = open_avatar(shared_asset(GODETTE), gl, shaders).avatar
    persona = open_avatar("default", gl, shaders).avatar
    try:
        godette.set_framing(Framing(shot="head"))
        assert all(_in_frame(godette, size, hand)[1] < -1.0 for hand in ("leftHand", "rightHand"))
        godette.set_framing(Framing(shot="upper_body"))
        for bone in ("leftHand", "rightHand", "head"):
            assert np.all(np.abs(_in_frame(godette, size, bone)) < 0.95), bone
        pictures = []
        for shot in ("head", "upper_body"):
            persona.set_framing(Framing(shot=shot))
            pictures.append(draw(persona, Expression()).copy())
        np.testing.assert_array_equal(pictures[0], pictures[1])
    finally:
        godette.release()
        persona.release()


def _knuckle_line(model, world: np.ndarray, side: str) -> np.ndarray:
    """Godette's knuckle line (index minus little finger) across her forearm, body frame, unit."""
    to_body = humanoid.body_to_model(model).T
    bones = model.bones
    forearm = to_body @ (world[bones[f"{side}Hand"]][:3, 3] - world[bones[f"{side}LowerArm"]][:3, 3])
    forearm /= np.linalg.norm(forearm)
    line = to_body @ (world[bones[f"{side}IndexProximal"]][:3, 3]
                      - world[bones[f"{side}LittleProximal"]][:3, 3])
    line -= (line @ forearm) * forearm
    return line / np.linalg.norm(line)


def _degrees(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(min(1.0, max(-1.0, float(a @ b) / np.linalg.norm(a) / np.linalg.norm(b)))))


def test_godettes_relaxed_hands_have_the_rest_knuckle_line(godette):
    """The twist is measured from rest_hand_across: it must be where a VRM's hands rest."""
    model, relaxed = godette
    for side, name in enumerate(humanoid.SIDES):
        assert _degrees(_knuckle_line(model, relaxed, name), REST_ACROSS[side]) < 5.0


def test_a_hand_turned_palm_forward_turns_godettes_hand(godette):
    """Arms hanging, the performer's left palm turned to face the camera (its knuckle line now
    points out to the left): the avatar's left hand turns the same way, shared between forearm
    and hand, and stays where it was; the right hand, palm to the thigh, does not turn."""
    model, relaxed = godette
    outward = np.array([1.0, 0.0, 0.0])  # MediaPipe +x: the performer's left
    landmarks = _performer(DOWN, DOWN, across=(outward, TOWARDS_CAMERA))
    _, arms = _follow(landmarks)
    world = relaxed.copy()
    humanoid.pose_arms(world, humanoid.arm_rig(model), arms)
    assert _degrees(_knuckle_line(model, world, "left"), np.array([1.0, 0.0, 0.0])) < 10.0
    assert _degrees(_knuckle_line(model, world, "right"), np.array([0.0, 0.0, 1.0])) < 5.0
    # Half the turn is the forearm's: its own bones' frame turned about 45 degrees.
    lower = model.bones["leftLowerArm"]
    turned = world[lower][:3, :3] @ np.linalg.inv(relaxed[lower][:3, :3])
    assert 35.0 < math.degrees(math.acos((np.trace(turned) - 1) / 2)) < 55.0
    hand = model.bones["leftHand"]
    untwisted = relaxed.copy()
    humanoid.pose_arms(untwisted, humanoid.arm_rig(model), _follow(_performer(DOWN, DOWN))[1])
    np.testing.assert_allclose(world[hand][:3, 3], untwisted[hand][:3, 3], atol=1e-4)


def test_a_twist_is_bounded_and_a_knuckle_line_along_the_forearm_is_not_read():
    from engine.tracking.pose import readable_knuckles, twist_angles

    down = np.array([[0.0, -1.0, 0.0], [0.0, -1.0, 0.0]])  # body frame
    backwards = np.array([[0.0, 0.0, -1.0], [0.0, 0.0, -1.0]])  # half a turn from the rest
    assert readable_knuckles(down, backwards).all()
    swings = swing(REST[:, FOREARM], down)
    np.testing.assert_allclose(np.abs(np.degrees(twist_angles(down, backwards, swings))),
                               TWIST_LIMIT_DEG)
    assert not readable_knuckles(down, down).any() and not readable_knuckles(down, 0 * down).any()
    along = np.array([0.0, 1.0, 0.0])  # down the hanging forearm: no twist to read
    _, arms = _follow(_performer(DOWN, DOWN, across=(along, along)))
    swung = swing(REST[:, FOREARM], segment_directions(_performer(DOWN, DOWN).points)[:, 1])
    np.testing.assert_allclose(arms[:, FOREARM], swung, atol=1e-6)  # the swing alone


def test_a_shrug_lifts_the_shoulders_and_a_tilted_head_does_not(godette):
    follower, hanging = _follow(_performer(DOWN, DOWN), seconds=1.0)
    assert np.all(arm_angles(hanging)[:, SHOULDER] < 1e-3)
    raised = 0.04
    follower, arms = _follow(_performer(DOWN, DOWN, raised=(raised, raised)), seconds=1.0,
                             follower=follower, start=1.0)
    expected = SHRUG_DEG * (raised - SHRUG_DEAD_M) / (SHRUG_FULL_M - SHRUG_DEAD_M)
    np.testing.assert_allclose(arm_angles(arms)[:, SHOULDER], expected, atol=2.0)
    np.testing.assert_allclose(arms[:, :SHOULDER], hanging[:, :SHOULDER], atol=1e-3)  # still down
    # Held: the relaxed height sinks slowly; after 3.5 s most of the shrug is still there.
    follower, held = _follow(_performer(DOWN, DOWN, raised=(raised, raised)), seconds=2.5,
                             follower=follower, start=2.0)
    assert np.all(arm_angles(held)[:, SHOULDER] > 0.75 * expected)
    assert np.all(arm_angles(held)[:, SHOULDER] < arm_angles(arms)[:, SHOULDER])
    # Through Godette: the shoulder joints rise and carry the arms, which still hang down.
    model, relaxed = godette
    rig = humanoid.arm_rig(model)
    shrugged, unshrugged = relaxed.copy(), relaxed.copy()
    humanoid.pose_arms(shrugged, rig, arms)
    humanoid.pose_arms(unshrugged, rig, hanging)
    to_body = humanoid.body_to_model(model).T
    for name in humanoid.SIDES:
        upper, hand = model.bones[f"{name}UpperArm"], model.bones[f"{name}Hand"]
        lift = to_body @ (shrugged[upper][:3, 3] - unshrugged[upper][:3, 3])
        assert lift[1] > 0.01, f"{name} shoulder joint rose {lift[1] * 100:.1f} cm"
        np.testing.assert_allclose(shrugged[hand][:3, 3] - shrugged[upper][:3, 3],
                                   unshrugged[hand][:3, 3] - unshrugged[upper][:3, 3], atol=1e-4)
    # Let go: back to rest; a head tilted to one side moves the ears, not their midpoint.
    follower, arms = _follow(_performer(DOWN, DOWN), seconds=1.0, follower=follower, start=4.5)
    assert np.all(arm_angles(arms)[:, SHOULDER] < 1.0)
    _, arms = _follow(_performer(DOWN, DOWN, ear_tilt=0.03), seconds=1.0, follower=follower,
                      start=5.5)
    assert np.all(arm_angles(arms)[:, SHOULDER] < 1.0)
