"""Reading glTF 2.0 and VRM models into plain arrays the renderer uploads once.

pygltflib parses the JSON schema; this module does the rest a renderer needs and a careful loader
must check: the GLB container, buffers (GLB chunk, base64 ``data:`` URIs, ``.bin`` files beside the
model), accessors decoded with numpy and bounds-checked against their buffer views, base-colour
textures decoded with Pillow, the node hierarchy, morph targets (POSITION and NORMAL deltas), and
the VRM extras: VRM 0.x ``VRM`` blend-shape groups and VRM 1.0 ``VRMC_vrm`` expressions, both
normalised to VRM 1.0 preset names, plus the humanoid head and eye bones.

Files are untrusted. Every size is bounded, every index checked, and anything malformed raises
``AssetError`` naming the file and the broken field. Extensions this loader does not understand are
logged and ignored: a model with an unknown extension still renders.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import AssetError
from engine.images import decode_image
from engine.safety import regular_file

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_TEXTURE_SIDE = 4096
MAX_VERTICES = 2_000_000
MAX_MORPH_TARGETS = 512
MAX_NODES = 4096  # a VRM has a few hundred; pygltflib takes about a second per thousand
MAX_NODE_DEPTH = 128  # a humanoid skeleton is about 15 deep, to a fingertip
# Every mesh instance is decoded on load and each of its primitives is a draw call every frame:
# a VRM has tens of draws; 5000 instances in a 97 KB file render at 3 fps on a laptop.
MAX_MESH_INSTANCES = 256
# Spring bones are simulated on the CPU every frame (engine/avatar/spring_bones.py): a VRM has
# tens to a few hundred joints and a few tens of colliders.
MAX_SPRING_JOINTS = 1024
MAX_SPRING_COLLIDERS = 256
_UNITY_TO_VRM0 = np.array([1.0, 1.0, -1.0], np.float32)
VRM0_LEAF_TAIL = 0.07  # metres: UniVRM's virtual tail beyond a VRM 0.x chain's last bone
MAX_DRAWS = 512
# json (and pygltflib after it) recurse once per nesting level; a glTF nests less than ten deep.
MAX_JSON_DEPTH = 64

_GLB_MAGIC = b"glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942
_COMPONENT_DTYPES = {
    5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32,
}
_TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_UNDERSTOOD_EXTENSIONS = {
    "KHR_materials_unlit", "VRM", "VRMC_vrm", "VRMC_materials_mtoon", "VRMC_springBone",
    "VRMC_node_constraint", "KHR_texture_transform", "KHR_materials_emissive_strength",
}

# VRM 0.x preset names → the VRM 1.0 names the engine uses throughout.
VRM0_PRESETS = {
    "a": "aa", "i": "ih", "u": "ou", "e": "ee", "o": "oh",
    "joy": "happy", "angry": "angry", "sorrow": "sad", "fun": "relaxed", "surprised": "surprised",
    "blink": "blink", "blink_l": "blinkLeft", "blink_r": "blinkRight",
    "lookup": "lookUp", "lookdown": "lookDown", "lookleft": "lookLeft", "lookright": "lookRight",
    "neutral": "neutral",
}


@dataclass
class Material:
    """What the shaders need of a glTF material (metallic-roughness is approximated as lit)."""

    name: str
    base_color: np.ndarray  # (4,) float32 linear RGBA factor
    texture: np.ndarray | None = None  # (H, W, 4) uint8 RGBA, row 0 = top of the image
    alpha_mode: str = "OPAQUE"  # OPAQUE, MASK or BLEND
    alpha_cutoff: float = 0.5
    double_sided: bool = False
    toon: bool = False  # MToon (VRM) or unlit: flat, cel-shaded look
    # KHR_texture_transform of the base-colour texture: uv' = uv * scale + offset (no rotation).
    uv_offset: tuple[float, float] = (0.0, 0.0)
    uv_scale: tuple[float, float] = (1.0, 1.0)
    # MToon outline (drawn only when the renderer is asked to): "none", "world" (width in
    # metres) or "screen" (width as a fraction of the frame's height).
    outline_mode: str = "none"
    outline_width: float = 0.0
    outline_color: np.ndarray = field(default_factory=lambda: np.array([0, 0, 0, 1], np.float32))
    outline_lighting_mix: float = 1.0  # 0: flat outline colour, 1: lit like the surface
    # (H, W) float32 0..1 outline width multiplier (VRM 0.x _OutlineWidthTexture red channel,
    # VRM 1.0 outlineWidthMultiplyTexture green channel), sampled at the vertices on load.
    outline_width_mask: np.ndarray | None = None
    # MToon shading as authored; None (a plain glTF or unlit material) keeps the engine's toon
    # look. Colours are sRGB-encoded like base_color's texture; see MToon below.
    mtoon: MToon | None = None
    emission: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))  # added, sRGB


@dataclass
class MToon:
    """The MToon settings the toon shader draws (VRM 0.x shader properties or VRM 1.0
    VRMC_materials_mtoon): the shade colour the lit colour turns into across the terminator
    (where dot(normal, light) runs from ``shade_shift`` to ``shade_shift + 1 - shade_toony``), a
    parametric rim ``rim_color * (1 - n.v + rim_lift) ** rim_power`` (mixed with the light by
    ``rim_lighting_mix``) and an emissive colour added. Textures for shade, rim and emission are
    not sampled: the main texture stands for the shade texture (VRoid exports them equal).
    The emissive colour is the material's (``Material.emission``)."""

    shade_color: np.ndarray = field(default_factory=lambda: np.array([1, 1, 1, 1], np.float32))
    # dot(normal, light) where the shade colour starts turning into the lit one, where it is
    # lit, and whether the turn is a smoothstep (MToon 0.x) or linear (1.0).
    shade_from: float = -0.1
    shade_to: float = 0.1
    shade_smooth: bool = False
    rim_color: np.ndarray = field(default_factory=lambda: np.array([0, 0, 0, 1], np.float32))
    rim_power: float = 1.0
    rim_lift: float = 0.0
    rim_lighting_mix: float = 0.0


@dataclass
class Primitive:
    """One triangle list with one material; morph arrays are (targets, vertices, 3)."""

    positions: np.ndarray  # (N, 3) float32
    normals: np.ndarray  # (N, 3) float32
    uvs: np.ndarray  # (N, 2) float32
    indices: np.ndarray  # (M,) uint32, M divisible by 3
    material: int | None
    joints: np.ndarray | None = None  # (N, 4) uint16 indices into the skin's joint list
    weights: np.ndarray | None = None  # (N, 4) float32
    morph_positions: np.ndarray | None = None  # (T, N, 3) float32 deltas
    morph_normals: np.ndarray | None = None  # (T, N, 3) float32 deltas


@dataclass
class Skin:
    joints: list[int]  # node indices
    inverse_binds: np.ndarray  # (J, 4, 4) float32, column vectors (row-major here)


@dataclass
class MeshInstance:
    """A mesh placed by a node; all its primitives share one list of morph targets."""

    node: int
    mesh: int
    name: str
    primitives: list[Primitive]
    target_names: list[str]
    default_weights: np.ndarray  # (T,) float32
    skin: Skin | None = None


@dataclass
class ExpressionBind:
    instance: int  # index into Model.instances
    target: int  # morph target index within that instance's mesh
    weight: float  # 0..1


@dataclass
class TextureBind:
    """VRM 1.0 textureTransformBind: at full weight the material's texture transform becomes this."""

    material: int
    offset: tuple[float, float]
    scale: tuple[float, float]


