"""Finding an avatar by name or path and turning it into something that renders.

An avatar is a folder ``avatars/<name>/`` holding ``avatar.toml`` and its model::

    kind = "gltf"                 # the only kind this module builds (glTF 2.0 / VRM)
    model = "default.glb"         # relative to the folder; .glb, .gltf or .vrm
    shading = "lit"               # "lit" or "toon"; left out: each material decides (MToon → toon)

    [expressions]                 # optional: ARKit channel → morph target or VRM expression
    jawOpen = "MouthOpen"
    mouthSmileLeft = { happy = 0.5 }

    [consent]                     # optional: the likeness manifest the safety checks read
    likeness = "synthetic"

``load_avatar`` also takes a path to such a folder or straight to a model file. It is what the
live session calls, so it checks the ``[consent]`` table for the intended use first
(``engine.safety.consent``): a bare model file has no manifest and is refused there.
``open_avatar`` loads without that check, for the artist's own tools (inspect, preview, bench,
tests) whose pictures stay on the machine; a bare model file gets per-material shading, the
automatic expression mapping and an empty consent table.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from engine.avatar.gltf import load_model
from engine.avatar.mapping import ExpressionMap
from engine.avatar.renderer import ModelRenderer
from engine.errors import ConfigError, ConsentError
from engine.gl.context import GLContext
from engine.gl.programs import ShaderLibrary
from engine.resources import SearchPath

MANIFEST = "avatar.toml"
MODEL_SUFFIXES = (".glb", ".gltf", ".vrm")
SHADINGS = ("lit", "toon")
_FIELDS = ("kind", "model", "shading", "expressions", "consent", "name", "description")


def find_avatar(name_or_path: str, search: SearchPath | None = None) -> Path:
    """The avatar folder or model file meant by a name (``default``, looked up in ``avatars/`` on
    the search path) or by a path to either (taken as given when it exists)."""
    return (search or SearchPath()).find("avatars", name_or_path)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The checked contents of ``folder/avatar.toml``; raises ConfigError naming the field."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise ConfigError(f"{folder}: no {MANIFEST}; an avatar folder needs one naming its model")
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{manifest}: {error}") from error
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{manifest}: unknown field {unknown[0]!r}; known: {', '.join(_FIELDS)}")
    kind = data.get("kind", "gltf")
    if kind != "gltf":
        raise ConfigError(f"{manifest}: kind: {kind!r} is not supported here; expected \"gltf\"")
    model = data.get("model")
    if not isinstance(model, str) or Path(model).suffix.lower() not in MODEL_SUFFIXES:
        raise ConfigError(f"{manifest}: model: expected a .glb, .gltf or .vrm file name, "
                          f"got {model!r}")
    model_path = (folder / model).resolve()
    if folder.resolve() not in model_path.parents:
        raise ConfigError(f"{manifest}: model: {model!r} points outside the avatar folder")
    if not model_path.is_file():
        raise ConfigError(f"{manifest}: model: {model_path} does not exist")
    shading = data.get("shading")
    if shading is not None and shading not in SHADINGS:
        raise ConfigError(f"{manifest}: shading: {shading!r}; expected one of {SHADINGS}")
    for table in ("expressions", "consent"):
        if not isinstance(data.get(table, {}), dict):
            raise ConfigError(f"{manifest}: [{table}] must be a table")
    return {"model": model_path, "shading": shading, "expressions": data.get("expressions", {}),
            "consent": data.get("consent", {}), "name": data.get("name", folder.name),
            "toml": data}


def load_avatar(name_or_path: str, gl: GLContext, shaders: ShaderLibrary,
                use: str = "privacy") -> ModelRenderer:
    """The avatar ``name_or_path`` on the GPU, after its consent manifest allowed ``use``
    (therapy, privacy, demo); raises ConsentError when it does not."""
    from engine.safety.consent import check_avatar_consent

    found = find_avatar(name_or_path, shaders.search)
    if not found.is_dir():
        raise ConsentError(f"{found}: a bare model file carries no consent manifest; put it in an "
                           f"avatar folder with an {MANIFEST} whose [consent] table covers {use!r}")
    check_avatar_consent(found, read_manifest(found)["toml"], use)
    avatar = open_avatar(found, gl, shaders)
    avatar.use = use
    return avatar


def open_avatar(name_or_path: str | Path, gl: GLContext, shaders: ShaderLibrary) -> ModelRenderer:
    """The avatar or model file ``name_or_path`` on the GPU, without a consent check."""
    found = find_avatar(str(name_or_path), shaders.search)
    if found.is_dir():
        manifest = read_manifest(found)
    else:
        if found.suffix.lower() not in MODEL_SUFFIXES:
            raise ConfigError(f"{found}: not an avatar folder or a .glb/.gltf/.vrm model")
        manifest = {"model": found, "shading": None, "expressions": {}, "consent": {},
                    "name": found.stem}
    model = load_model(manifest["model"])
    try:
        mapping = ExpressionMap(model, manifest["expressions"])
    except ConfigError as error:
        raise ConfigError(f"{found}: {error}") from error
    shading = manifest["shading"]
    avatar = ModelRenderer(gl.ctx, shaders, model, mapping,
                           toon=None if shading is None else shading == "toon")
    avatar.name = str(manifest["name"])
    avatar.consent = dict(manifest["consent"])
    return avatar
