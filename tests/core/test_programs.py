"""Shader programs: one file per program, #include, hot reload that keeps the last good one."""

from __future__ import annotations

import os
import time

import pytest

from engine.errors import AssetError, ResourceNotFound
from engine.gl.programs import ShaderLibrary
from engine.resources import SearchPath

PROGRAM = """#version 330
#include "colour.glsl"
#if defined VERTEX_SHADER
void main() { gl_Position = vec4(0.0, 0.0, 0.0, 1.0); }
#elif defined FRAGMENT_SHADER
out vec4 color;
void main() { color = vec4(TINT, 1.0); }
#endif
"""


@pytest.fixture
def library(gl, tmp_path):
    (tmp_path / "shaders").mkdir()
    (tmp_path / "shaders" / "tint.glsl").write_text(PROGRAM)
    (tmp_path / "shaders" / "colour.glsl").write_text("#define TINT vec3(1.0, 0.0, 0.0)\n")
    shaders = ShaderLibrary(gl.ctx, SearchPath([tmp_path]))
    yield shaders, tmp_path / "shaders"
    shaders.release()


def touch_later(path, text: str) -> None:
    path.write_text(text)
    later = time.time() + 5  # mtime resolution can be coarse: make the change unmistakable
    os.utime(path, (later, later))


def test_include_is_pasted_and_program_cached(library):
    shaders, _ = library
    program = shaders.get("tint.glsl")
    assert shaders.get("tint.glsl") is program


def test_reload_after_an_included_file_changes(library):
    shaders, folder = library
    first = shaders.get("tint.glsl")
    assert shaders.reload_changed() == []
    touch_later(folder / "colour.glsl", "#define TINT vec3(0.0, 1.0, 0.0)\n")
    assert shaders.reload_changed() == ["tint.glsl"]
    assert shaders.get("tint.glsl") is not first


def test_broken_edit_keeps_the_last_good_program(library):
    shaders, folder = library
    good = shaders.get("tint.glsl")
    touch_later(folder / "tint.glsl", PROGRAM.replace("vec4(TINT, 1.0)", "vec4(TINT)"))
    assert shaders.reload_changed() == []
    assert shaders.get("tint.glsl") is good


def test_errors_name_the_file(library):
    shaders, folder = library
    (folder / "noversion.glsl").write_text("void main() {}\n")
    with pytest.raises(AssetError, match="noversion.glsl"):
        shaders.get("noversion.glsl")
    with pytest.raises(ResourceNotFound, match="missing.glsl"):
        shaders.get("missing.glsl")
