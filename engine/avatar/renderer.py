"""Drawing a loaded glTF/VRM model with its morph targets on the GPU.

Everything that does not change per frame is uploaded once, when the avatar is made: vertex
buffers, index buffers, base-colour textures and one morph-delta texture per primitive. A frame
then costs two small numpy products (ARKit → morph weights, see mapping.py), the pose (a head
turn shared down the spine, eyes, spring bones: humanoid.py, spring_bones.py), one joint-matrix
texture upload for skinned meshes, a few uniforms per primitive and the draw calls. No vertex
data crosses the bus after load. The camera, and the draw order that follows from it, is worked
out again only when it moves.

Conventions:

* ``Expression.head[:3, :3]`` is a rotation in view space (+x to the viewer's right, +y up, +z
  towards the viewer); identity faces the camera. A VRM humanoid shares it over spine, chest,
  neck and head (humanoid.HEAD_SHARE); otherwise it turns a node named "head", or the whole
  model when there is none. VRM models stand in a relaxed rest pose (arms lowered from the
  authored T-pose), and their spring bones advance ``frame_seconds`` of physics per frame.
* ``Expression.gaze`` is (yaw, pitch) in radians: positive yaw looks towards the viewer's right,
  positive pitch looks up. Models with eye bones (VRM ``lookAt.type = bone``) turn them; others
  get the gaze added to their ``eyeLook*`` channels.
* The avatar draws straight into the compositor's layer, which already holds the background and a
  cleared depth buffer: opaque parts first with depth writes, then alpha-blended parts (hair
  cards, lashes) far to near with premultiplied ``ONE, ONE_MINUS_SRC_ALPHA`` blending. MToon
  outlines, when ``outline`` is set, are an inverted-hull pass between the two (their width
  mask is sampled at the vertices once, on load). Toon materials with MToon settings are lit
  with them (shade colour, rim, emission: gltf.MToon); others get the engine's toon light.
* MSAA (engine/avatar/antialias.py) is on in offline renders and on a real GPU; live on
  llvmpipe only when the avatar asks (``antialias``): there a 720p resolve and full-screen pass
  cost more than the whole avatar, so edges are left to the texture filtering and the rim.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import moderngl
import numpy as np
from pyrr import matrix44

from engine.avatar import humanoid
from engine.avatar.antialias import SAMPLE_COUNTS, MsaaLayer, automatic_samples
from engine.avatar.base import AvatarInput
from engine.avatar.gltf import COLOR_BIND_KINDS, Material, Model, MToon
from engine.avatar.mapping import ExpressionMap
from engine.avatar.spring_bones import SpringBones
from engine.gl.programs import ShaderLibrary
from engine.types import BLENDSHAPE_INDEX, Expression

log = logging.getLogger(__name__)

MAX_TARGETS = 256  # morph targets per mesh the shader can weigh; must match avatar_surface.glsl
MORPH_TEXTURE_WIDTH = 4096
GAZE_FULL_SCALE = math.radians(30.0)  # gaze angle that drives an eyeLook channel to 1
_ALPHA_MODES = {"OPAQUE": 0, "MASK": 1, "BLEND": 2}
_OUTLINE_MODES = {"world": 1, "screen": 2}
OUTLINE_PROGRAM = "avatar_outline.glsl"
FRAME_S = 1.0 / 30.0  # physics time one rendered frame stands for (the engine's frame rate)
SETTLE_S = 1.0  # spring bones are run this long at rest when the avatar is made
_TURN_AROUND = np.diag([-1.0, 1.0, -1.0, 1.0]).astype(np.float32)  # VRM 0.x faces -Z: half turn on y


def morph_entries(positions: np.ndarray, normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sparse layout avatar_surface.glsl reads: ((N, 2) int32 first entry and entry count per
    vertex, (2E, 4) float32 texels: position delta + target index, then normal delta)."""
    moves = (np.abs(positions).max(axis=2) > 0) | (np.abs(normals).max(axis=2) > 0)  # (T, N)
    vertex, target = np.nonzero(moves.T)  # vertex-major, so each vertex's entries are contiguous
    counts = np.bincount(vertex, minlength=positions.shape[1])
    first = np.cumsum(counts) - counts
    texels = np.zeros((len(vertex), 2, 4), np.float32)
    texels[:, 0, :3] = positions[target, vertex]
    texels[:, 0, 3] = target
    texels[:, 1, :3] = normals[target, vertex]
    return np.stack([first, counts], axis=1).astype(np.int32), texels.reshape(-1, 4)


