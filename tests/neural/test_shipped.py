"""The neural avatar that ships (``avatars/marlow-neural``): our own trained checkpoint, loaded
strictly with the hash its manifest records, animating its synthetic source; it opens through
the kinds registry from the shipped folders, as on a fresh clone."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from engine.neural.kind import SHIPPED_AVATAR
from engine.resources import SearchPath


def _folder():
    return SearchPath().find("avatars", SHIPPED_AVATAR)


def test_the_shipped_checkpoint_loads_strictly_with_its_recorded_hash():
    from engine.neural.checkpoint import LAYOUT, load_checkpoint
    from engine.neural.model import SIZES
    from engine.safety import strict_toml

    folder = _folder()
    manifest = strict_toml.loads((folder / "avatar.toml").read_text(), folder / "avatar.toml")
    path = folder / manifest["checkpoint"]
    assert path.stat().st_size <= 20 << 20
    assert hashlib.sha256(path.read_bytes()).hexdigest() == manifest["checkpoint_sha256"]
    checkpoint = load_checkpoint(path, SIZES[manifest["model"]], manifest["checkpoint_sha256"])
    content = torch.load(path, weights_only=True)
    assert set(LAYOUT) <= set(content) and content["epoch"] == checkpoint.epoch > 0
    assert content["training"]["seed"] == 0 and content["training"]["tps"]
    assert manifest["consent"]["likeness"] == "synthetic"


def test_the_shipped_model_animates_its_source_to_a_finite_picture():
    from engine.avatar.loader import prepare_avatar
    from engine.neural.animator import Animator

    files = prepare_avatar(SHIPPED_AVATAR, use="demo").files
    size = files.model.config.image_size
    assert files.source.shape == (size, size, 3)
    animator = Animator(files.model, "cpu")
    animator.set_source(files.source)
    driving = np.ascontiguousarray(np.roll(files.source, 3, axis=1))  # the face moved right
    kp = animator.motion_keypoints(animator.keypoints(files.source))  # calibration: the source
    kp = animator.motion_keypoints(animator.keypoints(driving))
    picture = animator.render(kp)
    assert picture.shape == (1, 3, size, size) and torch.isfinite(picture).all()
    image = animator.animate(driving)
    assert image.shape == (size, size, 3) and image.std() > 5  # a picture, not a flat square


def test_the_shipped_avatar_opens_through_the_kinds_registry(gl):
    from engine.avatar.loader import load_avatar
    from engine.gl.programs import ShaderLibrary

    shaders = ShaderLibrary(gl.ctx)
    loaded = load_avatar(SHIPPED_AVATAR, gl, shaders, use="demo")
    try:
        assert loaded.manifest.kind.name == "neural"
        assert loaded.needs_camera and loaded.camera_consented  # a synthetic likeness
    finally:
        loaded.release()
        shaders.release()
