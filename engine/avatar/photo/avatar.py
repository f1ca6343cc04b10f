"""The photo avatar on the GPU: the warped photo in one draw call.

Made once: one texture holding the photo between two blurred margins that fill a letterbox, and
below it the mouth interior, scaled to the size the photo is shown at when the frame size is
first known (so it is never shrunk on screen, and plain bilinear filtering has nothing to shimmer
from: trilinear mip filtering cost a third more CPU per frame on llvmpipe); the static vertex
attributes (texture coordinates, lid slide). Per frame: ``PhotoRig.positions`` (numpy), the
triangles sorted far to near (the painter's order: a turned head's nose covers the cheek behind
it, the lips the mouth interior; ``engine.gl.draw_order``) in place of a depth buffer, one write
each of the position and index buffers and one draw. The fragment shader is a
single texture lookup: on llvmpipe a second sampler, a branch or a per-fragment mip bias each
made the whole frame a quarter to a third slower, since the mesh covers every pixel.

What lies beyond the still ring (``geometry``) never moves: the photo's outer part and the
letterbox between the photo's border and the frame's, where a photo of another shape than the
frame shows its blurred margin. It is drawn once per frame size and handed to the layer as its
picture (``layer_picture``, which the scene renderer asks for first), so the draw covers only
what moves: for a square photo in a 16:9 frame that is at least 44 % fewer pixels to raster. A
caller that does not ask gets the whole mesh drawn.
"""

from __future__ import annotations

import moderngl
import numpy as np

from engine.avatar.base import AvatarInput
from engine.avatar.photo.geometry import MARGIN, PhotoRig
from engine.gl.compositor import texture_from_image
from engine.gl.draw_order import far_to_near
from engine.gl.programs import ShaderLibrary
from engine.types import BLENDSHAPE_INDEX, Expression

PROGRAM = "photo.glsl"
GAP = 64  # rows between the photo and the mouth interior: coarse mips do not mix them
MARGIN_BLUR = 0.08  # the margin's blur far from the photo, in photo heights (Gaussian sigma)
BLINK_LEFT, BLINK_RIGHT = BLENDSHAPE_INDEX["eyeBlinkLeft"], BLENDSHAPE_INDEX["eyeBlinkRight"]


def atlas_picture(photo: np.ndarray, mouth: np.ndarray) -> np.ndarray:
    """The texture's picture: [margin | photo | margin] over [gap] over [mouth]. Each margin
    repeats the photo's edge column outwards, blurred more with distance."""
    import cv2

    height, width = photo.shape[:2]
    pad = round(MARGIN * width)
    wide = cv2.copyMakeBorder(photo, 0, 0, pad, pad, cv2.BORDER_REPLICATE).astype(np.float32)
    blurred = cv2.GaussianBlur(wide, (0, 0), sigmaX=MARGIN_BLUR * height / 4,
                               sigmaY=MARGIN_BLUR * height)
    distance = np.abs(np.arange(width + 2 * pad) - (pad + width / 2)) - width / 2
    weight = np.clip(distance / (0.25 * pad), 0.0, 1.0)[None, :, None]
    wide = wide * (1.0 - weight) + blurred * weight
    wide[:, pad:pad + width] = photo  # the photo itself untouched
    mouth = cv2.resize(mouth, (wide.shape[1], mouth.shape[0]), interpolation=cv2.INTER_LINEAR)
    gap = np.repeat(wide[-1:], GAP, axis=0)
    return np.ascontiguousarray(np.concatenate([wide, gap, mouth]).clip(0, 255).astype(np.uint8))


