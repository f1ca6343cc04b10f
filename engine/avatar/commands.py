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
    """What an avatar is made of and what the 52 ARKit channels drive on it, as printable lines."""
    from engine.avatar.loader import read_avatar

    manifest = read_avatar(target)
    kind = manifest.kind
    lines = [f"avatar: {manifest.name} (kind {kind.name})"]
    if manifest.is_folder:
        lines.append(f"consent: {manifest.consent or 'none'}")
        lines.append("likeness files: " + ", ".join(
            str(path.relative_to(manifest.source.resolve())) for path in manifest.likeness_files()))
    needs = [what for what, needed in (("landmarks", kind.needs_landmarks),
                                       ("camera picture", kind.needs_camera)) if needed]
    lines.append("per frame: expression" + "".join(f", {what}" for what in needs))
    if kind.describe is not None:
        lines.extend(kind.describe(manifest.settings))
    lines.extend(_mapping_lines(kind, manifest.settings))
    return lines


def _mapping_lines(kind, settings) -> list[str]:
    """The channel table and, for a model without ARKit names, a proposed ``[expressions]``
    block: for kinds that map channels onto morph targets (their prepared avatar carries an
    ``ExpressionMap``)."""
    from engine.avatar.mapping import ExpressionMap, mapping_table, proposed_expressions

    prepared = kind.prepare(settings) if kind.prepare is not None else settings
    mapping = getattr(prepared, "mapping", None)
    if not isinstance(mapping, ExpressionMap):
        return []
    return [*mapping_table(mapping), *proposed_expressions(mapping)]


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
                    avatar = open_avatar(found, gl, shaders).avatar
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
    from engine.avatar.photo import commands as photo_commands

    photo_commands.register(commands)
    from engine.avatar import match

    match.register(commands)
    from engine.avatar import viewer

    viewer.register(commands)
    from engine.neural import commands as neural_commands

    neural_commands.register(commands)