@dataclass
class VrmExpression:
    """A VRM preset or custom expression: morph binds plus VRM 1.0's binary/override rules."""

    name: str  # VRM 1.0 preset name (aa, blink, happy, ...) or the custom name
    binds: list[ExpressionBind] = field(default_factory=list)
    is_binary: bool = False
    override_blink: str = "none"  # none, block or blend
    override_look_at: str = "none"
    override_mouth: str = "none"
    texture_binds: list[TextureBind] = field(default_factory=list)
    color_binds: list[ColorBind] = field(default_factory=list)
    other_binds: int = 0  # material binds of kinds the renderer does not draw


@dataclass
class ColorBind:
    """A VRM material colour bind: at full weight the material's colour becomes ``target``."""

    material: int
    kind: str  # one of COLOR_BIND_KINDS (base, outline, shade, rim, emission colour)
    target: np.ndarray  # (4,) float32 linear RGBA


@dataclass
class SpringCollider:
    """A sphere (or, VRM 1.0, a capsule from ``offset`` to ``tail``) moving with ``node``."""

    node: int
    offset: np.ndarray  # (3,) in the node's local frame
    radius: float
    tail: np.ndarray | None = None  # (3,) capsule end in the node's local frame


@dataclass
class SpringJoint:
    """One swinging segment: ``node`` turns so that ``tail`` (in its rest local frame: where its
    child, or a virtual child, sits) follows verlet physics."""

    node: int
    tail: np.ndarray  # (3,) in the node's local frame
    stiffness: float  # pull back towards the rest direction, per second
    drag: float  # 0..1, velocity lost per step
    gravity: np.ndarray  # (3,) model-space direction times power
    hit_radius: float
    colliders: tuple[int, ...]  # indices into Model.spring_colliders


@dataclass
class Node:
    name: str
    parent: int | None
    local: np.ndarray  # (4, 4) float32, column-vector convention (translation in [:3, 3])
    children: list[int] = field(default_factory=list)


@dataclass
class Model:
    """Everything the renderer and the expression mapping need from one file."""

    path: Path
    nodes: list[Node]
    instances: list[MeshInstance]
    materials: list[Material]
    expressions: dict[str, VrmExpression] = field(default_factory=dict)
    vrm_version: str | None = None  # "0.x", "1.0" or None for plain glTF
    bones: dict[str, int] = field(default_factory=dict)  # humanoid bone name → node
    look_at_type: str | None = None  # "bone" or "expression" for VRM models
    spring_joints: list[SpringJoint] = field(default_factory=list)
    spring_colliders: list[SpringCollider] = field(default_factory=list)
    extensions_ignored: list[str] = field(default_factory=list)

    @property
    def faces_minus_z(self) -> bool:
        """VRM 0.x models face -Z; glTF and VRM 1.0 face +Z."""
        return self.vrm_version == "0.x"

    def world_matrices(self) -> np.ndarray:
        """(nodes, 4, 4) rest-pose world matrices."""
        world = np.zeros((len(self.nodes), 4, 4), np.float32)
        done = np.zeros(len(self.nodes), bool)
        for index in range(len(self.nodes)):
            chain = []
            i: int | None = index
            while i is not None and not done[i]:
                chain.append(i)
                i = self.nodes[i].parent
            for j in reversed(chain):
                parent = self.nodes[j].parent
                world[j] = self.nodes[j].local if parent is None else world[parent] @ self.nodes[j].local
                done[j] = True
        return world

    @property
    def target_names(self) -> list[tuple[int, int, str]]:
        """Every morph target as (instance, target, name)."""
        return [(i, t, name) for i, inst in enumerate(self.instances)
                for t, name in enumerate(inst.target_names)]


class _Reader:
    """Decodes one file's buffers, accessors and images, checking every bound."""

    def __init__(self, path: Path, gltf, binary_chunk: bytes | None) -> None:
        self.path = path
        self.gltf = gltf
        self._binary_chunk = binary_chunk
        self._buffers: dict[int, bytes] = {}

    def fail(self, where: str, why: str) -> AssetError:
        return AssetError(f"{self.path}: {where}: {why}")

    def item(self, items: list, index, where: str):
        if not isinstance(index, int) or not 0 <= index < len(items or []):
            raise self.fail(where, f"index {index!r} out of range (file has {len(items or [])})")
        if items[index] is None:
            raise self.fail(where, f"entry {index} is null")
        return items[index]

    def buffer(self, index: int) -> bytes:
        if index in self._buffers:
            return self._buffers[index]
        buffer = self.item(self.gltf.buffers, index, f"buffers[{index}]")
        where = f"buffers[{index}]"
        if buffer.uri is None:
            if index != 0 or self._binary_chunk is None:
                raise self.fail(where, "has no uri and the file has no GLB binary chunk")
            data = self._binary_chunk
        else:
            data = self._read_uri(buffer.uri, where)
        if buffer.byteLength is None or len(data) < buffer.byteLength:
            raise self.fail(f"{where}.byteLength",
                            f"says {buffer.byteLength} bytes but {len(data)} are present")
        self._buffers[index] = data
        return data

    def _read_uri(self, uri: str, where: str) -> bytes:
        if uri.startswith("data:"):
            header, _, payload = uri.partition(",")
            if not header.endswith(";base64"):
                raise self.fail(f"{where}.uri", "only base64 data URIs are supported")
            if len(payload) > MAX_FILE_BYTES * 4 // 3:
                raise self.fail(f"{where}.uri", "embedded data is too large")
            try:
                return base64.b64decode(payload, validate=True)
            except ValueError as error:
                raise self.fail(f"{where}.uri", f"invalid base64 ({error})") from error
        target = _local_file(self.path, uri, f"{where}.uri")
        return regular_file.read_bytes(
            target, MAX_FILE_BYTES, lambda reason: self.fail(f"{where}.uri", f"{uri!r}: {reason}"))

    def buffer_view(self, index: int, where: str) -> tuple[bytes, int, int, int | None]:
        """(buffer bytes, start, length, stride) of a buffer view, bounds checked."""
        view = self.item(self.gltf.bufferViews, index, where)
        data = self.buffer(view.buffer)
        start = view.byteOffset or 0
        if view.byteLength is None or start < 0 or start + view.byteLength > len(data):
            raise self.fail(f"bufferViews[{index}]",
                            f"bytes {start}..{start + (view.byteLength or 0)} exceed buffer "
                            f"{view.buffer} ({len(data)} bytes)")
        return data, start, view.byteLength, view.byteStride

    def accessor(self, index, where: str) -> np.ndarray:
        """The accessor as a (count, components) array; normalised integers become floats."""
        where = f"{where} (accessors[{index}])"
        acc = self.item(self.gltf.accessors, index, where)
        dtype = _COMPONENT_DTYPES.get(acc.componentType)
        width = _TYPE_SIZES.get(acc.type)
        if dtype is None or width is None:
            raise self.fail(where, f"unsupported componentType {acc.componentType} / type {acc.type}")
        count = acc.count
        if not isinstance(count, int) or not 0 <= count <= MAX_VERTICES * 3:
            raise self.fail(where, f"count {count!r} is out of bounds")
        itemsize = np.dtype(dtype).itemsize * width
        if acc.bufferView is None:
            values = np.zeros((count, width), dtype)
        else:
            data, start, length, stride = self.buffer_view(acc.bufferView, where)
            stride = stride or itemsize
            offset = acc.byteOffset or 0
            span = stride * (count - 1) + itemsize if count else 0
            if offset < 0 or offset + span > length:
                raise self.fail(where, f"reads {offset + span} bytes from bufferViews[{acc.bufferView}] "
                                       f"which holds {length}")
            raw = np.frombuffer(data, np.uint8, count=length, offset=start)[offset:offset + span]
            if stride == itemsize:
                values = raw.view(dtype).reshape(count, width).copy() if count else np.zeros((0, width), dtype)
            else:
                rows = np.lib.stride_tricks.as_strided(raw, (count, itemsize), (stride, 1))
                values = np.ascontiguousarray(rows).view(dtype).reshape(count, width)
        if acc.sparse is not None:
            values = self._apply_sparse(values, acc.sparse, count, where)
        if acc.normalized and dtype != np.float32:
            values = np.maximum(values / float(np.iinfo(dtype).max), -1.0)
        return values

    def _apply_sparse(self, values: np.ndarray, sparse, count: int, where: str) -> np.ndarray:
        n = sparse.count
        idx_type = _COMPONENT_DTYPES.get(sparse.indices.componentType)
        if idx_type is None or not 0 < n <= count:
            raise self.fail(f"{where}.sparse", "bad count or index type")
        data, start, length, _ = self.buffer_view(sparse.indices.bufferView, f"{where}.sparse.indices")
        off = sparse.indices.byteOffset or 0
        size = np.dtype(idx_type).itemsize * n
        if off + size > length:
            raise self.fail(f"{where}.sparse.indices", "past the end of its buffer view")
        indices = np.frombuffer(data, idx_type, n, start + off).astype(np.int64)
        if indices.max(initial=0) >= count:
            raise self.fail(f"{where}.sparse.indices", "index beyond the accessor's count")
        data, start, length, _ = self.buffer_view(sparse.values.bufferView, f"{where}.sparse.values")
        off = sparse.values.byteOffset or 0
        width = values.shape[1]
        size = values.dtype.itemsize * width * n
        if off + size > length:
            raise self.fail(f"{where}.sparse.values", "past the end of its buffer view")
        values = values.copy()
        values[indices] = np.frombuffer(data, values.dtype, n * width, start + off).reshape(n, width)
        return values

    def image(self, index: int) -> np.ndarray:
        """(H, W, 4) uint8 RGBA of ``images[index]``."""
        where = f"images[{index}]"
        img = self.item(self.gltf.images, index, where)
        if img.bufferView is not None:
            data, start, length, _ = self.buffer_view(img.bufferView, where)
            blob = data[start:start + length]
        elif img.uri:
            blob = self._read_uri(img.uri, where)
        else:
            raise self.fail(where, "has neither bufferView nor uri")
        picture = decode_image(blob, f"{self.path}: {where}", "RGBA", max_side=MAX_TEXTURE_SIDE,
                               max_pixels=MAX_TEXTURE_SIDE ** 2, formats=("PNG", "JPEG", "WEBP"))
        return np.asarray(picture)


