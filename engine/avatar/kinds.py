"""Avatar kinds: what an avatar folder can hold and how it becomes something that renders.

An avatar folder names its kind in ``avatar.toml`` (``kind = "gltf"``, the default). Each kind
is one module exposing an ``AvatarKind`` and one line in ``KINDS``; the module is imported only
when an avatar of that kind is read, so a kind with heavy dependencies (torch, onnxruntime)
costs nothing to sessions that do not use it, and a missing dependency fails only its own kind.

A kind declares:

* ``fields``: the ``avatar.toml`` fields it reads besides the common ones (``kind``, ``name``,
  ``description``, ``consent``); any other field is refused with the nearest known name;
* ``configure``: checks those fields and returns the kind's own settings (paths resolved
  inside the folder with ``manifest.avatar_file``);
* ``likeness_files``: every file that carries the likeness (model, buffers, textures, photos,
  checkpoints). The consent signature covers all of them, so none can be swapped after signing;
* ``needs_landmarks`` / ``needs_camera``: what it gets per frame besides the expression
  (``engine.avatar.base.AvatarInput``; the privacy rule lives in ``frame_input``);
* ``prepare`` (optional): reads and decodes the files — on the loading worker, so a switch to a
  heavy avatar never holds the loop; ``open`` then gets what it returned instead of the settings;
* ``open``: builds the ``Avatar`` on the session's GL context (the loop's thread).

See docs/architecture.md, "Adding an avatar kind".
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.avatar.base import Avatar
    from engine.gl.context import GLContext
    from engine.gl.programs import ShaderLibrary

DEFAULT_KIND = "gltf"

# kind name → "module:attribute" of its AvatarKind. Adding a kind is one line here.
KINDS: dict[str, str] = {
    "gltf": "engine.avatar.gltf_kind:KIND",
    "photo": "engine.avatar.photo.kind:KIND",
    "faceswap": "engine.avatar.faceswap.kind:KIND",
    "neural": "engine.neural.kind:KIND",
    "testcard": "engine.avatar.testcard:KIND",  # frame numbers and A/V flashes, for tests
}


@dataclass(frozen=True)
class AvatarKind:
    name: str
    fields: tuple[str, ...]
    configure: Callable[[Path, dict, str], Any]  # (folder, avatar.toml, where) → settings
    likeness_files: Callable[[Any], list[Path]]  # settings → files the signature covers
    open: Callable[[Any, GLContext, ShaderLibrary], Avatar]  # (prepared) settings → avatar
    suffixes: tuple[str, ...] = ()  # model files that open as this kind without a folder
    bare_file: Callable[[Path], Any] | None = None  # settings for such a file
    needs_landmarks: bool = False
    needs_camera: bool = False
    describe: Callable[[Any], list[str]] | None = None  # lines for ``persona avatar inspect``
    prepare: Callable[[Any], Any] | None = None  # settings → decoded files, off the GL thread


def avatar_kind(name: str, where: str = "avatar.toml") -> AvatarKind:
    """The kind called ``name``; an unknown name is a ConfigError listing the known ones."""
    if not isinstance(name, str) or name not in KINDS:
        known = ", ".join(sorted(KINDS))
        raise ConfigError(f"{where}: kind: {name!r} is not a known avatar kind; known: {known}")
    module_name, _, attribute = KINDS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"{where}: kind {name!r} cannot load here ({error})") from error
    kind = getattr(module, attribute)
    if not isinstance(kind, AvatarKind) or kind.name != name:
        raise TypeError(f"{KINDS[name]} is not the AvatarKind {name!r}")  # a programming error
    return kind


def kind_for_file(path: Path) -> AvatarKind | None:
    """The kind that opens ``path`` on its own (a bare model file), if any."""
    suffix = path.suffix.lower()
    for name in KINDS:
        try:
            kind = avatar_kind(name)
        except ConfigError:  # a kind whose dependencies are missing opens no files
            continue
        if suffix in kind.suffixes and kind.bare_file is not None:
            return kind
    return None
