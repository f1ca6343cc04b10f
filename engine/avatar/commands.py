"""``persona avatar inspect`` and ``persona avatar preview``: the artist's loop."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from error
    if not (16 <= width <= 4096 and 16 <= height <= 4096):
        raise argparse.ArgumentTypeError(f"tile size {text} is out of range (16..4096)")
    return width, height


def inspect_lines(target: str) -> list[str]:
    """What a model has and what the 52 ARKit channels drive on it, as printable lines."""
    from engine.avatar.gltf import load_model
    from engine.avatar.loader import find_avatar, read_manifest
    from engine.avatar.mapping import ExpressionMap

    found = find_avatar(target)
    manifest = read_manifest(found) if found.is_dir() else {"model": found, "expressions": {},
                                                             "shading": None, "consent": {}}
    model = load_model(manifest["model"])
    mapping = ExpressionMap(model, manifest["expressions"])
    lines = [f"file: {model.path}",
             f"format: {'VRM ' + model.vrm_version if model.vrm_version else 'glTF 2.0'}"]
    if found.is_dir():
        lines.append(f"shading: {manifest['shading'] or 'per material'}; "
                     f"consent: {manifest['consent'] or 'none'}")
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
            if expression.other_binds:
                flags.append(f"{expression.other_binds} material colour bind(s), not drawn")
            lines.append(f"  {name}: {len(expression.binds)} morph bind(s)"
                         + (f" ({'; '.join(flags)})" if flags else ""))
    head = model.bones.get("head")
    lines.append(f"head bone: {model.nodes[head].name if head is not None else 'none'}")
    if model.extensions_ignored:
        lines.append("ignored extensions: " + ", ".join(model.extensions_ignored))
    undriven = mapping.undriven_channels()
    lines.append(f"ARKit channels driving something: {52 - len(undriven)} of 52")
    if undriven:
        lines.append("drive nothing: " + ", ".join(undriven))
    return lines


def _inspect(args: argparse.Namespace) -> int:
    for line in inspect_lines(args.file):
        print(line)
    return 0


def _preview(args: argparse.Namespace) -> int:
    from engine.avatar.loader import find_avatar, open_avatar
    from engine.avatar.preview import write_sheet
    from engine.gl.context import GLContext
    from engine.gl.programs import ShaderLibrary

    with GLContext.headless() as gl:
        shaders = ShaderLibrary(gl.ctx)
        found = find_avatar(args.file, shaders.search)
        watched = [found] if found.is_file() else sorted(found.iterdir())
        stamps = None
        while True:
            current = {p: p.stat().st_mtime for p in watched if p.exists()}
            if current != stamps:
                stamps = current
                try:
                    avatar = open_avatar(found, gl, shaders)
                    try:
                        path = write_sheet(avatar, gl, shaders, Path(args.output), tile=args.tile)
                    finally:
                        avatar.release()
                    print(f"wrote {path}", flush=True)
                except Exception as error:  # while watching, a half-saved file must not end it
                    if not args.watch:
                        raise
                    print(f"not reloaded: {error}", flush=True)
            if not args.watch:
                return 0
            if shaders.reload_changed():
                stamps = None  # shaders changed: draw the sheet again with them
            time.sleep(0.5)


def register(commands) -> None:
    parser = commands.add("inspect", _inspect, group="avatar",
                          help="list a model's meshes, morph targets, VRM expressions and the "
                               "ARKit channels that drive nothing")
    parser.add_argument("file", help="avatar name, avatar folder, or .glb/.gltf/.vrm file")
    parser = commands.add("preview", _preview, group="avatar",
                          help="render a contact sheet PNG of the neutral face and each "
                               "expression group")
    parser.add_argument("file", help="avatar name, avatar folder, or .glb/.gltf/.vrm file")
    parser.add_argument("-o", "--output", default="sheet.png", help="PNG to write")
    parser.add_argument("--tile", type=_size, default=(400, 300), help="tile size WIDTHxHEIGHT")
    parser.add_argument("--watch", action="store_true",
                        help="keep running; redraw when the model or a shader is saved (Ctrl-C ends)")