def sample_bilinear(image: np.ndarray, uvs: np.ndarray) -> np.ndarray:
    """(N,) bilinear samples of an (H, W) image at glTF uvs (origin at the image's top left,
    wrapping round as GL_REPEAT does): a texture the vertex shader would otherwise read each
    frame (MToon's outline width mask), read once at the vertices."""
    height, width = image.shape
    x = np.nan_to_num(uvs[:, 0].astype(np.float64)) * width - 0.5
    y = np.nan_to_num(uvs[:, 1].astype(np.float64)) * height - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    xs, ys = (x0 % width, (x0 + 1) % width), (y0 % height, (y0 + 1) % height)
    top = image[ys[0], xs[0]] * (1 - fx) + image[ys[0], xs[1]] * fx
    bottom = image[ys[1], xs[0]] * (1 - fx) + image[ys[1], xs[1]] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _program_name(material: Material) -> str:
    """Opaque materials get the program without alpha tests (see avatar_surface.glsl)."""
    return "avatar_opaque.glsl" if material.alpha_mode == "OPAQUE" else "avatar.glsl"


def yaw_pitch(yaw: float, pitch: float) -> np.ndarray:
    """3x3 turning +z towards +x by ``yaw`` and towards +y by ``pitch``."""
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    turn = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], np.float32)
    tilt = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]], np.float32)
    return turn @ tilt


@dataclass
class _GpuPrimitive:
    vao: moderngl.VertexArray
    buffers: list
    morphs: moderngl.Texture | None
    instance: int
    material: Material
    texture: moderngl.Texture | None
    centre: np.ndarray  # (3,) rest-pose model-space centre, for sorting blended primitives
    skinned: bool
    material_index: int  # row of the per-frame uv transform table; -1 for the default material
    outline_vao: moderngl.VertexArray | None = None  # for materials with an MToon outline


@dataclass
class _View:
    """A camera and what depends on it alone: the matrices as the shaders take them and the
    draw order (opaque near to far, blended far to near)."""

    key: tuple
    view: bytes  # view @ facing flip, column-major
    proj: bytes
    opaque: list[_GpuPrimitive]
    blended: list[_GpuPrimitive]


