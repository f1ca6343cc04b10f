"""The compositor: from a scene's background and avatar to the one frame every output receives.

Per frame::

    layer.begin()                  clear to the background colour (or write a picture into it)
    avatar.render(expr, layer.fbo) draws over it with ordinary alpha blending
    finish:
      [outgoing layer, crossfade]  only while scenes are switching: one blended full-screen pass
      badge                        a small blended quad
      one RGBA readback            waits for the driver's drawing (llvmpipe: its raster threads)
                                   → flip + drop alpha into the reused RGB frame (OpenCV, SIMD)
      watermark                    saturating add of a precomputed pattern (OpenCV, SIMD)

Every full-screen pass costs 5–10 ms at 720p on llvmpipe, so the common frame has none: the
background is a clear, or a frame-sized picture (a background image, the camera backdrop, the
"be right back" card) written straight into the layer's colour texture (1–3 ms: a copy, no
shading); the avatar covers only its own pixels, and the readback/flip/watermark run as
vectorised CPU operations on the one copy that has to come back anyway. The preview window
shows the same pixels plus the HUD (``engine.output.window``), so the HUD can never reach the
virtual camera or a recording.

Every framebuffer and texture is made in ``__init__`` or on a scene change; a frame only binds,
sets uniforms and draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import moderngl
import numpy as np

from engine.gl.programs import ShaderLibrary


@dataclass
class Background:
    """A scene's backdrop: a flat colour, or an image (optionally blurred)."""

    color: tuple[float, float, float] = (0.12, 0.14, 0.18)
    image: np.ndarray | None = None  # (H, W, 3) uint8 RGB, top row first
    blur: float = 0.0  # 0 sharp, 4–6 soft: a Gaussian of 2^(blur − 1) px at 720p


def layer_pixels(image: np.ndarray, size: tuple[int, int],
                 out: np.ndarray | None = None) -> np.ndarray:
    """A top-row-first RGB/RGBA uint8 image as a layer's pixels: ``size``, RGBA, bottom row
    first (GL's order), ready for ``SceneLayer.begin``. Scaled bilinearly (the pictures written
    this way are smooth: a blurred room, a card); written into ``out`` when given."""
    width, height = size
    if out is None:
        out = np.empty((height, width, 4), np.uint8)
    if image.shape[0] * image.shape[1] < width * height:
        # A smaller picture (the 256x144 camera backdrop) is converted and flipped at its own
        # size, so the frame-sized work is the one resize, straight into ``out``.
        if image.shape[2] == 3:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2RGBA)
        return cv2.resize(cv2.flip(image, 0), size, dst=out, interpolation=cv2.INTER_LINEAR)
    if image.shape[1] != width or image.shape[0] != height:
        image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    if image.shape[2] == 3:
        cv2.cvtColor(image, cv2.COLOR_RGB2RGBA, dst=out)
    else:
        out[:] = image
    return cv2.flip(out, 0, dst=out)  # in place: no frame-sized temporary per camera frame


def background_pixels(background: Background, size: tuple[int, int]) -> np.ndarray | None:
    """The background image cover-fitted to ``size`` and blurred, as layer pixels; None for a
    flat colour."""
    if background.image is None:
        return None
    height, width = background.image.shape[:2]
    x, y, w, h = cover_fit((width, height), size)
    crop = background.image[int(round((1 - y - h) * height)):int(round((1 - y) * height)),
                            int(round(x * width)):int(round((x + w) * width))]
    fitted = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    if background.blur > 0:
        sigma = 2.0 ** (background.blur - 1) * size[1] / 720
        fitted = cv2.GaussianBlur(fitted, (0, 0), sigma)
    return layer_pixels(fitted, size)


@dataclass
class Overlay:
    """An RGBA picture laid over the output, placed in image coordinates (y down, 0..1)."""

    rgba: np.ndarray  # (h, w, 4) uint8, premultiplied, top row first
    rect: tuple[float, float, float, float]  # x, y, w, h as fractions of the frame


def cover_fit(image_size: tuple[int, int], frame_size: tuple[int, int]) -> tuple[float, ...]:
    """The uv sub-rectangle (offset x, y, scale x, y) of an image that fills the frame without
    stretching, cropping the longer side evenly."""
    image_aspect = image_size[0] / image_size[1]
    frame_aspect = frame_size[0] / frame_size[1]
    if image_aspect > frame_aspect:
        scale = frame_aspect / image_aspect
        return ((1 - scale) / 2, 0.0, scale, 1.0)
    scale = image_aspect / frame_aspect
    return (0.0, (1 - scale) / 2, 1.0, scale)


