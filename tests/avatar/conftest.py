"""Rendering helpers for the avatar tests: one shader library and compositor per session."""

from __future__ import annotations

import numpy as np
import pytest

from engine.avatar.base import AvatarInput
from engine.types import Expression, blendshape_vector

SIZE = (320, 240)
BACKGROUND = (0.0, 0.0, 1.0)  # pure blue: no model in these tests has it


@pytest.fixture(scope="session")
def shaders(gl):
    from engine.gl.programs import ShaderLibrary

    library = ShaderLibrary(gl.ctx)
    yield library
    library.release()


@pytest.fixture(scope="session")
def draw(gl, shaders):
    """``draw(avatar, **channels)`` → (H, W, 3) uint8 frame, rendered as the engine does."""
    from engine.gl.compositor import Background, Compositor

    compositor = Compositor(gl.ctx, shaders, SIZE)
    layer = compositor.layers[0]
    layer.set_background(Background(color=BACKGROUND))

    def render(avatar, expression: Expression | None = None, **channels: float) -> np.ndarray:
        expression = expression or Expression(blendshapes=blendshape_vector(channels))
        avatar.render(AvatarInput(expression), layer.begin())
        return compositor.finish(layer).copy()

    yield render
    compositor.release()

