"""Drawing the face swap: the camera picture, then the persona's face over the live face.

Per frame, on the loop's thread:

1. The camera picture whose landmarks the tracker reported (the tracker runs a frame behind the
   camera, and a face drawn on the newer picture would trail every head movement by a frame) is
   copied into the layer's colour texture as it is, RGBA and bottom row first. That is an upload
   of 0.3 ms where a textured full-screen pass costs 6–10 ms on llvmpipe (docs/architecture.md),
   so the picture costs no pass at all; the scene's own background is covered by it. The scene
   renderer asks for it first (``layer_picture``) and the layer writes it instead of clearing
   (``SceneLayer.begin``): written after the clear, it would wait for llvmpipe to draw the clear.
   The rows of it that the eye and mouth openings sample go to a second texture.
2. Bystanders' face boxes (``FaceState.others``) are blurred in that picture first, as the blur
   backdrop does (``engine.backdrop.blur_picture``): a role-play shows the real room, never
   anyone else's face.
3. The swapped face is one small draw of the mesh ``geometry`` places, photo skin colour-matched
   to the live skin (``colour``), with the openings from the live picture.

When the face is lost the last mesh is held for ``HOLD_S`` over the current picture, with the
last face box blurred around it (a dropout of a few frames must neither flash the performer's
face nor drop the persona's); after that, and until the face is found again, the whole picture
is the blur backdrop's (room light only, faces painted out), because a role-play must not show
the performer's real face unexpectedly either.
"""

from __future__ import annotations

import logging
from collections import deque

import cv2
import moderngl
import numpy as np

from engine.avatar.base import AvatarInput
from engine.avatar.faceswap import colour, geometry
from engine.avatar.faceswap.persona import Persona
from engine.backdrop import blur_picture
from engine.gl.compositor import ScreenPass
from engine.gl.draw_order import far_to_near
from engine.gl.programs import ShaderLibrary
from engine.types import FaceState, Frame

log = logging.getLogger(__name__)

HOLD_S = 0.5  # a lost face's last mesh stays this long before the picture is blurred
BOX_GROW = 0.4  # a blurred face box is grown by this share of its size on each side (as backdrop)
RECENT_FRAMES = 4  # camera frames kept to find the one the landmarks belong to


def blur_boxes(picture: np.ndarray, boxes, scale: tuple[float, float]) -> None:
    """Blur each (x, y, w, h) box (source pixels, times ``scale``) of ``picture`` in place,
    grown by ``BOX_GROW``, to the room light of that box: nothing recognisable is left."""
    height, width = picture.shape[:2]
    for x, y, w, h in boxes:
        x0 = max(0, int((x - BOX_GROW * w) * scale[0]))
        y0 = max(0, int((y - BOX_GROW * h) * scale[1]))
        x1 = min(width, int(np.ceil((x + w * (1 + BOX_GROW)) * scale[0])))
        y1 = min(height, int(np.ceil((y + h * (1 + BOX_GROW)) * scale[1])))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            region = picture[y0:y1, x0:x1]
            region[:] = cv2.resize(blur_picture(region), (x1 - x0, y1 - y0),
                                   interpolation=cv2.INTER_LINEAR)