def split_glb(path: Path, data: bytes) -> tuple[str, bytes | None]:
    """The JSON text and binary chunk of a GLB file, after checking its header and chunks."""
    if len(data) < 20:
        raise AssetError(f"{path}: GLB header: file is only {len(data)} bytes")
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    if magic != _GLB_MAGIC or version != 2:
        raise AssetError(f"{path}: GLB header: not a glTF 2.0 binary (magic {magic!r}, version {version})")
    if length > len(data):
        raise AssetError(f"{path}: GLB header: declares {length} bytes but the file has {len(data)} "
                         "(truncated?)")
    offset, text, binary = 12, None, None
    while offset + 8 <= length:
        chunk_length, chunk_type = struct.unpack_from("<II", data, offset)
        body = offset + 8
        if body + chunk_length > length:
            raise AssetError(f"{path}: GLB chunk at byte {offset}: {chunk_length} bytes run past the "
                             "end of the file (truncated?)")
        if chunk_type == _CHUNK_JSON and text is None:
            try:
                text = data[body:body + chunk_length].decode("utf-8")
            except UnicodeDecodeError as error:
                raise AssetError(f"{path}: GLB JSON chunk: not UTF-8 ({error})") from error
        elif chunk_type == _CHUNK_BIN and binary is None:
            binary = data[body:body + chunk_length]
        offset = body + chunk_length
    if text is None:
        raise AssetError(f"{path}: GLB: no JSON chunk")
    return text, binary


def _local_file(model: Path, uri: str, where: str) -> Path:
    """The file a (non-``data:``) URI names, checked: beside the model and present (reading it
    is bounded by ``regular_file``)."""
    folder = model.parent.resolve()
    target = (folder / uri).resolve()
    if folder not in target.parents:  # a model may only read files beside it
        raise AssetError(f"{model}: {where}: {uri!r} points outside the model's folder")
    if not target.is_file():
        raise AssetError(f"{model}: {where}: {uri!r} does not exist")
    return target


def _read_json_text(path: Path) -> tuple[str, bytes | None]:
    """The glTF JSON and GLB binary chunk of a model file, size-checked."""
    data = regular_file.read_bytes(path, MAX_FILE_BYTES,
                                   lambda reason: AssetError(f"{path}: model file: {reason}"))
    if data[:4] == _GLB_MAGIC:
        return split_glb(path, data)
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        raise AssetError(f"{path}: neither a GLB binary nor UTF-8 glTF JSON") from error


def external_files(path: str | Path) -> list[Path]:
    """The files besides itself that a model reads: ``.bin`` buffers and image files named by
    URI. Whoever signs a model's likeness must cover these too (engine.safety.consent)."""
    path = Path(path)
    text, _ = _read_json_text(path)
    raw = _json_document(path, text)
    files: list[Path] = []
    for group in ("buffers", "images"):
        items = raw.get(group) if isinstance(raw, dict) else None
        for n, item in enumerate(items if isinstance(items, list) else []):
            uri = item.get("uri") if isinstance(item, dict) else None
            if isinstance(uri, str) and not uri.startswith("data:"):
                found = _local_file(path, uri, f"{group}[{n}].uri")
                if found not in files:
                    files.append(found)
    return files


def thumbnail(path: str | Path) -> np.ndarray | None:
    """(H, W, 4) uint8 RGBA of the picture a VRM's author chose to show it by (VRM 0.x
    ``meta.texture``, VRM 1.0 ``meta.thumbnailImage``), or None when it names none."""
    path = Path(path)
    text, binary = _read_json_text(path)
    gltf = _parse_json(path, text)
    reader = _Reader(path, gltf, binary)
    extensions = gltf.extensions or {}
    if isinstance(extensions.get("VRMC_vrm"), dict):
        image = (extensions["VRMC_vrm"].get("meta") or {}).get("thumbnailImage")
        return None if image is None else reader.image(image)
    if isinstance(extensions.get("VRM"), dict):
        texture = (extensions["VRM"].get("meta") or {}).get("texture")
        if texture is None or texture < 0:
            return None
        source = reader.item(gltf.textures, texture, "extensions.VRM.meta.texture").source
        return None if source is None else reader.image(source)
    return None


