"""Morph targets move rendered pixels where the targets say, on real sample models."""

from __future__ import annotations

import numpy as np
import pytest

from engine.avatar.gltf import load_model
from engine.avatar.loader import open_avatar
from engine.avatar.mapping import ExpressionMap
from engine.avatar.renderer import ModelRenderer
from engine.types import Expression
from tests.avatar.conftest import SIZE
from tests.avatar.pixels import changed, foreground

# Unnamed glTF targets are called target0, target1, ...: drive them from two ARKit channels.
TEST_CHANNELS = ("jawOpen", "mouthPucker")


def _project(renderer: ModelRenderer, points: np.ndarray, node: int) -> np.ndarray:
    """(N, 2) pixel positions (x right, y down) of model-space points of ``node``."""
    view, projection = renderer.camera(SIZE)
    world = renderer._root @ renderer.model.world_matrices()[node]
    homogeneous = np.c_[points, np.ones(len(points))] @ (projection @ view @ world).T
    ndc = homogeneous[:, :2] / homogeneous[:, 3:]
    return np.c_[(ndc[:, 0] + 1) / 2 * SIZE[0], (1 - ndc[:, 1]) / 2 * SIZE[1]]


@pytest.mark.parametrize("sample", ["gltf/SimpleMorph/SimpleMorph.gltf",
                                    "gltf/AnimatedMorphCube/AnimatedMorphCube.gltf"])
def test_each_target_moves_pixels_where_its_vertices_move(gl, shaders, draw, shared_asset, sample):
    model = load_model(shared_asset(sample))
    instance = model.instances[0]
    assert len(instance.target_names) == 2
    mapping = ExpressionMap(model, {channel: f"target{t}"
                                    for t, channel in enumerate(TEST_CHANNELS)})
    renderer = ModelRenderer(gl.ctx, shaders, model, mapping)
    renderer.toon = False
    try:
        rest = draw(renderer)
        assert foreground(rest).sum() > 500, "the model should be visible at rest"
        for t, channel in enumerate(TEST_CHANNELS):
            moved = draw(renderer, **{channel: 1.0})
            difference = changed(rest, moved)
            assert difference.sum() > 50, f"target{t} at weight 1 changed nothing"
            primitive = instance.primitives[0]
            deltas = primitive.morph_positions[t]
            # The triangles that touch a moving vertex are what can change on screen.
            triangles = primitive.indices.reshape(-1, 3)
            touched = (np.linalg.norm(deltas, axis=1) > 1e-5)[triangles].any(axis=1)
            moving = np.zeros(len(deltas), bool)
            moving[triangles[touched].ravel()] = True
            before = _project(renderer, primitive.positions[moving], instance.node)
            after = _project(renderer, primitive.positions[moving] + deltas[moving], instance.node)
            points = np.r_[before, after]
            lo, hi = points.min(axis=0) - 12, points.max(axis=0) + 12
            ys, xs = np.nonzero(difference)
            inside = (xs >= lo[0]) & (xs <= hi[0]) & (ys >= lo[1]) & (ys <= hi[1])
            assert inside.mean() > 0.9, f"target{t}: pixels changed away from its vertices"
            # Half the weight moves the silhouette part of the way, not all or nothing.
            half = changed(rest, draw(renderer, **{channel: 0.5})).sum()
            assert 0 < half < difference.sum() * 1.2
    finally:
        renderer.release()


def test_avatar_draws_over_the_background_without_clearing_it(gl, shaders, draw, shared_asset):
    avatar = open_avatar(shared_asset("gltf/AnimatedMorphCube/AnimatedMorphCube.gltf"), gl,
                         shaders).avatar
    try:
        frame = draw(avatar)
    finally:
        avatar.release()
    mask = foreground(frame)
    assert 0.02 < mask.mean() < 0.9
    assert (frame[0, 0] == (0, 0, 255)).all() and (frame[-1, -1] == (0, 0, 255)).all()


