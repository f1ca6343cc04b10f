"""The one strict TOML reader, and the scene, preset and settings loaders that go through it."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

from engine.config import Settings
from engine.errors import ConfigError
from engine.safety import strict_toml
from engine.scenes import SceneError, load_scene, parse_scene
from engine.voice.presets import load_preset

LOADERS = {
    "reader": strict_toml.load,
    "scene": load_scene,
    "preset": load_preset,
    "settings": lambda path: Settings.load(path, environ={}),
}


@contextlib.contextmanager
def no_hang(seconds: int = 5):
    """Fail instead of hanging the test run when a read blocks."""
    def hung(signum, frame):
        raise AssertionError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_size_bound(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text("# padding\n" * 200)
    with pytest.raises(ConfigError, match=r"big\.toml: larger than 1000 bytes"):
        strict_toml.load(path, max_bytes=1000)
    assert strict_toml.load(path) == {}
    path.write_text("# " + "x" * 70_000)
    for name in ("scene", "preset", "settings"):
        with pytest.raises(ConfigError, match="larger than 65536 bytes"):
            LOADERS[name](path)


def test_nul_byte_and_non_utf8_are_located(tmp_path):
    path = tmp_path / "a.toml"
    path.write_bytes(b'a = 1\nb = 2\nc = "\x00"\n')
    with pytest.raises(ConfigError, match=r"a\.toml:3: contains a NUL byte"):
        strict_toml.load(path)
    path.write_bytes(b'a = 1\nb = "\xff"\n')
    with pytest.raises(ConfigError, match=r"a\.toml:2: not UTF-8 text \(byte 11\)"):
        strict_toml.load(path)
    with pytest.raises(SceneError, match=r"a\.toml:2: cannot read scene: not UTF-8") as caught:
        load_scene(path)
    assert caught.value.line == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize("loader", LOADERS)
def test_a_fifo_is_refused_at_once(tmp_path, loader):
    """Opening a FIFO for reading waits for a writer: a scene swapped for one must not hang."""
    path = tmp_path / "fifo.toml"
    os.mkfifo(path)
    with no_hang(), pytest.raises(ConfigError, match=r"fifo\.toml: .*not a regular file"):
        LOADERS[loader](path)


@pytest.mark.parametrize("loader", LOADERS)
def test_a_folder_is_refused_and_a_symlinked_file_is_read(tmp_path, loader):
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    with pytest.raises(ConfigError, match=r"folder\.toml: .*not a regular file"):
        LOADERS[loader](folder)
    target = tmp_path / "real.toml"
    target.write_text('avatar = "default"\n' if loader == "scene" else "")
    link = tmp_path / "link.toml"
    link.symlink_to(target)
    LOADERS[loader](link)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"none\.toml: no such file"):
        strict_toml.load(tmp_path / "none.toml")


def test_deep_nesting_is_a_clear_error(tmp_path):
    text = "a = " + "[" * 50_000 + "]" * 50_000 + "\n"
    with pytest.raises(ConfigError, match=r"deep\.toml: values are nested too deeply"):
        strict_toml.loads(text, "deep.toml")
    with pytest.raises(SceneError, match=r"deep\.toml: not valid TOML: values are nested"):
        parse_scene(Path("deep.toml"), text)


def test_unknown_scene_field_has_line_and_suggestion(tmp_path):
    path = tmp_path / "scene.toml"
    path.write_text('avatar = "default"\n\n[style]\nmirror = true\nintesnity = 2\n')
    with pytest.raises(SceneError) as caught:
        load_scene(path)
    assert (caught.value.line, caught.value.field) == (5, "style.intesnity")
    assert str(caught.value).startswith(f"{path}:5: style.intesnity: unknown field in [style]; "
                                        "did you mean 'intensity'? (known: intensity, ")


def test_unknown_preset_field_has_line_and_suggestion(tmp_path):
    path = tmp_path / "voice.toml"
    path.write_text('description = "x"\nformant_ratio = 1.1\nbreathines = 0.2\n')
    with pytest.raises(ConfigError) as caught:
        load_preset(path)
    assert str(caught.value).startswith(f"{path}:3: unknown field 'breathines'; did you mean "
                                        "'breathiness'? (known: name, description, ")


def test_unknown_setting_has_line_and_suggestion(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('fps = 25\nscene = "calm"\nprevew = true\n')
    with pytest.raises(ConfigError) as caught:
        Settings.load(path, environ={})
    assert str(caught.value).startswith(f"{path}:3: unknown setting 'prevew'; did you mean "
                                        "'preview'? (known: width, height, ")
    with pytest.raises(ConfigError, match=r"^command line: unknown setting 'fsp'; did you mean"):
        Settings().updated({"fsp": 3}, "command line")


def test_check_fields_locates_nested_keys():
    text = 'name = "x"\n[shape]\nsize = 1\nshadng = "flat"\n'
    data = strict_toml.loads(text, "a.toml")
    strict_toml.check_fields(data, ("name", "shape"), "a.toml", text)
    with pytest.raises(strict_toml.TomlError) as caught:
        strict_toml.check_fields(data["shape"], ("size", "shading"), "a.toml", text, ("shape",))
    assert caught.value.line == 4
    assert str(caught.value) == ("a.toml:4: unknown field 'shape.shadng'; did you mean "
                                 "'shading'? (known: size, shading)")
    with pytest.raises(strict_toml.TomlError, match=r"^a\.toml: unknown field 'zzz' \(known"):
        strict_toml.check_fields({"zzz": 1}, ("size",), "a.toml")


def test_line_of_falls_back_to_the_enclosing_key():
    lines = strict_toml.key_lines('a = 1\n[style]\ngains = { jawOpen = 1 }\n')
    assert strict_toml.line_of(lines, ("style", "gains", "jawOpen")) == 3
    assert strict_toml.line_of(lines, ("style", "other")) == 2
    assert strict_toml.line_of(lines, ("missing",)) is None
