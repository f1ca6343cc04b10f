"""The ``gltf`` avatar kind: a glTF 2.0 / GLB / VRM model with ARKit-named shape keys.

``avatar.toml``::

    model = "default.glb"         # .glb, .gltf or .vrm, inside the folder
    shading = "lit"               # "lit" or "toon"; left out: each material decides (MToon → toon)
    outline = true                # draw the MToon outlines the materials ask for (default false:
                                  # one more pass over the outlined meshes)
    antialias = 4                 # MSAA samples, 0 (off), 2, 4 or 8: a resolve and a full-screen
                                  # pass per frame (on llvmpipe, more than the avatar); left out,
                                  # the engine chooses: on in offline renders and on a real GPU,
                                  # off live on llvmpipe

    [expressions]                 # optional: ARKit channel → morph target or VRM expression
    jawOpen = "MouthOpen"
    mouthSmileLeft = { happy = 0.5 }

The likeness is the model file and every ``.bin`` buffer and image file it names by URI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.avatar.kinds import AvatarKind
from engine.errors import ConfigError

MODEL_SUFFIXES = (".glb", ".gltf", ".vrm")
SHADINGS = ("lit", "toon")


@dataclass(frozen=True)
class GltfSettings:
    model: Path
    shading: str | None = None  # None: per material
    expressions: dict = field(default_factory=dict)
    outline: bool = False
    antialias: int | None = None  # None: the engine chooses


def configure(folder: Path, data: dict, where: str) -> GltfSettings:
    from engine.avatar.manifest import avatar_file

    model = avatar_file(folder, data, "model", where, MODEL_SUFFIXES)
    shading = data.get("shading")
    if shading is not None and shading not in SHADINGS:
        raise ConfigError(f"{where}: shading: {shading!r}; expected one of {SHADINGS}")
    expressions = data.get("expressions", {})
    if not isinstance(expressions, dict):
        raise ConfigError(f"{where}: [expressions] must be a table")
    outline = data.get("outline", False)
    if not isinstance(outline, bool):
        raise ConfigError(f"{where}: outline: {outline!r}; expected true or false")
    from engine.avatar.antialias import SAMPLE_COUNTS

    antialias = data.get("antialias")
    if antialias is not None and (isinstance(antialias, bool) or antialias not in SAMPLE_COUNTS):
        raise ConfigError(f"{where}: antialias: {antialias!r}; expected one of {SAMPLE_COUNTS}")
    return GltfSettings(model, shading, expressions, outline, antialias)


def likeness_files(settings: GltfSettings) -> list[Path]:
    from engine.avatar.gltf import external_files
    from engine.errors import AssetError

    try:
        return [settings.model, *external_files(settings.model)]
    except AssetError:
        # A model whose buffers and images cannot be listed cannot render either (the loader
        # reads the same JSON); hashing its bytes alone still voids a signature made over the
        # real file list.
        return [settings.model]


@dataclass(frozen=True)
class ReadModel:
    """A model read and mapped, ready for the GPU."""

    settings: GltfSettings
    model: object  # engine.avatar.gltf.Model
    mapping: object  # engine.avatar.mapping.ExpressionMap


def read_model(settings: GltfSettings) -> ReadModel:
    from engine.avatar.gltf import load_model
    from engine.avatar.mapping import ExpressionMap

    model = load_model(settings.model)
    try:
        mapping = ExpressionMap(model, settings.expressions)
    except ConfigError as error:
        raise ConfigError(f"{settings.model.parent}: {error}") from error
    return ReadModel(settings, model, mapping)


def open_model(read: ReadModel, gl, shaders):
    from engine.avatar.renderer import ModelRenderer

    shading = read.settings.shading
    toon = None if shading is None else shading == "toon"
    renderer = ModelRenderer(gl.ctx, shaders, read.model, read.mapping, toon=toon)
    renderer.outline = read.settings.outline
    renderer.antialias = read.settings.antialias
    return renderer


def describe(settings: GltfSettings) -> list[str]:
    """The model's meshes, materials, VRM expressions and the ARKit channels that drive nothing
    (``persona avatar inspect``)."""
    from engine.avatar.gltf import load_model
    from engine.avatar.mapping import ExpressionMap

    model = load_model(settings.model)
    mapping = ExpressionMap(model, settings.expressions)
    lines = [f"file: {model.path}",
             f"format: {'VRM ' + model.vrm_version if model.vrm_version else 'glTF 2.0'}",
             f"shading: {settings.shading or 'per material'}"]
    vertices = sum(len(p.positions) for i in model.instances for p in i.primitives)
    triangles = sum(len(p.indices) // 3 for i in model.instances for p in i.primitives)
    lines.append(f"nodes: {len(model.nodes)}  meshes: {len(model.instances)}  "
                 f"vertices: {vertices}  triangles: {triangles}")
    for instance in model.instances:
        lines.append(f"  mesh {instance.name!r}: {len(instance.primitives)} primitive(s), "
                     f"{len(instance.target_names)} morph target(s)"
                     + (", skinned" if instance.skin is not None else ""))
        if instance.target_names:
            lines.append("    targets: " + ", ".join(instance.target_names))
    for material in model.materials:
        lines.append(f"  material {material.name!r}: {material.alpha_mode.lower()}"
                     + (", textured" if material.texture is not None else "")
                     + (", toon" if material.toon else ""))
    if model.expressions:
        lines.append(f"VRM expressions ({len(model.expressions)}):")
        for name, expression in model.expressions.items():
            flags = ["binary"] if expression.is_binary else []
            flags += [f"override {group}={mode}" for group, mode in (
                ("blink", expression.override_blink), ("lookAt", expression.override_look_at),
                ("mouth", expression.override_mouth)) if mode != "none"]
            if expression.texture_binds:
                flags.append(f"{len(expression.texture_binds)} texture-transform bind(s)")
            if expression.color_binds:
                flags.append(f"{len(expression.color_binds)} material colour bind(s)")
            if expression.other_binds:
                flags.append(f"{expression.other_binds} material colour bind(s), not drawn")
            lines.append(f"  {name}: {len(expression.binds)} morph bind(s)"
                         + (f" ({'; '.join(flags)})" if flags else ""))
    head = model.bones.get("head")
    lines.append(f"head bone: {model.nodes[head].name if head is not None else 'none'}")
    if model.spring_joints:
        lines.append(f"spring bones: {len(model.spring_joints)} joint(s), "
                     f"{len(model.spring_colliders)} collider(s)")
    outlined = [m.name for m in model.materials if m.outline_mode != "none" and m.outline_width > 0]
    if outlined:
        lines.append(f"MToon outlines ({'drawn' if settings.outline else 'off; outline = true draws them'}): "
                     + ", ".join(outlined))
    if model.extensions_ignored:
        lines.append("ignored extensions: " + ", ".join(model.extensions_ignored))
    undriven = mapping.undriven_channels()
    lines.append(f"ARKit channels driving something: {52 - len(undriven)} of 52")
    if undriven:
        lines.append("drive nothing: " + ", ".join(undriven))
    return lines


KIND = AvatarKind(
    name="gltf",
    fields=("model", "shading", "expressions", "outline", "antialias"),
    configure=configure,
    likeness_files=likeness_files,
    open=open_model,
    suffixes=MODEL_SUFFIXES,
    bare_file=GltfSettings,
    describe=describe,
    prepare=read_model,
)