# A JSON string (escapes included), and anything that is not a bracket.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _json_document(path: Path, text: str):
    """The parsed JSON of a model, after refusing nesting deeper than ``MAX_JSON_DEPTH``: the
    parsers recurse per level, and 100 000 brackets would exhaust Python's stack."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).encode("ascii")
    if brackets:
        steps = np.frombuffer(brackets, np.uint8)
        opening = (steps == ord("[")) | (steps == ord("{"))
        depth = int(np.cumsum(np.where(opening, 1, -1), dtype=np.int64).max())
        if depth > MAX_JSON_DEPTH:
            raise AssetError(f"{path}: JSON: nested {depth} levels deep; the limit is "
                             f"{MAX_JSON_DEPTH}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise AssetError(f"{path}: JSON: {error}") from None


def _check_budget(path: Path, raw: dict) -> None:
    """Refuse, before the schema parse and any decoding, more nodes, mesh instances or draws
    per frame than an avatar can afford (every primitive of every placed mesh is one draw
    call each frame). Malformed entries are left to the schema checks that follow."""
    nodes = raw.get("nodes") if isinstance(raw.get("nodes"), list) else []
    placed = [node["mesh"] for node in nodes if isinstance(node, dict) and "mesh" in node]
    if len(placed) > MAX_MESH_INSTANCES:
        raise AssetError(f"{path}: nodes: {len(placed)} nodes place a mesh; the limit is "
                         f"{MAX_MESH_INSTANCES} mesh instances")
    meshes = raw.get("meshes") if isinstance(raw.get("meshes"), list) else []
    draws = 0
    for index in placed:
        mesh = meshes[index] if isinstance(index, int) and 0 <= index < len(meshes) else None
        primitives = mesh.get("primitives") if isinstance(mesh, dict) else None
        draws += len(primitives) if isinstance(primitives, list) else 0
    if draws > MAX_DRAWS:
        raise AssetError(f"{path}: meshes: the placed meshes have {draws} primitives, each a "
                         f"draw call per frame; the limit is {MAX_DRAWS}")
    if len(nodes) > MAX_NODES:
        raise AssetError(f"{path}: nodes: {len(nodes)} nodes; the limit is {MAX_NODES}")


def _parse_json(path: Path, text: str):
    import pygltflib

    raw = _json_document(path, text)
    if not isinstance(raw, dict) or "asset" not in raw:
        raise AssetError(f"{path}: JSON: top level has no 'asset' object; not a glTF file")
    version = str(raw["asset"].get("version", "")) if isinstance(raw["asset"], dict) else ""
    if not version.startswith("2."):
        raise AssetError(f"{path}: asset.version: {version!r} is not glTF 2.x")
    _check_budget(path, raw)
    try:
        return pygltflib.GLTF2.gltf_from_json(text)
    except Exception as error:  # pygltflib raises assorted dataclass errors on schema mismatches
        raise AssetError(f"{path}: JSON: does not match the glTF schema ({error})") from error


def _local_matrix(node) -> np.ndarray:
    if node.matrix is not None:
        return np.asarray(node.matrix, np.float32).reshape(4, 4).T  # glTF stores column-major
    t = np.asarray(node.translation or (0, 0, 0), np.float32)
    x, y, z, w = node.rotation or (0, 0, 0, 1)
    s = np.asarray(node.scale or (1, 1, 1), np.float32)
    rotation = np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ], np.float32)
    matrix = np.eye(4, dtype=np.float32)
    matrix[:3, :3] = rotation * s
    matrix[:3, 3] = t
    return matrix


def _flat_normals(positions: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals for primitives that ship without NORMAL."""
    tris = positions[indices.reshape(-1, 3)]
    face = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    normals = np.zeros_like(positions)
    for corner in range(3):
        np.add.at(normals, indices.reshape(-1, 3)[:, corner], face)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return (normals / np.maximum(length, 1e-12)).astype(np.float32)


