"""Shader programs from single GLSL files, with ``#include`` and hot reload.

One file holds one program. Its stages are selected with the preprocessor: the loader compiles the
file once per stage with ``#define VERTEX_SHADER`` (or ``FRAGMENT_SHADER``) after the ``#version``
line, so a file reads::

    #version 330
    #include "common.glsl"
    #if defined VERTEX_SHADER
    ... void main() { ... }
    #elif defined FRAGMENT_SHADER
    ... void main() { ... }
    #endif

``#include "name"`` pastes ``shaders/name`` (found on the resource search path) once per program.
In dev mode ``ShaderLibrary.reload_changed()`` recompiles programs whose file or includes changed
on disk; a program that no longer compiles keeps running its last good version and logs why.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import moderngl

from engine.errors import AssetError
from engine.resources import SearchPath

log = logging.getLogger(__name__)

_INCLUDE = re.compile(r'^\s*#include\s+"([^"]+)"\s*$', re.MULTILINE)
_VERSION = re.compile(r"^\s*#version[^\n]*\n", re.MULTILINE)
_STAGES = ("VERTEX_SHADER", "FRAGMENT_SHADER")


def expand_includes(path: Path, search: SearchPath, seen: set[Path] | None = None) -> str:
    """The source of ``path`` with every ``#include`` replaced by the included file, once each."""
    seen = set() if seen is None else seen
    seen.add(path)

    def substitute(match: re.Match) -> str:
        included = search.find("shaders", match.group(1))
        if included in seen:
            return ""
        return expand_includes(included, search, seen)

    return _INCLUDE.sub(substitute, path.read_text())


def stage_sources(source: str) -> dict[str, str]:
    """One complete source per stage the file defines, keyed by moderngl's argument name."""
    version = _VERSION.search(source)
    if version is None:
        raise AssetError("shader has no #version line")
    head, body = source[: version.end()], source[version.end():]
    stages = {}
    for stage, argument in zip(_STAGES, ("vertex_shader", "fragment_shader")):
        if f"defined {stage}" in body:
            stages[argument] = f"{head}#define {stage}\n{body}"
    if "vertex_shader" not in stages:
        raise AssetError("shader has no '#if defined VERTEX_SHADER' section")
    return stages


@dataclass
class _Entry:
    program: moderngl.Program
    files: dict[Path, float] = field(default_factory=dict)  # file → mtime when compiled


class ShaderLibrary:
    """Compiles programs by file name and caches them for the life of the context."""

    def __init__(self, ctx: moderngl.Context, search: SearchPath | None = None) -> None:
        self.ctx = ctx
        self.search = search or SearchPath()
        self._programs: dict[str, _Entry] = {}

    def get(self, name: str) -> moderngl.Program:
        """The program in ``shaders/name``, compiled on first use."""
        entry = self._programs.get(name)
        if entry is None:
            entry = self._compile(name)
            self._programs[name] = entry
        return entry.program

    def _compile(self, name: str) -> _Entry:
        path = self.search.find("shaders", name)
        files: set[Path] = set()
        source = expand_includes(path, self.search, files)
        try:
            program = self.ctx.program(**stage_sources(source))
        except AssetError as error:
            raise AssetError(f"{path}: {error}") from error
        except moderngl.Error as error:
            raise AssetError(f"{path}: compile error: {error}") from error
        return _Entry(program, {f: f.stat().st_mtime for f in files})

    def reload_changed(self) -> list[str]:
        """Recompile programs whose sources changed; returns the names that were reloaded.

        The new program replaces the old one in place only when it compiles; callers that keep a
        reference should call ``get`` again each frame (a dict lookup).
        """
        reloaded = []
        for name, entry in list(self._programs.items()):
            try:
                changed = any(p.stat().st_mtime != m for p, m in entry.files.items())
            except OSError:
                continue  # an editor may be mid-save; try again next time
            if not changed:
                continue
            try:
                fresh = self._compile(name)
            except Exception as error:  # keep the last good program running
                log.warning("shader %s not reloaded: %s", name, error)
                entry.files = {p: p.stat().st_mtime for p in entry.files if p.exists()}
                continue
            entry.program.release()
            self._programs[name] = fresh
            reloaded.append(name)
            log.info("shader %s reloaded", name)
        return reloaded

    def release(self) -> None:
        for entry in self._programs.values():
            entry.program.release()
        self._programs.clear()
