"""Avatars whose picture comes from slow inference (neural reenactment, face swap).

A ``WorkerAvatar`` hands each frame's ``AvatarInput`` to ``predict`` on a ``LatestWorker`` and
draws the newest picture it finished, so a model that takes 300 ms a frame never holds the loop:
the avatar then moves at the model's rate while the loop keeps its own. Until the first picture
is ready nothing is drawn (the scene's background shows).

``predict(frame) -> (H, W, 4) uint8`` premultiplied RGBA, top row first, any size: it is
stretched over ``rect`` (x, y, w, h in 0..1 of the frame, y down). The texture is made once per
picture size and rewritten only when a new picture arrives.
"""

from __future__ import annotations

from collections.abc import Callable

import moderngl
import numpy as np

from engine.avatar.base import AvatarInput
from engine.gl.compositor import ScreenPass
from engine.gl.programs import ShaderLibrary
from engine.worker import LatestWorker

Predict = Callable[[AvatarInput], np.ndarray]


class WorkerAvatar:
    def __init__(self, ctx: moderngl.Context, shaders: ShaderLibrary, predict: Predict,
                 rect: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0),
                 name: str = "avatar-inference") -> None:
        self.ctx = ctx
        self.rect = rect
        self._worker: LatestWorker[AvatarInput, np.ndarray] = LatestWorker(predict, name)
        self._pass = ScreenPass(ctx, shaders, "blend.glsl", vertices=6)
        self._texture: moderngl.Texture | None = None
        self._shown: np.ndarray | None = None  # the picture now in the texture

    def render(self, frame: AvatarInput, target: moderngl.Framebuffer) -> None:
        self._worker.submit(frame)
        picture = self._worker.latest()
        if picture is None:
            return
        if picture is not self._shown:
            self._upload(picture)
        target.use()
        ctx = self.ctx
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.enable(moderngl.BLEND)
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        self._texture.use(0)
        x, y, w, h = self.rect
        self._pass.draw(image=0, opacity=1.0, rect=(x, 1.0 - y - h, w, h))
        ctx.disable(moderngl.BLEND)

    def _upload(self, picture: np.ndarray) -> None:
        height, width = picture.shape[:2]
        if self._texture is None or self._texture.size != (width, height):
            if self._texture is not None:
                self._texture.release()
            self._texture = self.ctx.texture((width, height), 4)
            self._texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self._texture.repeat_x = self._texture.repeat_y = False
        self._texture.write(np.ascontiguousarray(picture[::-1]).tobytes())
        self._shown = picture

    @property
    def pictures(self) -> int:
        """How many pictures inference has finished."""
        return self._worker.results

    def release(self) -> None:
        self._worker.close()
        self._pass.release()
        if self._texture is not None:
            self._texture.release()
            self._texture = None