def _read_primitive(reader: _Reader, prim, where: str) -> Primitive | None:
    if (prim.mode if prim.mode is not None else 4) != 4:
        log.info("%s: %s: mode %s is not a triangle list; skipped", reader.path, where, prim.mode)
        return None
    attrs = prim.attributes
    if attrs.POSITION is None:
        raise reader.fail(where, "has no POSITION attribute")
    positions = reader.accessor(attrs.POSITION, f"{where}.POSITION").astype(np.float32)
    n = len(positions)
    if positions.shape[1] != 3 or n > MAX_VERTICES:
        raise reader.fail(f"{where}.POSITION", f"expected up to {MAX_VERTICES} VEC3, got {positions.shape}")

    def attribute(index, name: str, width: int) -> np.ndarray | None:
        if index is None:
            return None
        values = reader.accessor(index, f"{where}.{name}")
        if values.shape != (n, width):
            raise reader.fail(f"{where}.{name}", f"shape {values.shape} does not match {n} vertices")
        return values

    if prim.indices is not None:
        indices = reader.accessor(prim.indices, f"{where}.indices").reshape(-1).astype(np.uint32)
    else:
        indices = np.arange(n, dtype=np.uint32)
    indices = indices[: len(indices) // 3 * 3]
    if len(indices) and int(indices.max()) >= n:
        raise reader.fail(f"{where}.indices", f"refers to vertex {int(indices.max())} of {n}")
    normals = attribute(attrs.NORMAL, "NORMAL", 3)
    normals = _flat_normals(positions, indices) if normals is None else normals.astype(np.float32)
    uvs = attribute(attrs.TEXCOORD_0, "TEXCOORD_0", 2)
    uvs = np.zeros((n, 2), np.float32) if uvs is None else uvs.astype(np.float32)
    joints = attribute(attrs.JOINTS_0, "JOINTS_0", 4)
    weights = attribute(attrs.WEIGHTS_0, "WEIGHTS_0", 4)
    targets = prim.targets or []
    if len(targets) > MAX_MORPH_TARGETS:
        raise reader.fail(f"{where}.targets", f"{len(targets)} targets exceed {MAX_MORPH_TARGETS}")
    morph_positions = morph_normals = None
    if targets:
        morph_positions = np.zeros((len(targets), n, 3), np.float32)
        morph_normals = np.zeros((len(targets), n, 3), np.float32)
        for t, target in enumerate(targets):
            if not isinstance(target, dict):
                raise reader.fail(f"{where}.targets[{t}]", "is not an object")
            if target.get("POSITION") is not None:
                morph_positions[t] = attribute(target["POSITION"], f"targets[{t}].POSITION", 3)
            if target.get("NORMAL") is not None:
                morph_normals[t] = attribute(target["NORMAL"], f"targets[{t}].NORMAL", 3)
    return Primitive(
        positions=positions, normals=normals, uvs=uvs, indices=indices, material=prim.material,
        joints=None if joints is None or weights is None else joints.astype(np.uint16),
        weights=None if joints is None or weights is None else weights.astype(np.float32),
        morph_positions=morph_positions, morph_normals=morph_normals,
    )


def _read_materials(reader: _Reader, vrm0_props: dict[int, dict]) -> list[Material]:
    materials = []
    images: dict[int, np.ndarray] = {}
    for m, mat in enumerate(reader.gltf.materials or []):
        pbr = mat.pbrMetallicRoughness
        color = np.asarray((pbr.baseColorFactor if pbr and pbr.baseColorFactor else [1, 1, 1, 1]),
                           np.float32)
        texture = None
        if pbr and pbr.baseColorTexture is not None:
            tex = reader.item(reader.gltf.textures, pbr.baseColorTexture.index,
                              f"materials[{m}].baseColorTexture")
            if tex.source is not None:
                if tex.source not in images:
                    images[tex.source] = reader.image(tex.source)
                texture = images[tex.source]
        offset, scale = (0.0, 0.0), (1.0, 1.0)
        if pbr and pbr.baseColorTexture is not None:
            transform = (pbr.baseColorTexture.extensions or {}).get("KHR_texture_transform")
            if isinstance(transform, dict):
                where = f"materials[{m}].baseColorTexture.extensions.KHR_texture_transform"
                offset = _pair(reader, transform.get("offset", (0.0, 0.0)), f"{where}.offset")
                scale = _pair(reader, transform.get("scale", (1.0, 1.0)), f"{where}.scale")
        extensions = mat.extensions or {}
        shader = str(vrm0_props.get(m, {}).get("shader", ""))
        toon = ("KHR_materials_unlit" in extensions or "VRMC_materials_mtoon" in extensions
                or "MToon" in shader or "Unlit" in shader)
        material = Material(
            name=mat.name or f"material{m}", base_color=color, texture=texture,
            alpha_mode=mat.alphaMode or "OPAQUE",
            alpha_cutoff=mat.alphaCutoff if mat.alphaCutoff is not None else 0.5,
            double_sided=bool(mat.doubleSided), toon=toon, uv_offset=offset, uv_scale=scale,
        )
        # glTF's emissive factor is linear, like VRM 1.0's colours; VRM 0.x MToon below
        # replaces it with its own _EmissionColor.
        emissive = _vector(reader, mat.emissiveFactor, f"materials[{m}].emissiveFactor", 3, (0, 0, 0))
        strength = (extensions.get("KHR_materials_emissive_strength") or {}).get("emissiveStrength")
        emissive = emissive * _number(reader, strength, f"materials[{m}].extensions."
                                      "KHR_materials_emissive_strength.emissiveStrength", 1.0)
        material.emission = linear_to_srgb(np.append(emissive, 1.0).astype(np.float32))
        if isinstance(extensions.get("VRMC_materials_mtoon"), dict):
            where = f"materials[{m}].extensions.VRMC_materials_mtoon"
            _read_mtoon1_outline(reader, material, extensions["VRMC_materials_mtoon"], where)
            material.mtoon = _read_mtoon1(reader, extensions["VRMC_materials_mtoon"], where)
            # Lit and shade colours are mixed as authored only when both are held alike.
            material.base_color = linear_to_srgb(material.base_color)
            material.outline_width_mask = _mask(reader, extensions["VRMC_materials_mtoon"].get(
                "outlineWidthMultiplyTexture"), 1, images, f"{where}.outlineWidthMultiplyTexture")
        elif "MToon" in shader:
            where = f"extensions.VRM.materialProperties[{m}]"
            _read_mtoon0_outline(reader, material, vrm0_props[m], where)
            material.mtoon, material.emission = _read_mtoon0(reader, vrm0_props[m], where)
            index = (vrm0_props[m].get("textureProperties") or {}).get("_OutlineWidthTexture")
            material.outline_width_mask = _mask(
                reader, None if index is None else {"index": index}, 0, images,
                f"{where}.textureProperties._OutlineWidthTexture")
        materials.append(material)
    return materials


def _number(reader: _Reader, value, where: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise reader.fail(where, f"expected a finite number, got {value!r}")
    return float(value)


def _vector(reader: _Reader, value, where: str, size: int, default) -> np.ndarray:
    """A list of ``size`` finite numbers (a colour may leave out its alpha: it is then 1)."""
    if value is None:
        return np.asarray(default, np.float32)
    if isinstance(value, dict):  # VRM 0.x writes vectors as {"x": .., "y": .., "z": ..}
        value = [value.get(k, 0.0) for k in "xyzw"[:size]]
    if (not isinstance(value, (list, tuple)) or not size - 1 <= len(value) <= size
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and math.isfinite(v) for v in value)):
        raise reader.fail(where, f"expected {size} finite numbers, got {value!r}")
    return np.asarray(list(value) + [1.0] * (size - len(value)), np.float32)


def _mask(reader: _Reader, info, channel: int, images: dict[int, np.ndarray], where: str) -> np.ndarray | None:
    """(H, W) float32 0..1: one channel of the texture a textureInfo (``{"index": ..}``) names."""
    if info is None:
        return None
    if not isinstance(info, dict):
        raise reader.fail(where, f"expected a textureInfo object, got {info!r}")
    texture = reader.item(reader.gltf.textures, info.get("index"), f"{where}.index")
    if texture.source is None:
        return None
    if texture.source not in images:
        images[texture.source] = reader.image(texture.source)
    return images[texture.source][:, :, channel].astype(np.float32) / 255.0


def _read_mtoon0(reader: _Reader, props: dict, where: str) -> tuple[MToon, np.ndarray]:
    """MToon 0.x's shading (vector colours are gamma-space, as the renderer's are) and its
    emission colour. Its shade turn: smoothstep(_ShadeShift, _ShadeShift + 1 - _ShadeToony)."""
    floats, vectors = props.get("floatProperties") or {}, props.get("vectorProperties") or {}

    def value(name: str, default: float) -> float:
        return _number(reader, floats.get(name), f"{where}.floatProperties.{name}", default)

    def color(name: str, default) -> np.ndarray:
        return _vector(reader, vectors.get(name), f"{where}.vectorProperties.{name}", 4, default)

    shift, toony = value("_ShadeShift", 0.0), min(max(value("_ShadeToony", 0.9), 0.0), 1.0)
    mtoon = MToon(shade_color=color("_ShadeColor", (0.97, 0.81, 0.86, 1)),
                  shade_from=shift, shade_to=shift + max(1.0 - toony, 1e-4), shade_smooth=True,
                  rim_color=color("_RimColor", (0, 0, 0, 1)),
                  rim_power=max(value("_RimFresnelPower", 1.0), 0.0),
                  rim_lift=value("_RimLift", 0.0),
                  rim_lighting_mix=min(max(value("_RimLightingMix", 0.0), 0.0), 1.0))
    return mtoon, color("_EmissionColor", (0, 0, 0, 1))


def _read_mtoon1(reader: _Reader, mtoon: dict, where: str) -> MToon:
    """VRMC_materials_mtoon's shading (colours linear, held sRGB-encoded like the rest). Its
    shade turn: linearstep(-1 + toony, 1 - toony) of dot(normal, light) + shift."""

    def value(name: str, default: float) -> float:
        return _number(reader, mtoon.get(name), f"{where}.{name}", default)

    def color(name: str, default) -> np.ndarray:
        return linear_to_srgb(_vector(reader, mtoon.get(name), f"{where}.{name}", 4, default))

    shift, toony = value("shadingShiftFactor", 0.0), min(max(value("shadingToonyFactor", 0.9), 0.0), 1.0)
    half = max(1.0 - toony, 5e-5)
    return MToon(shade_color=color("shadeColorFactor", (1, 1, 1, 1)),
                 shade_from=-half - shift, shade_to=half - shift, shade_smooth=False,
                 rim_color=color("parametricRimColorFactor", (0, 0, 0, 1)),
                 rim_power=max(value("parametricRimFresnelPowerFactor", 1.0), 0.0),
                 rim_lift=value("parametricRimLiftFactor", 0.0),
                 rim_lighting_mix=min(max(value("rimLightingMixFactor", 0.0), 0.0), 1.0))


# MToon 0.x keeps its settings as Unity shader properties; _OutlineWidth is in centimetres in
# world mode and in hundredths of the clip-space half height in screen mode.
_MTOON0_OUTLINE_MODES = {0: "none", 1: "world", 2: "screen"}
_MTOON1_OUTLINE_MODES = {"none": "none", "worldCoordinates": "world", "screenCoordinates": "screen"}


def _read_mtoon0_outline(reader: _Reader, material: Material, props: dict, where: str) -> None:
    floats = props.get("floatProperties") or {}
    vectors = props.get("vectorProperties") or {}
    if not isinstance(floats, dict) or not isinstance(vectors, dict):
        raise reader.fail(where, "floatProperties and vectorProperties must be objects")

    def value(name: str, default: float) -> float:
        return _number(reader, floats.get(name), f"{where}.floatProperties.{name}", default)

    material.outline_mode = _MTOON0_OUTLINE_MODES.get(int(value("_OutlineWidthMode", 0)), "none")
    width = value("_OutlineWidth", 0.0)
    material.outline_width = max(width, 0.0) * (0.01 if material.outline_mode == "world" else 0.005)
    # Unity colours are gamma-space, as the renderer's colours are.
    material.outline_color = _vector(reader, vectors.get("_OutlineColor"),
                                     f"{where}.vectorProperties._OutlineColor", 4, (0, 0, 0, 1))
    # _OutlineColorMode 0 is a fixed colour; 1 mixes in the lighting by _OutlineLightingMix.
    mixed = value("_OutlineColorMode", 0)
    material.outline_lighting_mix = min(max(value("_OutlineLightingMix", 1.0), 0.0), 1.0) if mixed else 0.0


def _read_mtoon1_outline(reader: _Reader, material: Material, mtoon: dict, where: str) -> None:
    mode = mtoon.get("outlineWidthMode", "none")
    if mode not in _MTOON1_OUTLINE_MODES:
        raise reader.fail(f"{where}.outlineWidthMode", f"{mode!r}; expected one of "
                                                       f"{sorted(_MTOON1_OUTLINE_MODES)}")
    material.outline_mode = _MTOON1_OUTLINE_MODES[mode]
    material.outline_width = max(_number(reader, mtoon.get("outlineWidthFactor"),
                                         f"{where}.outlineWidthFactor", 0.0), 0.0)
    linear = _vector(reader, mtoon.get("outlineColorFactor"), f"{where}.outlineColorFactor", 4,
                     (0, 0, 0, 1))
    material.outline_color = linear_to_srgb(linear)
    material.outline_lighting_mix = min(max(_number(
        reader, mtoon.get("outlineLightingMixFactor"), f"{where}.outlineLightingMixFactor", 1.0),
        0.0), 1.0)


def linear_to_srgb(rgba: np.ndarray) -> np.ndarray:
    """VRM 1.0 colours are linear; the renderer's textures and colours are sRGB-encoded."""
    rgb = np.clip(rgba[:3], 0.0, 1.0)
    encoded = np.where(rgb <= 0.0031308, rgb * 12.92, 1.055 * rgb ** (1 / 2.4) - 0.055)
    return np.append(encoded, rgba[3]).astype(np.float32)


def _pair(reader: _Reader, value, where: str) -> tuple[float, float]:
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)):
        raise reader.fail(where, f"expected two finite numbers, got {value!r}")
    return float(value[0]), float(value[1])