class ModelRenderer:
    """Renders one ``Model`` through an ``ExpressionMap`` into compositor-owned framebuffers."""

    def __init__(self, ctx: moderngl.Context, shaders: ShaderLibrary, model: Model,
                 mapping: ExpressionMap, toon: bool | None = None) -> None:
        self.ctx = ctx
        self.shaders = shaders
        self.model = model
        self.mapping = mapping
        self.toon = toon  # None: each material decides (MToon and unlit materials are toon)
        self.zoom = 1.0
        self._uniforms: dict[int, tuple[moderngl.Program, dict[str, moderngl.Uniform]]] = {}
        self._uv_rest, self._uv_binds = self._texture_transforms()
        self.offset = (0.0, 0.0)
        self.shot = "head"  # or "upper_body" (engine.scenes.Framing)
        self.yaw = 0.0  # camera orbit about the framed head, radians; pi looks from behind
        self.pitch = 0.0  # camera tilt, radians: positive looks down from above (|pitch| < pi/2)
        self._view: _View | None = None  # the last frame's camera, reused while it stands still
        self.outline = False  # draw the MToon outlines the materials ask for (an extra pass)
        self._antialias: int | None = None  # None: the engine chooses
        self._msaa: MsaaLayer | None = None
        self.frame_seconds = FRAME_S
        self._root = _TURN_AROUND if model.faces_minus_z else np.eye(4, dtype=np.float32)
        self._rest_world = humanoid.relaxed_world(model, model.world_matrices())
        self._head = self._find_head()
        self._head_nodes = self._subtree(self._head) if self._head is not None else list(range(len(model.nodes)))
        self._head_chain = humanoid.head_chain(model)
        self._arms = humanoid.arm_rig(model)
        self.springs = SpringBones(model, self._rest_world)
        self._settle_springs()
        self._colors_rest, self._color_binds = self._color_tables()
        self._eyes = [(model.bones[b], self._subtree(model.bones[b])) for b in ("leftEye", "rightEye")
                      if b in model.bones and model.look_at_type == "bone"]
        rest_positions = self._rest_positions()
        self._pivot = self._head_pivot(rest_positions)
        self._frame_box = self._framing_box(rest_positions)
        self._body_box = self._upper_body_box(rest_positions)
        self._textures: dict[int, moderngl.Texture] = {}  # by id() of the Model's image array
        self._primitives = self._upload(rest_positions)
        self._joint_base, joint_rows = self._joint_layout()
        self._joints = ctx.texture((4, max(joint_rows, 1)), 4, dtype="f4")
        self._joints.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self._look_channels = {name: BLENDSHAPE_INDEX[name] for name in (
            "eyeLookOutLeft", "eyeLookInRight", "eyeLookInLeft", "eyeLookOutRight",
            "eyeLookUpLeft", "eyeLookUpRight", "eyeLookDownLeft", "eyeLookDownRight")}

    # -- set-up, once ---------------------------------------------------------------------------

    def _texture_transforms(self) -> tuple[np.ndarray, list[tuple[int, int, np.ndarray]]]:
        """Rest uv transforms per material, and each VRM texture bind as (expression, material,
        change at full weight): binds blend linearly from the material's own transform."""
        rest = np.array([[*m.uv_offset, *m.uv_scale] for m in self.model.materials]
                        + [[0.0, 0.0, 1.0, 1.0]], np.float32)
        binds = []
        for e, name in enumerate(self.mapping.expression_names):
            for bind in self.model.expressions[name].texture_binds:
                target = np.array([*bind.offset, *bind.scale], np.float32)
                binds.append((e, bind.material, target - rest[bind.material]))
        return rest, binds

    def _color_tables(self) -> tuple[np.ndarray, list[tuple[int, int, int, np.ndarray]]]:
        """(materials + 1, 5, 4) rest colours per material, one row per COLOR_BIND_KINDS (base,
        outline, MToon shade, MToon rim, emission), and each VRM colour bind as (expression,
        material, row, change at full weight)."""
        materials = [*self.model.materials, Material("default", np.array([0.8, 0.8, 0.8, 1.0], np.float32))]
        rest = np.array([[m.base_color, m.outline_color,
                          (m.mtoon or MToon()).shade_color, (m.mtoon or MToon()).rim_color, m.emission]
                         for m in materials], np.float32)
        binds = []
        for e, name in enumerate(self.mapping.expression_names):
            for bind in self.model.expressions[name].color_binds:
                row = COLOR_BIND_KINDS.index(bind.kind)
                binds.append((e, bind.material, row, bind.target - rest[bind.material, row]))
        return rest, binds

    @property
    def antialias(self) -> int | None:
        """MSAA samples the avatar asks for (0: none); None leaves it to
        ``antialias.automatic_samples`` (on in offline renders and on a real GPU, off live on
        llvmpipe). See engine/avatar/antialias.py for the cost."""
        return self._antialias

    @antialias.setter
    def antialias(self, samples: int | None) -> None:
        if samples is not None and samples not in SAMPLE_COUNTS:
            raise ValueError(f"antialias: {samples!r}; expected one of {SAMPLE_COUNTS}")
        self._antialias = samples

    def _msaa_layer(self) -> MsaaLayer | None:
        """The multisampled layer this frame draws into, None to draw straight into the target."""
        samples = automatic_samples(self.ctx) if self._antialias is None else self._antialias
        if self._msaa is not None and self._msaa.asked != samples:
            self._msaa.release()
            self._msaa = None
        if samples and self._msaa is None:
            self._msaa = MsaaLayer(self.ctx, self.shaders, samples)
        return self._msaa

    @property
    def rest_world(self) -> np.ndarray:
        """(nodes, 4, 4) world matrices of the relaxed rest pose (read-only by convention)."""
        return self._rest_world

    def _settle_springs(self) -> None:
        """Let hair come to rest against its colliders before the first frame is shown."""
        world = self._rest_world.copy()
        for _ in range(int(SETTLE_S / self.frame_seconds)):
            self.springs.advance(world, self.frame_seconds)

    def _subtree(self, node: int) -> list[int]:
        return humanoid.subtree(self.model, node)

    def _find_head(self) -> int | None:
        if "head" in self.model.bones:
            return self.model.bones["head"]
        for index, node in enumerate(self.model.nodes):
            if node.name.lower().split(":")[-1] in ("head", "head_bone", "headbone"):
                return index
        return None

    def _rest_positions(self) -> list[np.ndarray]:
        """Rest-pose world positions of every primitive's vertices (for framing and sorting)."""
        world = self._rest_world
        result = []
        for inst in self.model.instances:
            for prim in inst.primitives:
                p = np.c_[prim.positions, np.ones(len(prim.positions), np.float32)]
                if inst.skin is not None and prim.joints is not None:
                    joint_mats = world[inst.skin.joints] @ inst.skin.inverse_binds
                    skinned = np.zeros_like(p)
                    for k in range(4):
                        mats = joint_mats[prim.joints[:, k]]
                        skinned += prim.weights[:, k:k + 1] * np.einsum("nij,nj->ni", mats, p)
                    p = skinned
                else:
                    p = p @ world[inst.node].T
                result.append((self._root @ p.T).T[:, :3])
        return result

    def _head_vertices(self, rest_positions: list[np.ndarray]) -> np.ndarray | None:
        if self._head is None:
            return None
        head_nodes = set(self._head_nodes)
        chosen, k = [], 0
        for inst in self.model.instances:
            for prim in inst.primitives:
                pos = rest_positions[k]
                k += 1
                if inst.skin is not None and prim.joints is not None:
                    strongest = prim.joints[np.arange(len(prim.joints)), prim.weights.argmax(axis=1)]
                    joint_nodes = np.asarray(inst.skin.joints)[strongest]
                    chosen.append(pos[np.isin(joint_nodes, list(head_nodes))])
                elif inst.node in head_nodes:
                    # A head node pivots at the neck: what lies below the pivot is neck, not face.
                    pivot = (self._root @ self._rest_world[self._head][:, 3])[1]
                    chosen.append(pos[pos[:, 1] > pivot])
        chosen = [c for c in chosen if len(c)]
        return np.concatenate(chosen) if chosen else None

    def _framing_box(self, rest_positions: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        points = self._head_vertices(rest_positions)
        if points is None or len(points) < 4:
            points = np.concatenate(rest_positions) if rest_positions else np.zeros((1, 3))
        return points.min(axis=0), points.max(axis=0)

    def _upper_body_box(self, rest_positions: list[np.ndarray]
                        ) -> tuple[np.ndarray, np.ndarray] | None:
        """What the upper-body shot frames: everything above the hips in the relaxed rest pose
        (head, hair, chest, the arms down to the wrists); None for a model without a humanoid
        hips bone, which keeps the head shot."""
        hips = self.model.bones.get("hips")
        if hips is None or not rest_positions:
            return None
        points = np.concatenate(rest_positions)
        points = points[points[:, 1] > (self._root @ self._rest_world[hips][:, 3])[1]]
        if len(points) < 4:
            return None
        return points.min(axis=0), points.max(axis=0)

    def _head_pivot(self, rest_positions: list[np.ndarray]) -> np.ndarray:
        """Where the head turns about, in model space (before the facing flip)."""
        if self._head is not None:
            return self._rest_world[self._head][:3, 3].copy()
        points = np.concatenate(rest_positions) if rest_positions else np.zeros((1, 3))
        centre = (points.min(axis=0) + points.max(axis=0)) / 2
        return (self._root[:3, :3].T @ centre).astype(np.float32)

    def _texture(self, material: Material) -> moderngl.Texture | None:
        """One GL texture per image: materials sharing an atlas (Godette's face and body) share
        it too, so the second draw finds its texels already in the cache."""
        if material.texture is None:
            return None
        index = id(material.texture)
        if index not in self._textures:
            image = np.ascontiguousarray(material.texture)
            texture = self.ctx.texture((image.shape[1], image.shape[0]), 4, image.tobytes())
            texture.build_mipmaps()
            # One mip level per fragment, not two: trilinear filtering doubles the texture cost,
            # the largest part of the avatar's fragment work on llvmpipe.
            texture.filter = (moderngl.LINEAR_MIPMAP_NEAREST, moderngl.LINEAR)
            self._textures[index] = texture
        return self._textures[index]

    def _upload(self, rest_positions: list[np.ndarray]) -> list[_GpuPrimitive]:
        default_material = Material("default", np.array([0.8, 0.8, 0.8, 1.0], np.float32))
        result, k = [], 0
        for i, inst in enumerate(self.model.instances):
            for prim in inst.primitives:
                n = len(prim.positions)
                joints = prim.joints.astype(np.float32) if prim.joints is not None else np.zeros((n, 4), np.float32)
                weights = prim.weights if prim.weights is not None else np.zeros((n, 4), np.float32)
                vertices = np.hstack([prim.positions, prim.normals, prim.uvs, joints, weights]).astype(np.float32)
                vbo = self.ctx.buffer(vertices.tobytes())
                ibo = self.ctx.buffer(prim.indices.astype(np.uint32).tobytes())
                material = (self.model.materials[prim.material] if prim.material is not None
                            else default_material)
                program = self.shaders.get(_program_name(material))
                morphs = None
                per_vertex = np.zeros((n, 2), np.int32)
                if prim.morph_positions is not None and len(prim.morph_positions):
                    if len(prim.morph_positions) > MAX_TARGETS:
                        log.warning("%s: mesh %r has %d morph targets; only the first %d are "
                                    "used", self.model.path, inst.name, len(prim.morph_positions),
                                    MAX_TARGETS)
                    per_vertex, entries = morph_entries(prim.morph_positions[:MAX_TARGETS],
                                                        prim.morph_normals[:MAX_TARGETS])
                    rows = max(-(-len(entries) // MORPH_TEXTURE_WIDTH), 1)
                    texels = np.zeros((rows * MORPH_TEXTURE_WIDTH, 4), np.float32)
                    texels[: len(entries)] = entries
                    morphs = self.ctx.texture((MORPH_TEXTURE_WIDTH, rows), 4, texels.tobytes(),
                                              dtype="f4")
                    morphs.filter = (moderngl.NEAREST, moderngl.NEAREST)
                morph_vbo = self.ctx.buffer(per_vertex.tobytes())
                layout = [(vbo, "3f 3f 2f 4f 4f", "in_position", "in_normal", "in_uv",
                           "in_joints", "in_weights"), (morph_vbo, "2i", "in_morph")]
                vao = self.ctx.vertex_array(program, layout, index_buffer=ibo,
                                            index_element_size=4, skip_errors=True)
                outline_vao = None
                buffers = [vbo, ibo, morph_vbo]
                if material.outline_mode in _OUTLINE_MODES and material.outline_width > 0:
                    widths = (np.ones(n, np.float32) if material.outline_width_mask is None
                              else sample_bilinear(material.outline_width_mask, prim.uvs))
                    buffers.append(self.ctx.buffer(widths.astype(np.float32).tobytes()))
                    outline_vao = self.ctx.vertex_array(
                        self.shaders.get(OUTLINE_PROGRAM), [*layout, (buffers[-1], "1f", "in_outline_width")],
                        index_buffer=ibo, index_element_size=4, skip_errors=True)
                texture = self._texture(material) if prim.material is not None else None
                centre = rest_positions[k].mean(axis=0) if n else np.zeros(3)
                k += 1
                skinned = inst.skin is not None and prim.joints is not None
                result.append(_GpuPrimitive(
                    vao, buffers, morphs, i, material, texture, centre, skinned,
                    -1 if prim.material is None else prim.material, outline_vao))
        return result

    def _joint_layout(self) -> tuple[dict[int, int], int]:
        base, rows = {}, 0
        for i, inst in enumerate(self.model.instances):
            if inst.skin is not None:
                base[i] = rows
                rows += len(inst.skin.joints)
        return base, rows

    # -- per frame ------------------------------------------------------------------------------

    def _posed_world(self, expression: Expression) -> np.ndarray:
        """World matrices with the head turned and, for bone look-at, the eyes aimed."""
        world = self._rest_world.copy()
        if expression.arms is not None:  # tracked arms, on top of the relaxed rest pose
            humanoid.pose_arms(world, self._arms, expression.arms)
        flip = self._root[:3, :3]
        head = flip.T @ np.asarray(expression.head, np.float32)[:3, :3] @ flip
        if np.abs(head - np.eye(3, dtype=np.float32)).max() > 1e-6:  # (np.allclose: 10x the time)
            if self._head_chain:  # a humanoid: the turn is shared down the neck and spine
                humanoid.turn_head(world, self._head_chain, head)
            else:
                humanoid.turn_subtree(world, self._head_nodes, self._pivot, head)
        yaw, pitch = (float(x) for x in expression.gaze[:2])
        if self._eyes and (yaw or pitch):
            aim = head @ (flip.T @ yaw_pitch(yaw, pitch) @ flip) @ head.T  # gaze is head-relative
            for eye, nodes in self._eyes:
                humanoid.turn_subtree(world, nodes, world[eye][:3, 3].copy(), aim)
        self.springs.advance(world, self.frame_seconds)
        return world

    def _blendshapes(self, expression: Expression) -> np.ndarray:
        shapes = np.asarray(expression.blendshapes, np.float32)
        yaw, pitch = (float(x) for x in expression.gaze[:2])
        if self._eyes or not (yaw or pitch):
            return shapes
        shapes = shapes.copy()
        right, left = max(yaw, 0.0) / GAZE_FULL_SCALE, max(-yaw, 0.0) / GAZE_FULL_SCALE
        up, down = max(pitch, 0.0) / GAZE_FULL_SCALE, max(-pitch, 0.0) / GAZE_FULL_SCALE
        # The viewer's right is the avatar's left: its left eye looks out, its right eye looks in.
        for name, value in (("eyeLookOutLeft", right), ("eyeLookInRight", right),
                            ("eyeLookInLeft", left), ("eyeLookOutRight", left),
                            ("eyeLookUpLeft", up), ("eyeLookUpRight", up),
                            ("eyeLookDownLeft", down), ("eyeLookDownRight", down)):
            k = self._look_channels[name]
            shapes[k] = min(max(shapes[k], value), 1.0)
        return shapes

    def camera(self, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(view, projection) framing the head (and a little of the shoulders) in ``size``, or
        the upper body in the "upper_body" shot."""
        return self._camera(size, self.zoom, self.offset, self.yaw, self.pitch, self.shot)

    def _view_for(self, size: tuple[int, int]) -> _View:
        """The camera and what follows from it, made again only when it moves (a live frame
        usually reuses the last one: 0.4 ms of numpy saved)."""
        key = (size, self.zoom, self.offset, self.yaw, self.pitch, self.shot)
        if self._view is None or self._view.key != key:
            view, proj = self._camera(*key)
            view = view @ self._root
            depth = {id(p): (view @ np.append(p.centre, 1.0))[2] for p in self._primitives}
            opaque = [p for p in self._primitives if p.material.alpha_mode != "BLEND"]
            blended = [p for p in self._primitives if p.material.alpha_mode == "BLEND"]
            opaque.sort(key=lambda p: -depth[id(p)])  # near first: hidden fragments fail early
            blended.sort(key=lambda p: depth[id(p)])  # far (more negative) first
            self._view = _View(key, view.T.tobytes(), proj.T.tobytes(), opaque, blended)
        return self._view

    def _camera(self, size: tuple[int, int], zoom: float, offset: tuple[float, float],
                yaw: float, pitch: float, shot: str) -> tuple[np.ndarray, np.ndarray]:
        body = shot == "upper_body" and self._body_box is not None
        lo, hi = self._body_box if body else self._frame_box
        extent = np.maximum(hi - lo, 1e-6)
        centre = (lo + hi) / 2
        aspect = size[0] / max(size[1], 1)
        fov = math.radians(22.0)
        headed = self._head is not None and not body  # a head shot: room below the chin
        height = extent[1] * (1.55 if headed else 1.25)
        width = extent[0] * (1.6 if headed else 1.25)
        visible = max(height, width / aspect, 1e-6) / zoom
        target = centre.copy()
        if headed:
            target[1] -= 0.12 * extent[1]  # room for the neck and shoulders below the chin
        distance = visible / 2 / math.tan(fov / 2) + extent[2] / 2
        eye = target + distance * np.array([math.sin(yaw) * math.cos(pitch), math.sin(pitch),
                                            math.cos(yaw) * math.cos(pitch)], np.float32)
        near = max(distance * 0.05, 1e-4)
        # pyrr builds matrices for row vectors (v @ M); the shaders and the code here multiply
        # column vectors (M @ v), hence the transposes.
        view = matrix44.create_look_at(eye, target, (0.0, 1.0, 0.0), np.float32).T
        projection = matrix44.create_perspective_projection(
            math.degrees(fov), aspect, near, distance * 20, np.float32).T
        # The scene's offset moves the picture, not the camera: a shift in clip space.
        projection[0, 2] -= 2.0 * offset[0]
        projection[1, 2] -= 2.0 * offset[1]
        return view, projection

    def set_framing(self, framing) -> None:
        """Follow a scene's ``[framing]``: zoom (how much of the frame the head or body fills),
        offset (fractions of the frame, +x right, +y up) and shot ("head" or "upper_body")."""
        self.zoom = float(framing.zoom)
        self.offset = (float(framing.offset[0]), float(framing.offset[1]))
        self.shot = framing.shot

    def render(self, frame: AvatarInput, target: moderngl.Framebuffer) -> None:
        expression = frame.expression
        size = tuple(target.viewport[2:]) if target.viewport else tuple(target.size)
        msaa = self._msaa_layer()
        if msaa is not None:
            msaa.begin(size)
        else:
            target.use()
        shapes = self._blendshapes(expression)
        weights = self.mapping.weights(shapes)
        uv_transforms = self._uv_transforms(shapes)
        colors = self._colors(shapes)
        world = self._posed_world(expression)
        camera = self._view_for(size)
        if self._joint_base:
            rows = []
            for i, base in self._joint_base.items():
                skin = self.model.instances[i].skin
                rows.append(world[skin.joints] @ skin.inverse_binds)
            joints = np.concatenate(rows).transpose(0, 2, 1)  # columns as rows: 4 texels per joint
            self._joints.write(np.ascontiguousarray(joints, np.float32).tobytes(),
                               viewport=(0, 0, 4, len(joints)))
        outlined = [p for p in self._primitives if p.outline_vao is not None] if self.outline else []
        for name in ("avatar_opaque.glsl", "avatar.glsl") + ((OUTLINE_PROGRAM,) if outlined else ()):
            program = self.shaders.get(name)
            program["u_view"].write(camera.view)
            program["u_proj"].write(camera.proj)
            self._set(program, "u_joints", 1)
            self._set(program, "u_morphs", 2)
            self._set(program, "u_texture", 0)
        self._joints.use(1)

        ctx = self.ctx
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.BLEND)
        for prim in camera.opaque:
            self._draw(self.shaders.get(_program_name(prim.material)), prim, world, weights,
                       uv_transforms, colors)
        if outlined:
            # The inverted hull: back faces of the pushed-out surface, behind the real one.
            program = self.shaders.get(OUTLINE_PROGRAM)
            for prim in outlined:
                material = prim.material
                self._set(program, "u_outline_mode", _OUTLINE_MODES[material.outline_mode])
                self._set(program, "u_outline_width", float(material.outline_width))
                self._set(program, "u_outline_color", tuple(colors[prim.material_index, 1]))
                self._set(program, "u_outline_mix", float(material.outline_lighting_mix))
                self._draw(program, prim, world, weights, uv_transforms, colors, outline=True)
            ctx.cull_face = "back"
        if camera.blended:
            ctx.enable(moderngl.BLEND)
            ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
            ctx.depth_mask = False
            for prim in camera.blended:
                self._draw(self.shaders.get(_program_name(prim.material)), prim, world, weights,
                           uv_transforms, colors)
            ctx.depth_mask = True
            ctx.disable(moderngl.BLEND)
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        if msaa is not None:
            msaa.finish(target)

    def _set(self, program: moderngl.Program, name: str, value) -> None:
        # The GLSL compiler drops uniforms a variant does not use. ``name in program`` walks every
        # member each time, so the uniforms are looked up once per compiled program.
        uniforms = self._uniforms.get(id(program))
        if uniforms is None or uniforms[0] is not program:
            uniforms = (program, {n: program[n] for n in program
                                  if isinstance(program[n], moderngl.Uniform)})
            self._uniforms[id(program)] = uniforms
        uniform = uniforms[1].get(name)
        if uniform is not None:
            uniform.value = value

    def _uv_transforms(self, shapes: np.ndarray) -> np.ndarray:
        """(materials + 1, 4) offset.xy, scale.xy per material after VRM texture-transform binds;
        the last row is for primitives without a material."""
        table = self._uv_rest
        if self._uv_binds:
            table = table.copy()
            values = self.mapping.expression_weights(shapes)
            for expression, material, delta in self._uv_binds:
                table[material] += values[expression] * delta
        return table

    def _colors(self, shapes: np.ndarray) -> np.ndarray:
        """(materials + 1, 5, 4) colours per material (see _color_tables) after VRM colour binds."""
        table = self._colors_rest
        if self._color_binds:
            table = table.copy()
            values = self.mapping.expression_weights(shapes)
            for expression, material, row, delta in self._color_binds:
                table[material, row] += values[expression] * delta
        return table

    def _draw(self, program: moderngl.Program, prim: _GpuPrimitive, world: np.ndarray,
              weights: np.ndarray, uv_transforms: np.ndarray, colors: np.ndarray,
              outline: bool = False) -> None:
        inst = self.model.instances[prim.instance]
        offset = self.mapping.offsets[prim.instance]
        morphed = False
        if prim.morphs is not None:
            local = weights[offset: offset + min(len(inst.target_names), MAX_TARGETS)]
            morphed = bool(local.any())
            if morphed:
                padded = np.zeros(MAX_TARGETS, np.float32)
                padded[: len(local)] = local
                program["u_weights"].write(padded.tobytes())
                prim.morphs.use(2)
        self._set(program, "u_morphed", morphed)
        self._set(program, "u_skinned", prim.skinned)
        if prim.skinned:
            self._set(program, "u_joint_base", self._joint_base[prim.instance])
        else:
            program["u_model"].write(world[inst.node].T.copy().tobytes())
        material = prim.material
        self._set(program, "u_uv_transform", tuple(uv_transforms[prim.material_index]))
        self._set(program, "u_base_color", tuple(colors[prim.material_index, 0].tolist()))
        self._set(program, "u_has_texture", prim.texture is not None)
        if prim.texture is not None:
            prim.texture.use(0)
        self._set(program, "u_alpha_mode", _ALPHA_MODES.get(material.alpha_mode, 0))
        self._set(program, "u_alpha_cutoff", float(material.alpha_cutoff))
        toon = bool(material.toon if self.toon is None else self.toon)
        self._set(program, "u_toon", toon)
        mtoon = material.mtoon if toon else None
        self._set(program, "u_mtoon", mtoon is not None)
        row = colors[prim.material_index]
        if mtoon is not None:
            self._set(program, "u_shade_color", tuple(row[2, :3].tolist()))
            self._set(program, "u_shade_range", (mtoon.shade_from, mtoon.shade_to, float(mtoon.shade_smooth)))
            self._set(program, "u_rim", (mtoon.rim_power, mtoon.rim_lift))
            self._set(program, "u_add_color", tuple(row[3, :3].tolist()))
            self._set(program, "u_rim_mix", mtoon.rim_lighting_mix)
        else:  # the lit highlight, white
            self._set(program, "u_add_color", (1.0, 1.0, 1.0))
            self._set(program, "u_rim_mix", 0.0)
        self._set(program, "u_emission", tuple(row[4, :3].tolist()))
        self._set(program, "u_two_sided", material.double_sided)
        if outline:
            self.ctx.enable(moderngl.CULL_FACE)
            self.ctx.cull_face = "front"
            prim.outline_vao.render(moderngl.TRIANGLES)
            return
        if material.double_sided:
            self.ctx.disable(moderngl.CULL_FACE)
        else:
            self.ctx.enable(moderngl.CULL_FACE)
        prim.vao.render(moderngl.TRIANGLES)

    def release(self) -> None:
        for prim in self._primitives:
            prim.vao.release()
            if prim.outline_vao is not None:
                prim.outline_vao.release()
            for buffer in prim.buffers:
                buffer.release()
            if prim.morphs is not None:
                prim.morphs.release()
        self._primitives = []
        self._view = None
        for texture in self._textures.values():
            texture.release()
        self._textures.clear()
        if self._joints is not None:
            self._joints.release()
            self._joints = None
        if self._msaa is not None:
            self._msaa.release()
            self._msaa = None
