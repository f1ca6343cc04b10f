"""A minimal real ``Avatar`` for loop tests: a square whose width follows jawOpen and whose colour
is fixed per instance, so tests can tell scenes apart by pixel colour."""

from __future__ import annotations

import moderngl
import numpy as np

from engine.avatar.base import AvatarInput, LoadedAvatar
from engine.types import BLENDSHAPE_INDEX

VERTEX = """#version 330
uniform float half_width;
const vec2 CORNERS[6] = vec2[6](vec2(-1, -1), vec2(1, -1), vec2(-1, 1),
                                vec2(-1, 1), vec2(1, -1), vec2(1, 1));
void main() { gl_Position = vec4(CORNERS[gl_VertexID] * vec2(half_width, 0.5), 0.0, 1.0); }
"""
FRAGMENT = """#version 330
uniform vec3 tint;
out vec4 color;
void main() { color = vec4(tint, 1.0); }
"""


class QuadAvatar:
    def __init__(self, ctx: moderngl.Context, tint: tuple[float, float, float]) -> None:
        self.program = ctx.program(vertex_shader=VERTEX, fragment_shader=FRAGMENT)
        self.vao = ctx.vertex_array(self.program, [])
        self.program["tint"] = tint
        self.released = False

    def render(self, frame: AvatarInput, target: moderngl.Framebuffer) -> None:
        jaw = float(frame.expression.blendshapes[BLENDSHAPE_INDEX["jawOpen"]])
        self.program["half_width"] = 0.2 + 0.6 * jaw
        self.vao.render(moderngl.TRIANGLES, vertices=6)

    def release(self) -> None:
        if not self.released:
            self.vao.release()
            self.program.release()
            self.released = True


def tint_of(image: np.ndarray) -> np.ndarray:
    """The colour at the frame's centre."""
    height, width = image.shape[:2]
    return image[height // 2, width // 2].astype(int)


def quad(ctx: moderngl.Context, tint: tuple[float, float, float]) -> LoadedAvatar:
    """A ``QuadAvatar`` as a scene loader returns it."""
    return LoadedAvatar.of(QuadAvatar(ctx, tint), "quad")