def _check_hierarchy(reader: _Reader, nodes: list[Node]) -> None:
    """Refuse a cycle among the nodes (0 → 1 → 0: walking up to the root would never end) and
    a hierarchy deeper than ``MAX_NODE_DEPTH``. Each node has at most one parent by now."""
    depth: dict[int, int] = {}  # levels below a root, for every node already walked
    for start in range(len(nodes)):
        chain: list[int] = []
        on_chain: set[int] = set()
        i: int | None = start
        while i is not None and i not in depth:
            if i in on_chain:
                ancestors = chain[chain.index(i):]  # i, its parent, that one's parent...
                loop = " → ".join(str(j) for j in [i, *reversed(ancestors[1:]), i])
                raise reader.fail(f"nodes[{i}]", f"node {nodes[i].name!r} is its own ancestor "
                                                 f"(children form a cycle: {loop})")
            chain.append(i)
            on_chain.add(i)
            i = nodes[i].parent
        below = -1 if i is None else depth[i]
        for j in reversed(chain):
            below += 1
            depth[j] = below
        if depth[start] > MAX_NODE_DEPTH:
            raise reader.fail(f"nodes[{start}]", f"node {nodes[start].name!r} is "
                                                 f"{depth[start]} levels deep; the limit is "
                                                 f"{MAX_NODE_DEPTH}")


# VRM 0.x material colour properties the renderer draws, as VRM 1.0 bind types.
_VRM0_COLOR_PROPERTIES = {"_Color": "color", "_OutlineColor": "outlineColor", "_ShadeColor": "shadeColor",
                          "_RimColor": "rimColor", "_EmissionColor": "emissionColor"}
# VRM 1.0 bind types the renderer draws; matcapColor is counted as not drawn. Only "color" is
# held as given (like baseColorFactor); the MToon colours are converted like the material's.
COLOR_BIND_KINDS = ("color", "outlineColor", "shadeColor", "rimColor", "emissionColor")


def _read_vrm0(model: Model, reader: _Reader, vrm: dict, mesh_instances: dict[int, list[int]]) -> None:
    model.vrm_version = "0.x"
    for bone in (vrm.get("humanoid") or {}).get("humanBones") or []:
        if isinstance(bone, dict) and isinstance(bone.get("node"), int):
            model.bones[str(bone.get("bone"))] = bone["node"]
    first_person = vrm.get("firstPerson") or {}
    model.look_at_type = "bone" if first_person.get("lookAtTypeName") == "Bone" else "expression"
    groups = (vrm.get("blendShapeMaster") or {}).get("blendShapeGroups") or []
    for g, group in enumerate(groups):
        if not isinstance(group, dict):
            raise reader.fail(f"extensions.VRM.blendShapeMaster.blendShapeGroups[{g}]", "not an object")
        preset = str(group.get("presetName", "unknown")).lower()
        name = VRM0_PRESETS.get(preset) or str(group.get("name") or f"custom{g}")
        expression = VrmExpression(name=name, is_binary=bool(group.get("isBinary")))
        by_name = {material.name: m for m, material in enumerate(model.materials)}
        for b, value in enumerate(group.get("materialValues") or []):
            where = f"extensions.VRM.blendShapeMaster.blendShapeGroups[{g}].materialValues[{b}]"
            if not isinstance(value, dict):
                raise reader.fail(where, "not an object")
            kind = _VRM0_COLOR_PROPERTIES.get(value.get("propertyName"))
            material = by_name.get(value.get("materialName"))
            if kind is None or material is None:
                expression.other_binds += 1
                continue
            target = _vector(reader, value.get("targetValue"), f"{where}.targetValue", 4, (1, 1, 1, 1))
            expression.color_binds.append(ColorBind(material, kind, target))
        for b, bind in enumerate(group.get("binds") or []):
            where = f"extensions.VRM.blendShapeMaster.blendShapeGroups[{g}].binds[{b}]"
            mesh, index = bind.get("mesh"), bind.get("index")
            if mesh not in mesh_instances:
                raise reader.fail(where, f"mesh {mesh!r} is not placed by any node")
            for instance in mesh_instances[mesh]:
                if not isinstance(index, int) or not 0 <= index < len(model.instances[instance].target_names):
                    raise reader.fail(where, f"morph index {index!r} out of range")
                weight = float(bind.get("weight", 100)) / 100.0
                expression.binds.append(ExpressionBind(instance, index, min(max(weight, 0.0), 1.0)))
        model.expressions[name] = expression