def texture_from_image(ctx: moderngl.Context, image: np.ndarray,
                       mipmaps: bool = False) -> moderngl.Texture:
    """A texture of a top-row-first RGB/RGBA uint8 image, stored bottom row first as GL expects."""
    height, width, components = image.shape
    texture = ctx.texture((width, height), components, np.ascontiguousarray(image[::-1]).tobytes())
    texture.repeat_x = texture.repeat_y = False  # clamp: edges must not bleed across
    if mipmaps:
        texture.build_mipmaps()
        texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
    else:
        texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
    return texture


class ScreenPass:
    """Draws a program whose vertex stage makes its own positions from gl_VertexID (a full-screen
    triangle, a rectangle), so it needs no vertex buffer. The empty vertex array is made once per
    program, and again only after that program is hot-reloaded."""

    def __init__(self, ctx: moderngl.Context, shaders: ShaderLibrary, name: str,
                 vertices: int) -> None:
        self.ctx, self.shaders, self.name, self.vertices = ctx, shaders, name, vertices
        self._program: moderngl.Program | None = None
        self._vao: moderngl.VertexArray | None = None

    @property
    def program(self) -> moderngl.Program:
        program = self.shaders.get(self.name)
        if program is not self._program:
            if self._vao is not None:
                self._vao.release()
            self._program, self._vao = program, self.ctx.vertex_array(program, [])
        return program

    def draw(self, **uniforms: object) -> None:
        program = self.program
        for name, value in uniforms.items():
            program[name] = value
        self._vao.render(moderngl.TRIANGLES, vertices=self.vertices)

    def release(self) -> None:
        if self._vao is not None:
            self._vao.release()
            self._vao = None


