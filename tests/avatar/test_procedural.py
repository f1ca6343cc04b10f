"""Generated personas: deterministic from a seed, distinct across seeds, all 52 shape keys real."""

from __future__ import annotations

import numpy as np
import pytest

from engine.avatar.gltf import load_model
from engine.avatar.mapping import ExpressionMap
from engine.avatar.procedural import PersonaBuilder, PersonaParams, write_persona
from engine.resources import PROJECT_ROOT
from engine.types import BLENDSHAPE_NAMES, Expression, blendshape_vector

from .pixels import changed, foreground

SHIPPED = ("default", "toon", "anonymous", "juniper", "marlow")


def test_a_seed_gives_the_same_face_and_other_seeds_differ():
    assert PersonaParams.from_seed(5) == PersonaParams.from_seed(5)
    again = PersonaBuilder(PersonaParams.from_seed(5)).skin_positions()
    assert np.array_equal(PersonaBuilder(PersonaParams.from_seed(5)).skin_positions(), again)
    # Different seeds: different proportions (the bounding boxes differ by millimetres or more).
    boxes = [np.ptp(PersonaBuilder(PersonaParams.from_seed(seed)).skin_positions(), axis=0)
             for seed in (1, 2, 3)]
    assert np.abs(boxes[0] - boxes[1]).max() > 1e-3
    assert np.abs(boxes[1] - boxes[2]).max() > 1e-3


def test_unknown_hair_style_is_refused():
    with pytest.raises(ValueError, match="hair_style"):
        PersonaParams.from_seed(1, hair_style="mohawk")


def test_written_persona_loads_with_all_52_keys_driven(tmp_path):
    model_path = write_persona(tmp_path, "mint", PersonaParams.from_seed(1234, hair_style="bob"))
    assert model_path.stat().st_size < 5_000_000
    assert 'likeness = "synthetic"' in (model_path.parent / "avatar.toml").read_text()
    model = load_model(model_path)
    head = next(inst for inst in model.instances if inst.name == "Head")
    assert head.target_names == list(BLENDSHAPE_NAMES)
    assert ExpressionMap(model).undriven_channels() == []
    # Every key moves some vertex, and only a part of the head (no key drags the whole mesh).
    for t, name in enumerate(BLENDSHAPE_NAMES):
        moved = sum(int((np.abs(p.morph_positions[t]).max(axis=1) > 1e-5).sum()) for p in head.primitives)
        total = sum(len(p.positions) for p in head.primitives)
        assert 0 < moved < total * 0.5, name


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_personas_exist_and_are_small(name):
    folder = PROJECT_ROOT / "avatars" / name
    assert (folder / "avatar.toml").is_file()
    assert (folder / f"{name}.glb").stat().st_size < 5_000_000


def test_every_channel_changes_the_default_persona_picture(gl, shaders, draw):
    from engine.avatar.loader import open_avatar

    avatar = open_avatar(PROJECT_ROOT / "avatars" / "default", gl, shaders).avatar
    try:
        neutral = draw(avatar)
        face = foreground(neutral)
        assert face.mean() > 0.15  # the framing fills a good part of the frame with the head
        height = face.shape[0]
        rows = np.flatnonzero(face.any(axis=1))
        top, bottom = rows[0], rows[-1]
        for name in BLENDSHAPE_NAMES:
            frame = draw(avatar, **{name: 1.0})
            assert changed(neutral, frame, threshold=12).sum() >= 3, f"{name} changes nothing"
        # Blink changes the upper face; jawOpen the lower face, and darkens it (the mouth opens).
        blink = changed(neutral, draw(avatar, eyeBlinkLeft=1.0, eyeBlinkRight=1.0))
        jaw_frame = draw(avatar, jawOpen=1.0)
        jaw = changed(neutral, jaw_frame)
        middle = (top + bottom) // 2
        assert blink[:middle].sum() > 5 * max(blink[middle:].sum(), 1)
        ys = np.flatnonzero(jaw.any(axis=1))
        assert ys.mean() > np.flatnonzero(blink.any(axis=1)).mean()
        assert jaw_frame[jaw].mean() < neutral[jaw].mean()
        assert height > 0
        # Gaze without eyeLook channels still turns the eyes.
        assert changed(neutral, draw(avatar, Expression(gaze=np.array([0.4, 0.0])))).sum() > 3
    finally:
        avatar.release()


def test_head_turn_moves_the_head_but_not_the_shoulders(gl, shaders, draw):
    from engine.avatar.loader import open_avatar

    avatar = open_avatar(PROJECT_ROOT / "avatars" / "anonymous", gl, shaders).avatar
    try:
        neutral = draw(avatar)
        angle = 0.4
        turn = np.eye(4, dtype=np.float32)
        turn[0, 0] = turn[2, 2] = np.cos(angle)
        turn[0, 2], turn[2, 0] = np.sin(angle), -np.sin(angle)
        turned = draw(avatar, Expression(blendshapes=blendshape_vector({}), head=turn))
        moved = changed(neutral, turned)
        height = moved.shape[0]
        assert moved[: height // 2].sum() > 200
        assert moved[-6:].sum() < moved[: height // 2].sum() * 0.05  # shoulders stay put
    finally:
        avatar.release()