def _read_vrm1(model: Model, reader: _Reader, vrm: dict, node_instances: dict[int, int]) -> None:
    model.vrm_version = "1.0"
    bones = (vrm.get("humanoid") or {}).get("humanBones") or {}
    for bone, value in bones.items():
        if isinstance(value, dict) and isinstance(value.get("node"), int):
            model.bones[bone] = value["node"]
    look_at = vrm.get("lookAt") or {}
    model.look_at_type = "expression" if look_at.get("type") == "expression" else "bone"
    expressions = vrm.get("expressions") or {}
    for kind in ("preset", "custom"):
        for name, spec in (expressions.get(kind) or {}).items():
            where = f"extensions.VRMC_vrm.expressions.{kind}.{name}"
            if not isinstance(spec, dict):
                raise reader.fail(where, "not an object")
            expression = VrmExpression(
                name=name, is_binary=bool(spec.get("isBinary")),
                override_blink=str(spec.get("overrideBlink", "none")),
                override_look_at=str(spec.get("overrideLookAt", "none")),
                override_mouth=str(spec.get("overrideMouth", "none")),
            )
            for b, bind in enumerate(spec.get("materialColorBinds") or []):
                bind_where = f"{where}.materialColorBinds[{b}]"
                if not isinstance(bind, dict):
                    raise reader.fail(bind_where, "not an object")
                material = bind.get("material")
                reader.item(reader.gltf.materials, material, f"{bind_where}.material")
                if bind.get("type") not in COLOR_BIND_KINDS:
                    expression.other_binds += 1
                    continue
                target = _vector(reader, bind.get("targetValue"), f"{bind_where}.targetValue", 4,
                                 (1, 1, 1, 1))
                if bind["type"] != "color" or model.materials[material].mtoon is not None:
                    target = linear_to_srgb(target)  # held as the material's colours are
                expression.color_binds.append(ColorBind(material, bind["type"], target))
            for b, bind in enumerate(spec.get("textureTransformBinds") or []):
                bind_where = f"{where}.textureTransformBinds[{b}]"
                if not isinstance(bind, dict):
                    raise reader.fail(bind_where, "not an object")
                material = bind.get("material")
                reader.item(reader.gltf.materials, material, f"{bind_where}.material")
                expression.texture_binds.append(TextureBind(
                    material, _pair(reader, bind.get("offset", (0.0, 0.0)), f"{bind_where}.offset"),
                    _pair(reader, bind.get("scale", (1.0, 1.0)), f"{bind_where}.scale")))
            for b, bind in enumerate(spec.get("morphTargetBinds") or []):
                node, index = bind.get("node"), bind.get("index")
                if node not in node_instances:
                    raise reader.fail(f"{where}.morphTargetBinds[{b}].node",
                                      f"node {node!r} has no mesh")
                instance = node_instances[node]
                if not isinstance(index, int) or not 0 <= index < len(model.instances[instance].target_names):
                    raise reader.fail(f"{where}.morphTargetBinds[{b}].index", f"{index!r} out of range")
                weight = min(max(float(bind.get("weight", 1.0)), 0.0), 1.0)
                expression.binds.append(ExpressionBind(instance, index, weight))
            model.expressions[name] = expression


def _tail_in(world: np.ndarray, node: int, tail_world: np.ndarray) -> np.ndarray:
    """A model-space point in ``node``'s rest local frame."""
    return (np.linalg.inv(world[node]) @ np.append(tail_world, 1.0))[:3].astype(np.float32)


def _add_collider(model: Model, reader: _Reader, collider: SpringCollider, where: str) -> int:
    if len(model.spring_colliders) >= MAX_SPRING_COLLIDERS:
        raise reader.fail(where, f"more than {MAX_SPRING_COLLIDERS} spring-bone colliders")
    model.spring_colliders.append(collider)
    return len(model.spring_colliders) - 1


def _add_joint(model: Model, reader: _Reader, joint: SpringJoint, where: str) -> None:
    if len(model.spring_joints) >= MAX_SPRING_JOINTS:
        raise reader.fail(where, f"more than {MAX_SPRING_JOINTS} spring-bone joints")
    if float(np.linalg.norm(joint.tail)) > 1e-6:  # a zero-length segment has no direction
        model.spring_joints.append(joint)


def _read_vrm0_springs(model: Model, reader: _Reader, secondary: dict) -> None:
    """VRM 0.x ``secondaryAnimation``: each bone group names chain roots; every node below a
    root swings towards its first child (a leaf towards a virtual tail), as UniVRM does.
    Collider offsets and the gravity direction are Unity's left-handed axes; VRM 0.x geometry
    is Unity's with z reversed, so z is negated here (Godette's chest collider then sits just
    behind its ribbon's tip, as drawn; read as written it would swallow it)."""
    where = "extensions.VRM.secondaryAnimation"
    world = model.world_matrices()
    groups: list[list[int]] = []
    for g, group in enumerate(secondary.get("colliderGroups") or []):
        group_where = f"{where}.colliderGroups[{g}]"
        if not isinstance(group, dict):
            raise reader.fail(group_where, "not an object")
        node = group.get("node")
        reader.item(model.nodes, node, f"{group_where}.node")
        indices = []
        for c, collider in enumerate(group.get("colliders") or []):
            collider_where = f"{group_where}.colliders[{c}]"
            if not isinstance(collider, dict):
                raise reader.fail(collider_where, "not an object")
            offset = _vector(reader, collider.get("offset"), f"{collider_where}.offset", 3,
                             (0, 0, 0)) * _UNITY_TO_VRM0
            radius = _number(reader, collider.get("radius"), f"{collider_where}.radius", 0.0)
            indices.append(_add_collider(model, reader, SpringCollider(node, offset, max(radius, 0.0)),
                                         collider_where))
        groups.append(indices)
    seen: set[int] = set()
    for b, bones in enumerate(secondary.get("boneGroups") or []):
        bone_where = f"{where}.boneGroups[{b}]"
        if not isinstance(bones, dict):
            raise reader.fail(bone_where, "not an object")
        direction = _vector(reader, bones.get("gravityDir"), f"{bone_where}.gravityDir", 3,
                            (0, -1, 0)) * _UNITY_TO_VRM0
        direction /= max(float(np.linalg.norm(direction)), 1e-9)
        power = _number(reader, bones.get("gravityPower"), f"{bone_where}.gravityPower", 0.0)
        colliders = tuple(c for index in bones.get("colliderGroups") or []
                          for c in reader.item(groups, index, f"{bone_where}.colliderGroups"))
        settings = dict(
            stiffness=_number(reader, bones.get("stiffiness"), f"{bone_where}.stiffiness", 1.0),
            drag=min(max(_number(reader, bones.get("dragForce"), f"{bone_where}.dragForce", 0.4), 0.0), 1.0),
            gravity=(direction * power).astype(np.float32),
            hit_radius=max(_number(reader, bones.get("hitRadius"), f"{bone_where}.hitRadius", 0.02), 0.0),
            colliders=colliders)
        for r, root in enumerate(bones.get("bones") or []):
            reader.item(model.nodes, root, f"{bone_where}.bones[{r}]")
            stack = [root]
            while stack:
                node = stack.pop()
                if node in seen:
                    continue
                seen.add(node)
                children = model.nodes[node].children
                position = world[node][:3, 3]
                if children:
                    tail = world[children[0]][:3, 3]
                else:
                    parent = model.nodes[node].parent
                    along = position - (world[parent][:3, 3] if parent is not None else position)
                    length = float(np.linalg.norm(along))
                    if length < 1e-9:
                        continue
                    tail = position + along / length * VRM0_LEAF_TAIL
                _add_joint(model, reader, SpringJoint(node, _tail_in(world, node, tail), **settings),
                           f"{bone_where}.bones[{r}]")
                stack.extend(children)