class SceneLayer:
    """The framebuffer one scene is drawn into: RGBA colour texture and depth."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int]) -> None:
        self.ctx = ctx
        self.size = size
        self.color = ctx.texture(size, 4)
        self.color.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.depth = ctx.depth_renderbuffer(size)
        self.fbo = ctx.framebuffer([self.color], self.depth)
        self.flat = ctx.framebuffer([self.color])  # the colour alone: compositing, readback
        self.background = Background()
        self.transparent = False  # cleared to transparent black: the avatar's alpha survives
        self._background_pixels: np.ndarray | None = None

    def set_background(self, background: Background) -> None:
        """A new background; done on scene changes, never per frame."""
        self.background = background
        self._background_pixels = background_pixels(background, self.size)

    def begin(self, picture: np.ndarray | None = None, depth: bool = True) -> moderngl.Framebuffer:
        """Fill the layer with the background — or with ``picture``, layer pixels that change
        per frame (``layer_pixels``: a camera backdrop, the "be right back" card) — and return
        it for the avatar to draw over: with a cleared depth buffer, or for an avatar that draws
        without one (``Avatar.uses_depth``) the colour alone, which spares llvmpipe clearing and
        carrying 720p of depth through the frame (1–2 ms)."""
        target = self.fbo if depth else self.flat
        pixels = picture if picture is not None or self.transparent else self._background_pixels
        if pixels is None:
            target.use()
            colour = (0.0, 0.0, 0.0, 0.0) if self.transparent else (*self.background.color, 1.0)
            target.clear(*colour, depth=1.0)
            return target
        # The picture replaces the colour clear and goes in before the layer is bound: a write
        # into the texture of the bound framebuffer makes llvmpipe first rasterise the clear
        # queued on it and wait for that (2-20 ms a frame at 720p, against 0.5 ms this way).
        self.color.write(pixels)
        if depth:
            target.color_mask = (False, False, False, False)
            target.use()
            target.clear(depth=1.0)  # the depth only
            target.color_mask = (True, True, True, True)
        target.use()  # moderngl applies a framebuffer's colour mask when it is bound
        return target

    def release(self) -> None:
        for resource in (self.fbo, self.flat, self.color, self.depth):
            resource.release()


class Compositor:
    """Owns two scene layers (current and outgoing), the overlays and the readback buffers."""

    def __init__(self, ctx: moderngl.Context, shaders: ShaderLibrary,
                 size: tuple[int, int]) -> None:
        self.ctx = ctx
        self.size = size
        width, height = size
        self._blend_pass = ScreenPass(ctx, shaders, "blend.glsl", vertices=6)
        self.layers = (SceneLayer(ctx, size), SceneLayer(ctx, size))
        self._rgba = np.empty((height, width, 4), np.uint8)  # readback, bottom row first
        self.frame = np.empty((height, width, 3), np.uint8)  # finished frame, top row first
        self.badge: Overlay | None = None
        self._badge_texture: moderngl.Texture | None = None
        self._watermark_add: np.ndarray | None = None
        self._watermark_subtract: np.ndarray | None = None
        self._watermark_delta: np.ndarray | None = None
        self.transparent = False

    def set_transparent(self, transparent: bool) -> None:
        """Render for compositing elsewhere (``engine.output.alpha``): layers clear to
        transparent black instead of the scene's background, and ``finish`` returns
        premultiplied RGBA (the readback as it is, flipped) instead of RGB. A session setting,
        not a per-frame call."""
        self.transparent = transparent
        for layer in self.layers:
            layer.transparent = transparent
        width, height = self.size
        self.frame = np.empty((height, width, 4 if transparent else 3), np.uint8)
        self.set_watermark(self._watermark_delta)

    def set_badge(self, badge: Overlay | None) -> None:
        """Upload the disclosure badge (or remove it); not a per-frame call."""
        if self._badge_texture is not None:
            self._badge_texture.release()
            self._badge_texture = None
        self.badge = badge
        if badge is not None:
            self._badge_texture = texture_from_image(self.ctx, badge.rgba)

    def set_watermark(self, delta: np.ndarray | None) -> None:
        """Set the invisible watermark: a (H, W) luma delta in whole 8-bit levels, top row first.

        Adding the same value to R, G and B moves luma by exactly that value (the BT.601 weights
        sum to 1). It is split into a positive and a negative part once, so a frame costs two
        saturating SIMD passes.
        """
        self._watermark_delta = delta
        if delta is None:
            self._watermark_add = self._watermark_subtract = None
            return
        if delta.shape != (self.size[1], self.size[0]):
            raise ValueError(f"watermark pattern {delta.shape} does not match frame {self.size}")
        levels = np.rint(delta).astype(np.int16)
        rgb = np.repeat(levels[:, :, None], 3, axis=2)
        if self.transparent:  # the colour carries it; alpha stays as the avatar drew it
            rgb = np.dstack([rgb, np.zeros_like(levels)])
        self._watermark_add = np.clip(rgb, 0, 255).astype(np.uint8)
        self._watermark_subtract = np.clip(-rgb, 0, 255).astype(np.uint8)

    def finish(self, scene: SceneLayer, outgoing: SceneLayer | None = None,
               crossfade: float = 0.0) -> np.ndarray:
        """Crossfade and badge into ``scene``, read it back once (waiting for the driver to draw
        it), flip, drop alpha, watermark, and return it.

        The returned array is reused next frame: sinks that keep frames must copy.
        """
        ctx = self.ctx
        scene.flat.use()
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.enable(moderngl.BLEND)
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        if outgoing is not None and crossfade > 0.0:
            outgoing.color.use(0)
            self._blend_pass.draw(image=0, opacity=float(crossfade),
                                  rect=(0.0, 0.0, 1.0, 1.0))
        if self.badge is not None:
            x, y, w, h = self.badge.rect
            self._badge_texture.use(0)
            self._blend_pass.draw(image=0, opacity=1.0, rect=(x, 1.0 - y - h, w, h))
        ctx.disable(moderngl.BLEND)
        scene.flat.read_into(self._rgba, components=4)
        if self.transparent:
            cv2.flip(self._rgba, 0, dst=self.frame)
        else:
            cv2.cvtColor(self._rgba, cv2.COLOR_RGBA2RGB, dst=self.frame)
            cv2.flip(self.frame, 0, dst=self.frame)
        if self._watermark_add is not None:
            cv2.add(self.frame, self._watermark_add, dst=self.frame)
            cv2.subtract(self.frame, self._watermark_subtract, dst=self.frame)
        return self.frame

    def release(self) -> None:
        for layer in self.layers:
            layer.release()
        self.set_badge(None)
        self._blend_pass.release()