class FaceSwapAvatar:
    """``Avatar`` drawing the persona's face onto the live face in the camera picture."""

    uses_depth = False  # the triangles are drawn far to near instead (``_draw``)

    def __init__(self, ctx: moderngl.Context, shaders: ShaderLibrary, persona: Persona) -> None:
        self.ctx = ctx
        self.shaders = shaders
        self.persona = persona
        self.shape = geometry.IdentityShape(persona.landmarks)
        self.live_stats = colour.LiveStats()
        height, width = persona.photo.shape[:2]
        self._photo = ctx.texture((width, height), 4, np.ascontiguousarray(
            persona.standardised[::-1]).tobytes(), dtype="f2")
        # The photo as lit for the live skin, what the face draws: redrawn from ``_photo`` by
        # the colour transfer only when the live statistics change (``_relight``).
        self._lit_photo = ctx.texture((width, height), 4)
        self._lit_target = ctx.framebuffer([self._lit_photo])
        self._lit_for: colour.ColourStats | None = None
        self._light_pass = ScreenPass(ctx, shaders, "faceswap_light.glsl", vertices=3)
        for texture in (self._photo, self._lit_photo):
            texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
            texture.repeat_x = texture.repeat_y = False
        photo_uv = geometry.with_centres(persona.landmarks[:, :2] / (width, height))
        photo_uv[:, 1] = 1.0 - photo_uv[:, 1]  # textures are stored bottom row first
        self._photo_uv = ctx.buffer(photo_uv.tobytes())
        self.alpha = geometry.mask_alpha(persona.landmarks)  # (481,) per-vertex opacity
        self._alpha = ctx.buffer(self.alpha.tobytes())
        self._core = geometry.core_triangles(self.alpha)  # where the live skin is measured
        self._ones = ctx.buffer(np.ones(geometry.NUM_VERTICES, np.float32).tobytes())
        self._positions = ctx.buffer(reserve=geometry.NUM_VERTICES * 12, dynamic=True)
        self._camera_uv = ctx.buffer(reserve=geometry.NUM_VERTICES * 8, dynamic=True)
        # Index buffers rewritten each frame in the painter's order (``_draw``).
        self._skin_triangles = geometry.opaque_triangles(persona.landmarks, self.alpha)
        self._opaque_skin, self._feathered_skin = (ctx.buffer(reserve=t.nbytes, dynamic=True)
                                                   for t in self._skin_triangles)
        self._openings = ctx.buffer(geometry.opening_triangles().tobytes())
        self._program: moderngl.Program | None = None
        self._vaos: tuple[moderngl.VertexArray, ...] | None = None
        self._camera: moderngl.Texture | None = None  # the live picture, for the openings
        self._rgba: np.ndarray | None = None  # the picture as uploaded, bottom row first
        self._sampled_rows = (0, 0)  # camera-texture rows the openings sample
        self._prepared: AvatarInput | None = None  # the frame ``layer_picture`` was made for
        self._mesh_now: np.ndarray | None = None  # ... and the mesh it placed (None: none drawn)
        self._recent: deque[Frame] = deque(maxlen=RECENT_FRAMES)
        self._last_found: FaceState | None = None  # the last face seen, and its mesh
        self._last_mesh: np.ndarray | None = None
        self._warned_no_camera = False
        self.showing = "nothing"  # "swap", "held", "blurred" or "nothing": what the last frame drew

    @property
    def mesh(self) -> np.ndarray | None:
        """(481, 3) the last swapped face's vertices in target pixels (None before the first)."""
        return self._last_mesh

    # -- per frame -------------------------------------------------------------------------------

    def layer_picture(self, frame: AvatarInput, size: tuple[int, int]) -> np.ndarray | None:
        """This frame's camera picture as layer pixels (``size``, RGBA, bottom row first), with
        bystanders (and, once the face is lost, the performer) blurred; None when the privacy
        rule withheld the camera. Also places this frame's mesh, which ``render`` then draws;
        the array is reused next frame."""
        self._prepared, self._mesh_now = frame, None
        if frame.camera is None:  # the privacy rule withheld it: the scene's background shows
            if not self._warned_no_camera:
                log.warning("face swap %r: no camera picture (not consented for the camera); "
                            "nothing is drawn", self.persona.name)
                self._warned_no_camera = True
            self.showing = "nothing"
            return None
        if not self._recent or self._recent[-1].index != frame.camera.index:
            self._recent.append(frame.camera)
        face = frame.face
        picture = self._picture_for(face)
        width, height = size
        scale = (width / picture.size[0], height / picture.size[1])
        image = picture.image
        resized = (image.shape[1], image.shape[0]) != (width, height)
        if resized:
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        blurred: tuple = ()  # boxes to blur in the picture (a copy: the frame is shared)
        if face is not None and face.found and face.landmarks is not None:
            live = face.landmarks * np.array([scale[0], scale[1], scale[0]], np.float32)
            self._mesh_now = self.shape.place(live, face.t)
            if self.live_stats.due(face.t):
                measured = colour.skin_stats(image, geometry.with_centres(live[:, :2]),
                                             self._core)
                self.live_stats.update(measured, face.t)
            self._last_found, self._last_mesh = face, self._mesh_now
            self._camera_uv.write(self._camera_coordinates(live, width, height))
            # The openings sample the camera texture only between the live face's rows.
            top, bottom = int(live[:, 1].min()) - 2, int(np.ceil(live[:, 1].max())) + 2
            self._sampled_rows = (max(0, height - bottom), min(height, height - top))
            blurred = face.others
            self.showing = "swap"
        elif (self._last_found is not None and self._last_mesh is not None
              and picture.t_capture - self._last_found.t <= HOLD_S):
            self._mesh_now = self._last_mesh
            others = face.others if face is not None else ()
            blurred = (self._last_found.box, *others)
            self.showing = "held"
        else:
            boxes = () if face is None else face.others
            if self._last_found is not None and self._last_found.box is not None:
                boxes = (*boxes, self._last_found.box)
            image = cv2.resize(blur_picture(picture.image, boxes), (width, height),
                               interpolation=cv2.INTER_LINEAR)
            resized = True
            self.showing = "blurred"
        if blurred:
            image = image if resized else image.copy()
            blur_boxes(image, blurred, scale)
        return self._layer_pixels(image)

    def render(self, frame: AvatarInput, target: moderngl.Framebuffer) -> None:
        """Draw the swapped face over the layer, which holds ``layer_picture(frame)`` when the
        scene renderer asked for it; for any other caller the picture is written here first."""
        if self._prepared is not frame:
            pixels = self.layer_picture(frame, target.size)
            if pixels is not None:
                target.color_attachments[0].write(pixels)
        self._prepared = None
        if self._mesh_now is None:
            return
        first, last = self._sampled_rows
        if last > first:  # rows of a C-ordered array: a view, no copy
            width = self._rgba.shape[1]
            self._camera.write(self._rgba[first:last], viewport=(0, first, width, last - first))
        self._draw(self._mesh_now, target)

    def _picture_for(self, face: FaceState | None) -> Frame:
        """The recent camera frame the landmarks were measured on, else the newest."""
        if face is not None:
            for picture in reversed(self._recent):
                if picture.t_capture == face.t:
                    return picture
        return self._recent[-1]

    @staticmethod
    def _camera_coordinates(live: np.ndarray, width: int, height: int) -> bytes:
        uv = geometry.with_centres(live[:, :2] / (width, height))
        uv[:, 1] = 1.0 - uv[:, 1]
        return uv.tobytes()

    def _layer_pixels(self, image: np.ndarray) -> np.ndarray:
        """The picture as RGBA, bottom row first, in the reused buffer (and the camera texture
        the openings sample made at its size)."""
        height, width = image.shape[:2]
        if self._rgba is None or self._rgba.shape[:2] != (height, width):
            self._rgba = np.empty((height, width, 4), np.uint8)
            if self._camera is not None:
                self._camera.release()
            self._camera = self.ctx.texture((width, height), 4)
            self._camera.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self._camera.repeat_x = self._camera.repeat_y = False
        cv2.cvtColor(image, cv2.COLOR_RGB2RGBA, dst=self._rgba)
        return cv2.flip(self._rgba, 0, dst=self._rgba)

    def _draw(self, mesh: np.ndarray, target: moderngl.Framebuffer) -> None:
        """Without a depth buffer (``engine.gl.draw_order``): the openings first, since the
        lids and lips close over them; then the feathered skin and the opaque skin, each far to
        near, the opaque last so that where the face folds over itself at a turn (the far
        cheek behind the near one) the feathered edge cannot show through it."""
        ctx = self.ctx
        ctx.disable(moderngl.CULL_FACE | moderngl.DEPTH_TEST | moderngl.BLEND)
        live = self.live_stats.current or self.persona.stats
        if live is not self._lit_for:
            self._relight(live)
        opaque_skin, feathered_skin, openings = self._vertex_arrays()
        self._positions.write(mesh.astype(np.float32).tobytes())
        opaque_triangles, feathered_triangles = self._skin_triangles
        self._opaque_skin.write(far_to_near(opaque_triangles, mesh[:, 2]).tobytes())
        self._feathered_skin.write(far_to_near(feathered_triangles, mesh[:, 2]).tobytes())
        program = self._program
        width, height = target.size
        program["frame_size"] = (float(width), float(height))
        program["image"] = 0
        target.use()
        self._camera.use(0)
        openings.render(moderngl.TRIANGLES)
        self._lit_photo.use(0)
        ctx.enable(moderngl.BLEND)
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        feathered_skin.render(moderngl.TRIANGLES)
        ctx.disable(moderngl.BLEND)
        opaque_skin.render(moderngl.TRIANGLES)

    def _relight(self, live: colour.ColourStats) -> None:
        """Redraw the lit photo for the live skin's statistics (``faceswap_light.glsl``): a pass
        over the persona photo's few hundred pixels square, instead of the transfer's cube and
        powers in every fragment of every frame's face."""
        self._lit_target.use()
        self._photo.use(0)
        self._light_pass.draw(image=0, mean_live=tuple(live.mean), std_live=tuple(live.std))
        self._lit_for = live

    def _vertex_arrays(self) -> tuple[moderngl.VertexArray, ...]:
        """Made once per program (again only after a hot reload of the shader)."""
        program = self.shaders.get("faceswap.glsl")
        if program is not self._program or self._vaos is None:
            if self._vaos is not None:
                for vao in self._vaos:
                    vao.release()
            self._program = program
            self._vaos = tuple(self.ctx.vertex_array(
                program, [(self._positions, "3f", "position"), (uv, "2f", "uv"),
                          (alpha, "f", "alpha")], index_buffer=indices)
                for uv, alpha, indices in ((self._photo_uv, self._alpha, self._opaque_skin),
                                           (self._photo_uv, self._alpha, self._feathered_skin),
                                           (self._camera_uv, self._ones, self._openings)))
        return self._vaos

    def release(self) -> None:
        if self._vaos is not None:
            for vao in self._vaos:
                vao.release()
            self._vaos = None
        self._light_pass.release()
        for resource in (self._lit_target, self._lit_photo, self._photo, self._camera,
                         self._photo_uv, self._alpha, self._ones, self._positions,
                         self._camera_uv, self._opaque_skin, self._feathered_skin,
                         self._openings):
            if resource is not None:
                resource.release()
        self._lit_target = self._lit_photo = self._photo = self._camera = None
        self._photo_uv = self._alpha = self._ones = self._positions = None
        self._camera_uv = self._opaque_skin = self._feathered_skin = self._openings = None
