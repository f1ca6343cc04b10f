"""Multisample anti-aliasing for an avatar that draws straight over the compositor's layer.

The avatar is drawn into a multisampled buffer of its own (cleared to transparent, with its own
depth), resolved, and the resolved premultiplied picture laid over the layer with the
compositor's blend program: one resolve and one full-screen pass per frame. That is cheap on a
GPU and about 14 + 8 ms at 720p on llvmpipe, so live on llvmpipe it is off unless the avatar
asks for it (``ModelRenderer.antialias``, ``antialias = 4`` in ``avatar.toml``); ``persona bench
render`` prints its cost (``godette_msaa4_ms_p50``). Where a frame's time matters less than its
look it is on by itself (``automatic_samples``): in offline renders (``persona render``,
``persona avatar preview``: inside ``offline()``) and on a real GPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import moderngl

from engine.gl.compositor import ScreenPass
from engine.gl.programs import ShaderLibrary

SAMPLE_COUNTS = (0, 2, 4, 8)  # 0: off
AUTOMATIC_SAMPLES = 4  # offline renders and real GPUs, for avatars that do not choose
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "swiftshader")  # GL_RENDERER, lower case
# Samples for avatars that do not choose, while an offline render runs on this thread (None:
# a live session). A context variable, so a render never changes a live session's frames.
_offline_samples: ContextVar[int | None] = ContextVar("offline_samples", default=None)


@contextmanager
def offline(samples: int = AUTOMATIC_SAMPLES) -> Iterator[None]:
    """Within: frames are rendered offline, with ``samples`` MSAA samples for avatars whose
    ``avatar.toml`` does not choose (0: none, for tests that only check logic)."""
    if samples not in SAMPLE_COUNTS:
        raise ValueError(f"antialias: {samples!r}; expected one of {SAMPLE_COUNTS}")
    token = _offline_samples.set(samples)
    try:
        yield
    finally:
        _offline_samples.reset(token)


def software_renderer(ctx: moderngl.Context) -> bool:
    """True on a CPU rasteriser (Mesa's llvmpipe), where a full-screen pass costs milliseconds."""
    renderer = str(ctx.info.get("GL_RENDERER", "")).lower()
    return any(name in renderer for name in SOFTWARE_RENDERERS)


def automatic_samples(ctx: moderngl.Context) -> int:
    """MSAA samples for an avatar that does not choose: ``offline()``'s in an offline render,
    AUTOMATIC_SAMPLES live on a real GPU, none live on llvmpipe."""
    samples = _offline_samples.get()
    if samples is not None:
        return samples
    return 0 if software_renderer(ctx) else AUTOMATIC_SAMPLES


class MsaaLayer:
    """The multisampled buffers (made on first use and again only when the size changes)."""

    def __init__(self, ctx: moderngl.Context, shaders: ShaderLibrary, samples: int) -> None:
        self.ctx = ctx
        self.asked = samples
        self.samples = min(samples, ctx.info.get("GL_MAX_SAMPLES", samples) or samples)
        self._blend = ScreenPass(ctx, shaders, "blend.glsl", 6)
        self._size: tuple[int, int] | None = None
        self._resources: list = []
        self._msaa: moderngl.Framebuffer | None = None
        self._resolved: moderngl.Framebuffer | None = None
        self._texture: moderngl.Texture | None = None

    def _make(self, size: tuple[int, int]) -> None:
        self._free()
        ctx = self.ctx
        color = ctx.renderbuffer(size, 4, samples=self.samples)
        depth = ctx.depth_renderbuffer(size, samples=self.samples)
        self._msaa = ctx.framebuffer(color, depth)
        self._texture = ctx.texture(size, 4)
        self._texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self._resolved = ctx.framebuffer(self._texture)
        self._resources = [self._msaa, self._resolved, color, depth, self._texture]
        self._size = size

    def begin(self, size: tuple[int, int]) -> moderngl.Framebuffer:
        """The multisampled framebuffer, cleared to transparent, to draw the avatar into."""
        if size != self._size:
            self._make(size)
        self._msaa.use()
        self._msaa.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        return self._msaa

    def finish(self, target: moderngl.Framebuffer) -> None:
        """Resolve and lay the avatar over ``target`` (premultiplied alpha)."""
        self.ctx.copy_framebuffer(self._resolved, self._msaa)
        target.use()
        self.ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        self.ctx.enable(moderngl.BLEND)
        self.ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        self._texture.use(0)
        self._blend.draw(rect=(0.0, 0.0, 1.0, 1.0), image=0, opacity=1.0)
        self.ctx.disable(moderngl.BLEND)

    def _free(self) -> None:
        for resource in self._resources:
            resource.release()
        self._resources = []

    def release(self) -> None:
        self._free()
        self._blend.release()
        self._size = None