def _read_vrm1_springs(model: Model, reader: _Reader, springs: dict) -> None:
    """VRM 1.0 ``VRMC_springBone``: explicit joint chains with per-joint settings; the last
    joint of a chain is its tail."""
    where = "extensions.VRMC_springBone"
    world = model.world_matrices()
    colliders: list[int] = []
    for c, collider in enumerate(springs.get("colliders") or []):
        collider_where = f"{where}.colliders[{c}]"
        if not isinstance(collider, dict) or not isinstance(collider.get("shape"), dict):
            raise reader.fail(collider_where, "not an object with a shape")
        node = collider.get("node")
        reader.item(model.nodes, node, f"{collider_where}.node")
        shape = collider["shape"]
        form = shape.get("sphere") if isinstance(shape.get("sphere"), dict) else shape.get("capsule")
        if not isinstance(form, dict):
            raise reader.fail(f"{collider_where}.shape", "is neither a sphere nor a capsule")
        offset = _vector(reader, form.get("offset"), f"{collider_where}.shape.offset", 3, (0, 0, 0))
        radius = max(_number(reader, form.get("radius"), f"{collider_where}.shape.radius", 0.0), 0.0)
        tail = (_vector(reader, form.get("tail"), f"{collider_where}.shape.tail", 3, (0, 0, 0))
                if "capsule" in shape else None)
        colliders.append(_add_collider(model, reader, SpringCollider(node, offset, radius, tail),
                                       collider_where))
    groups = []
    for g, group in enumerate(springs.get("colliderGroups") or []):
        if not isinstance(group, dict):
            raise reader.fail(f"{where}.colliderGroups[{g}]", "not an object")
        groups.append([reader.item(colliders, c, f"{where}.colliderGroups[{g}].colliders")
                       for c in group.get("colliders") or []])
    for s, spring in enumerate(springs.get("springs") or []):
        spring_where = f"{where}.springs[{s}]"
        if not isinstance(spring, dict):
            raise reader.fail(spring_where, "not an object")
        touching = tuple(c for index in spring.get("colliderGroups") or []
                         for c in reader.item(groups, index, f"{spring_where}.colliderGroups"))
        joints = spring.get("joints") or []
        for j, (joint, following) in enumerate(zip(joints, joints[1:])):
            joint_where = f"{spring_where}.joints[{j}]"
            if not isinstance(joint, dict) or not isinstance(following, dict):
                raise reader.fail(joint_where, "not an object")
            node = joint.get("node")
            reader.item(model.nodes, node, f"{joint_where}.node")
            reader.item(model.nodes, following.get("node"), f"{spring_where}.joints[{j + 1}].node")
            direction = _vector(reader, joint.get("gravityDir"), f"{joint_where}.gravityDir", 3, (0, -1, 0))
            direction /= max(float(np.linalg.norm(direction)), 1e-9)
            power = _number(reader, joint.get("gravityPower"), f"{joint_where}.gravityPower", 0.0)
            _add_joint(model, reader, SpringJoint(
                node, _tail_in(world, node, world[following["node"]][:3, 3]),
                stiffness=_number(reader, joint.get("stiffness"), f"{joint_where}.stiffness", 1.0),
                drag=min(max(_number(reader, joint.get("dragForce"), f"{joint_where}.dragForce", 0.5), 0.0), 1.0),
                gravity=(direction * power).astype(np.float32),
                hit_radius=max(_number(reader, joint.get("hitRadius"), f"{joint_where}.hitRadius", 0.0), 0.0),
                colliders=touching), joint_where)


def load_model(path: str | Path) -> Model:
    """Read a ``.gltf``, ``.glb`` or ``.vrm`` file; raises AssetError naming what is wrong."""
    try:
        return _load_model(Path(path))
    except AssetError:
        raise
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as error:
        # The checks below name the broken field for every case we know of; a file that is
        # malformed in a way they miss must still be refused cleanly, never crash the caller.
        raise AssetError(f"{path}: malformed glTF ({type(error).__name__}: {error})") from error


def _load_model(path: Path) -> Model:
    text, binary = _read_json_text(path)
    gltf = _parse_json(path, text)
    reader = _Reader(path, gltf, binary)

    used = set(gltf.extensionsUsed or [])
    ignored = sorted(used - _UNDERSTOOD_EXTENSIONS)
    for name in ignored:
        log.info("%s: extension %s is not supported; ignored", path, name)
    extensions = gltf.extensions or {}

    nodes = []
    for n, node in enumerate(gltf.nodes or []):
        nodes.append(Node(name=node.name or f"node{n}", parent=None, local=_local_matrix(node)))
    for n, node in enumerate(gltf.nodes or []):
        for child in node.children or []:
            reader.item(nodes, child, f"nodes[{n}].children")
            if nodes[child].parent is not None or child == n:
                raise reader.fail(f"nodes[{n}].children", f"node {child} has two parents")
            nodes[child].parent = n
            nodes[n].children.append(child)
    _check_hierarchy(reader, nodes)

    vrm0_props = {}
    if isinstance(extensions.get("VRM"), dict):
        for m, props in enumerate(extensions["VRM"].get("materialProperties") or []):
            if isinstance(props, dict):
                vrm0_props[m] = props
    materials = _read_materials(reader, vrm0_props)

    instances: list[MeshInstance] = []
    mesh_instances: dict[int, list[int]] = {}
    node_instances: dict[int, int] = {}
    for n, node in enumerate(gltf.nodes or []):
        if node.mesh is None:
            continue
        mesh = reader.item(gltf.meshes, node.mesh, f"nodes[{n}].mesh")
        primitives = []
        for p, prim in enumerate(mesh.primitives or []):
            if prim.material is not None:
                reader.item(materials, prim.material, f"meshes[{node.mesh}].primitives[{p}].material")
            read = _read_primitive(reader, prim, f"meshes[{node.mesh}].primitives[{p}]")
            if read is not None:
                primitives.append(read)
        counts = {0 if p.morph_positions is None else len(p.morph_positions) for p in primitives}
        if len(counts) > 1:
            raise reader.fail(f"meshes[{node.mesh}].primitives", "primitives differ in morph target count")
        n_targets = counts.pop() if counts else 0
        names = list((mesh.extras or {}).get("targetNames") or [])
        if primitives and names == [] and (mesh.primitives[0].extras or {}).get("targetNames"):
            names = list(mesh.primitives[0].extras["targetNames"])  # older VRM exporters put them here
        names = [str(x) for x in names[:n_targets]] + [f"target{t}" for t in range(len(names), n_targets)]
        weights = np.zeros(n_targets, np.float32)
        source_weights = node.weights if getattr(node, "weights", None) else mesh.weights
        if source_weights:
            weights[: min(n_targets, len(source_weights))] = source_weights[:n_targets]
        skin = None
        if node.skin is not None:
            s = reader.item(gltf.skins, node.skin, f"nodes[{n}].skin")
            joints = [reader.item(nodes, j, f"skins[{node.skin}].joints") and j for j in s.joints or []]
            if s.inverseBindMatrices is not None:
                inverse = reader.accessor(s.inverseBindMatrices, f"skins[{node.skin}].inverseBindMatrices")
                if inverse.shape != (len(joints), 16):
                    raise reader.fail(f"skins[{node.skin}].inverseBindMatrices", "count differs from joints")
                inverse = inverse.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float32)
            else:
                inverse = np.tile(np.eye(4, dtype=np.float32), (len(joints), 1, 1))
            skin = Skin(joints=joints, inverse_binds=inverse)
            for p in primitives:
                if p.joints is not None and len(p.joints) and int(p.joints.max()) >= len(joints):
                    raise reader.fail(f"meshes[{node.mesh}].JOINTS_0", "refers past the skin's joints")
        mesh_instances.setdefault(node.mesh, []).append(len(instances))
        node_instances[n] = len(instances)
        instances.append(MeshInstance(node=n, mesh=node.mesh, name=mesh.name or f"mesh{node.mesh}",
                                      primitives=primitives, target_names=names,
                                      default_weights=weights, skin=skin))

    model = Model(path=path, nodes=nodes, instances=instances, materials=materials,
                  extensions_ignored=ignored)
    if isinstance(extensions.get("VRMC_vrm"), dict):
        _read_vrm1(model, reader, extensions["VRMC_vrm"], node_instances)
        if isinstance(extensions.get("VRMC_springBone"), dict):
            _read_vrm1_springs(model, reader, extensions["VRMC_springBone"])
    elif isinstance(extensions.get("VRM"), dict):
        _read_vrm0(model, reader, extensions["VRM"], mesh_instances)
        if isinstance(extensions["VRM"].get("secondaryAnimation"), dict):
            _read_vrm0_springs(model, reader, extensions["VRM"]["secondaryAnimation"])
    if not any(inst.primitives for inst in instances):
        log.info("%s: the model has no triangle meshes", path)
    return model
