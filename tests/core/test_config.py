"""Settings: defaults, TOML, environment and clear errors."""

import pytest

from engine.config import Settings
from engine.errors import ConfigError


def test_defaults_then_file_then_environment(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('fps = 25\nscene = "calm"\nsinks = ["y4m:/tmp/a.y4m"]\n')
    settings = Settings.load(path, environ={"PERSONA_FPS": "24", "PERSONA_PREVIEW": "yes"})
    assert settings.fps == 24.0
    assert settings.scene == "calm"
    assert settings.sinks == ["y4m:/tmp/a.y4m"]
    assert settings.preview is True
    assert settings.width == 1280


def test_unknown_setting_names_the_file(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("fpz = 25\n")
    with pytest.raises(ConfigError, match=r"settings.toml:1: unknown setting 'fpz'; did you mean 'fps'"):
        Settings.load(path, environ={})


def test_wrong_type_names_the_setting(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('fps = "fast"\n')
    with pytest.raises(ConfigError, match="'fps' must be a number"):
        Settings.load(path, environ={})


def test_malformed_toml_is_a_config_error(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("fps = = 3\n")
    with pytest.raises(ConfigError, match="settings.toml"):
        Settings.load(path, environ={})


def test_environment_lists_and_key_map():
    settings = Settings.load(None, environ={"PERSONA_SINKS": "null, y4m:/tmp/x.y4m"})
    assert settings.sinks == ["null", "y4m:/tmp/x.y4m"]
    settings = settings.updated({"keys": {"q": "quit"}}, "test")
    assert settings.keys["Q"] == "quit" and settings.keys["B"] == "blank"
