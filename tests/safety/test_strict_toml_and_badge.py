"""Strict TOML loading and the visible badge."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.safety import strict_toml
from engine.safety.badge import render_badge


def test_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text('name = "x"\n\nvalue = [1, 2\n')
    with pytest.raises(ConfigError, match=r"a\.toml:3: Unclosed array"):
        strict_toml.load(path)
    path.write_text('name = "x"\nvalue = = 1\n')
    with pytest.raises(ConfigError, match=r"a\.toml:2: .*\(column 9\)"):
        strict_toml.load(path)


def test_duplicate_key_is_an_error(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text('a = 1\nb = 2\na = 3\n')
    with pytest.raises(ConfigError, match=r"a\.toml:3: "):
        strict_toml.load(path)


def test_size_bound(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text("# padding\n" * 200)
    with pytest.raises(ConfigError, match="larger than 1000 bytes"):
        strict_toml.load(path, max_bytes=1000)
    assert strict_toml.load(path) == {}


def test_not_utf8_and_nul(tmp_path):
    path = tmp_path / "a.toml"
    path.write_bytes(b'a = 1\nb = "\xff"\n')
    with pytest.raises(ConfigError, match=r"a\.toml:2: not UTF-8"):
        strict_toml.load(path)
    path.write_bytes(b'a = 1\n\x00')
    with pytest.raises(ConfigError, match=r"a\.toml:2: contains a NUL"):
        strict_toml.load(path)


def test_deep_nesting_is_a_clear_error(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigError, match="deep.toml"):
        strict_toml.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        strict_toml.load(tmp_path / "none.toml")


@pytest.mark.parametrize("height", [18, 30, 60])
def test_badge_is_premultiplied_pill_of_requested_height(height):
    rgba = render_badge("AI avatar", height)
    assert rgba.dtype == np.uint8 and rgba.shape[0] == height and rgba.shape[2] == 4
    assert rgba.shape[1] > 2 * height  # wider than tall: a pill with text
    assert np.all(rgba[:, :, :3] <= rgba[:, :, 3:4])  # premultiplied
    assert rgba[0, 0, 3] < 40 and rgba[height // 2, rgba.shape[1] // 2, 3] > 150  # round corners
    bright = (rgba[:, :, 0] > 200).sum()
    assert bright > height  # white text drawn


def test_badge_text_changes_width():
    assert render_badge("AI avatar (synthetic video)", 24).shape[1] > render_badge("AI", 24).shape[1]


def test_badge_settings_place_in_each_corner_and_turning_off_is_audited(tmp_path):
    from engine.safety.audit import AuditLog, verify
    from engine.safety.badge import BadgeSettings, record_change

    default = BadgeSettings()
    assert default.enabled and default.text == "AI avatar"
    assert default.placement(100, 30, 1280, 720) == (18, 720 - 30 - 18)
    assert BadgeSettings(position="top-right").placement(100, 30, 1280, 720) == (1280 - 118, 18)
    with pytest.raises(ValueError):
        BadgeSettings(position="middle")
    audit = AuditLog(tmp_path / "audit.jsonl")
    record_change(default, BadgeSettings(enabled=False), audit)
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 1 and '"badge_change"' in lines[0] and '"enabled":false' in lines[0]
    assert verify(tmp_path / "audit.jsonl").ok