class PhotoAvatar:
    uses_depth = False  # the triangles are drawn far to near instead

    def __init__(self, ctx: moderngl.Context, shaders: ShaderLibrary, rig: PhotoRig,
                 photo: np.ndarray, mouth: np.ndarray) -> None:
        self.ctx, self.shaders, self.rig = ctx, shaders, rig
        atlas = atlas_picture(photo, mouth)
        self._atlas = atlas  # uploaded at the size it is shown at (``_upload_atlas``)
        self._texture: moderngl.Texture | None = None
        height, width = photo.shape[:2]
        total_w, total_h = atlas.shape[1], atlas.shape[0]
        pad = (total_w - width) / 2
        # Photo uv → atlas uv (stored bottom row first, so v flips here, not per fragment).
        self._scale = np.array([width / total_w, -height / total_h], np.float32)
        self._offset = np.array([pad / total_w, 1.0], np.float32)
        self._mouth_rows = (height + GAP, mouth.shape[0], total_h)
        lid = rig.lid.copy()
        lid[:, :2] *= self._scale
        self._lid = lid
        self._positions = ctx.buffer(reserve=rig.count * 12, dynamic=True)
        self._static = ctx.buffer(reserve=rig.count * 24)
        # The triangles that move first, those that never do (``layer_picture``) after them.
        still = np.zeros(rig.count, bool)
        still[rig.still_index] = True
        resting = still[rig.triangles].all(axis=1)
        self._moving_triangles = int(np.count_nonzero(~resting))
        self._triangles = np.concatenate([rig.triangles[~resting], rig.triangles[resting]])
        self._indices = ctx.buffer(reserve=self._triangles.nbytes, dynamic=True)
        self._still_picture: np.ndarray | None = None  # layer pixels, for ``_still_size``
        self._still_size: tuple[int, int] | None = None
        self._prepared: AvatarInput | None = None  # the frame ``layer_picture`` was asked for
        self._program: moderngl.Program | None = None
        self._vao: moderngl.VertexArray | None = None
        self._frame_size: tuple[int, int] | None = None
        self._to_ndc = (1.0, 1.0, 0.0, 0.0)

    def _write_static(self) -> None:
        """Texture coordinates into the atlas (they change with the frame's aspect: the frame
        ring's) and the lid slides."""
        uv = self.rig.uv * self._scale + self._offset
        first, rows, total = self._mouth_rows
        mouth = self.rig.in_mouth
        uv[mouth, 0] = self.rig.uv[mouth, 0]
        uv[mouth, 1] = 1.0 - (first + self.rig.uv[mouth, 1] * rows) / total
        self._static.write(np.hstack([uv, self._lid]).astype(np.float32).tobytes())

    def _upload_atlas(self, frame_size: tuple[int, int]) -> None:
        """The atlas as a texture, shrunk (area average) by the factor the photo is shown at
        when that is below 1; texture coordinates are fractions, so they hold either way."""
        import cv2

        width, height = self.rig.size
        fit = min(frame_size[0] / width, frame_size[1] / height)
        atlas = self._atlas
        if fit < 1.0:
            shown = (max(1, round(atlas.shape[1] * fit)), max(1, round(atlas.shape[0] * fit)))
            atlas = cv2.resize(atlas, shown, interpolation=cv2.INTER_AREA)
        if self._texture is not None:
            self._texture.release()
        self._texture = texture_from_image(self.ctx, atlas)

    def _vertex_array(self) -> moderngl.VertexArray:
        program = self.shaders.get(PROGRAM)
        if program is not self._program:  # first use, or the shader was hot-reloaded
            if self._vao is not None:
                self._vao.release()
            self._program = program
            self._vao = self.ctx.vertex_array(
                program, [(self._positions, "3f", "position"),
                          (self._static, "2f 4f", "uv", "lid")],
                index_buffer=self._indices, index_element_size=4)
            program["picture"] = 0
        return self._vao

    def layer_picture(self, frame: AvatarInput, size: tuple[int, int]) -> np.ndarray:
        """What never moves (beyond the still ring, and the letterbox) as layer pixels
        (``size``, RGBA, bottom row first), for the layer to hold under this frame's draw; made
        once per size, the same array every frame."""
        self._prepared = frame
        if size != self._still_size:
            colour = self.ctx.texture(size, 4)
            scratch = self.ctx.framebuffer([colour])
            try:
                scratch.clear(0.0, 0.0, 0.0, 1.0)
                self._draw(AvatarInput(Expression()), scratch, len(self._triangles))
                pixels = np.frombuffer(scratch.read(components=4), np.uint8)
            finally:
                for resource in (scratch, colour):
                    resource.release()
            self._still_picture = pixels.reshape(size[1], size[0], 4)
            self._still_size = size
        return self._still_picture

    def render(self, frame: AvatarInput, target: moderngl.Framebuffer) -> None:
        """Draw the warped photo; only the part that moves when the layer holds
        ``layer_picture(frame)``."""
        prepared, self._prepared = self._prepared is frame, None
        self._draw(frame, target, self._moving_triangles if prepared else len(self._triangles))

    def _draw(self, frame: AvatarInput, target: moderngl.Framebuffer, triangles: int) -> None:
        size = target.viewport[2:] if target.viewport else target.size
        size = (int(size[0]), int(size[1]))
        if size != self._frame_size:
            self._frame_size, self._to_ndc = size, self.rig.set_frame(size)
            self._write_static()
            self._upload_atlas(size)
        positions = self.rig.positions(frame.expression)
        self._positions.write(positions.tobytes())
        self._indices.write(far_to_near(self._triangles[:triangles], positions[:, 2]).tobytes())
        vao = self._vertex_array()
        target.use()
        ctx = self.ctx
        ctx.disable(moderngl.BLEND | moderngl.CULL_FACE | moderngl.DEPTH_TEST)
        self._texture.use(0)
        shapes = frame.expression.blendshapes
        self._program["to_ndc"] = self._to_ndc
        self._program["blink"] = (float(shapes[BLINK_LEFT]), float(shapes[BLINK_RIGHT]))
        vao.render(moderngl.TRIANGLES, vertices=3 * triangles)

    def release(self) -> None:
        for resource in (self._vao, self._positions, self._static, self._indices, self._texture):
            if resource is not None:
                resource.release()
        self._vao = self._positions = self._static = self._indices = self._texture = None