def _centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def test_godette_blink_and_aa_change_the_eyes_and_the_mouth(gl, shaders, draw, shared_asset):
    avatar = open_avatar(shared_asset("vrm/Godette_vrm_v4.vrm"), gl, shaders).avatar
    try:
        neutral = draw(avatar)
        blink = changed(neutral, draw(avatar, eyeBlinkLeft=1.0, eyeBlinkRight=1.0))
        aa = changed(neutral, draw(avatar, jawOpen=1.0))
        both = changed(neutral, draw(avatar, eyeBlinkLeft=1.0, eyeBlinkRight=1.0, jawOpen=1.0))
    finally:
        avatar.release()
    assert blink.sum() > 20 and aa.sum() > 5
    eyes, mouth = _centroid(blink), _centroid(aa)
    assert eyes[1] < mouth[1] - 5, "the blink should change pixels above the mouth"
    middle = SIZE[0] / 2
    assert abs(mouth[0] - middle) < 12, "the mouth opens in the middle of the face"
    ys, xs = np.nonzero(blink)
    assert (xs < middle - 3).sum() > 5 and (xs > middle + 3).sum() > 5, "both eyes close"
    assert ys.max() < mouth[1], "a blink leaves the mouth alone"
    assert (both & ~(blink | aa)).sum() < 0.1 * both.sum(), "blink + aa is the two together"


def test_head_rotation_and_gaze_move_the_picture(gl, shaders, draw, shared_asset):
    avatar = open_avatar(shared_asset("vrm/Godette_vrm_v4.vrm"), gl, shaders).avatar
    turned = np.eye(4, dtype=np.float32)
    angle = np.radians(30)
    turned[:3, :3] = [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0],
                      [-np.sin(angle), 0, np.cos(angle)]]
    try:
        neutral = draw(avatar)
        turned_frame = draw(avatar, Expression(head=turned))
        head = changed(neutral, turned_frame)
        gaze = changed(neutral, draw(avatar, Expression(gaze=np.array([0.4, 0.0], np.float32))))
    finally:
        avatar.release()
    assert head.sum() > 500
    assert gaze.sum() > 5
    # The turn is shared down the neck and spine (engine.avatar.humanoid.HEAD_SHARE): the
    # body at the bottom of the frame moves a little, far less than the head. Compared by
    # outline: MToon's narrow shade band moves across the shoulders with a slight turn.
    moved = foreground(neutral) ^ foreground(turned_frame)
    assert moved[-10:].mean() < 0.25 * moved[: len(moved) // 2].mean()


def test_framing_zoom_makes_the_head_larger(gl, shaders, draw, shared_asset):
    from engine.scenes import Framing

    avatar = open_avatar(shared_asset("vrm/Godette_vrm_v4.vrm"), gl, shaders).avatar
    try:
        normal = foreground(draw(avatar)).sum()
        avatar.set_framing(Framing(zoom=1.5))
        zoomed = foreground(draw(avatar)).sum()
    finally:
        avatar.release()
    assert zoomed > normal * 1.3


def _red(frame: np.ndarray) -> int:
    r, g, b = (frame[..., c].astype(np.int16) for c in range(3))
    return int(((r > 150) & (g < 90) & (b < 90)).sum())


def _green(frame: np.ndarray) -> int:
    r, g, b = (frame[..., c].astype(np.int16) for c in range(3))
    return int(((g > 90) & (r < 80) & (b < 60)).sum())


@pytest.mark.parametrize("sample", ["vrm/VRMC_vrm_expressions_isBinary_Overrides.vrm",
                                    "vrm/VRMC_vrm_expressions_isBinary_Overridden.vrm"])
def test_vrm_validation_models_show_green(gl, shaders, draw, shared_asset, sample):
    """These models turn red (or show crosses) when isBinary/override rules are wrong; their
    expressions move texture transforms, so this checks the binds are drawn too."""
    avatar = open_avatar(shared_asset(sample), gl, shaders).avatar
    try:
        for happy, blink in ((0.0, 0.0), (0.3, 1.0), (0.6, 1.0), (1.0, 0.0), (0.0, 1.0)):
            # happy is driven by the raised cheeks (engine.avatar.mapping.DEFAULT_VRM_SOURCES)
            frame = draw(avatar, cheekSquintLeft=happy, cheekSquintRight=happy,
                         eyeBlinkLeft=blink, eyeBlinkRight=blink)
            assert _green(frame) > 2000, f"happy {happy}, blink {blink}: no green check panel"
            assert _red(frame) < 20, f"happy {happy}, blink {blink}: red means a wrong rule"
        # The check can fail: without the override rules, happy no longer hides the blink.
        avatar.mapping._overrides = []
        frame = draw(avatar, cheekSquintLeft=0.6, cheekSquintRight=0.6,
                     eyeBlinkLeft=1.0, eyeBlinkRight=1.0)
        assert _red(frame) > 200
    finally:
        avatar.release()
