"""Settings: one dataclass, filled from defaults, then a TOML file, then ``PERSONA_*`` environment
variables, then command-line flags — each later source overriding the earlier ones.

There is no global settings object: whoever builds the app passes a ``Settings`` in.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.keycombo import parse_bindings
from engine.safety import strict_toml

MAX_SETTINGS_BYTES = 64 * 1024  # a settings file is a few hundred bytes

DEFAULT_KEYS = {
    "1": "scene:1", "2": "scene:2", "3": "scene:3", "4": "scene:4", "5": "scene:5",
    "6": "scene:6", "7": "scene:7", "8": "scene:8", "9": "scene:9",
    "B": "blank", "F": "freeze", "M": "mute", "V": "voice", "C": "calibrate", "H": "hud",
    "P": "panic", "I": "detail",
    "ESCAPE": "quit",
}


@dataclass
class Settings:
    """Everything the live loop and the offline renderer need to know."""

    width: int = 1280
    height: int = 720
    fps: float = 30.0
    source: str = "webcam"  # "webcam[:index|name]", a video or image path, or "synthetic"
    tracker: str = "mediapipe"  # "mediapipe[:mirror-average]", "replay:TRACK.jsonl" or "vmc[:PORT]"
    sinks: list[str] = field(default_factory=lambda: ["virtualcam"])
    preview: bool = False  # open a preview window with the HUD
    scene: str = "default"
    scenes_dir: str | None = None  # extra folder of scene files
    crossfade_s: float = 0.4
    voice: bool = False  # run the live voice morph
    audio_input: str | None = None  # device name substring
    audio_output: str | None = None
    audio_monitor: str | None = None
    use: str = "privacy"  # what avatars are used for: therapy, privacy, demo (consent checks)
    badge: bool = True  # the visible "AI avatar" disclosure (turning it off is logged)
    badge_position: str = "bottom-left"  # top-left, top-right, bottom-left, bottom-right
    badge_height: float = 1 / 24  # of the frame height
    record_track: str | None = None  # path for a track file, written only when asked
    audit_log: str | None = None  # append-only log of scene switches and consent checks
    unencrypted: bool = False  # store recordings and track files in the clear (logged)
    control: bool = False  # serve the control API and page on 127.0.0.1
    control_port: int = 0  # 0: any free port (printed at start)
    # Serve the control page to a tablet on this address or interface name ("192.168.1.20",
    # "wlan0"); None: loopback only. See docs/control-api.md, "Tablet remote".
    control_lan: str | None = None
    dev: bool = False  # hot-reload shaders and models
    keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_KEYS))
    # Keys that work whatever window has focus, e.g. {"ctrl+alt+b" = "blank"}. None by default:
    # a global key is taken from every other program, so each one is the user's choice.
    global_keys: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def updated(self, values: dict[str, Any], origin: str, text: str = "") -> Settings:
        """A copy with ``values`` applied; unknown names and wrong types name ``origin`` (and,
        given the TOML ``text`` the values were parsed from, the line of an unknown name)."""
        strict_toml.check_fields(values, _NAMES, origin, text, what="setting")
        changes = {}
        for name, value in values.items():
            current = getattr(self, name)
            where = f"{origin}: setting {name!r}"
            changes[name] = _CHECKS.get(name, _as_is)(_coerce(value, current, where), where)
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None,
             environ: dict[str, str] | None = None) -> Settings:
        """Defaults, then the TOML file at ``path`` (if any), then ``PERSONA_*`` variables."""
        settings = cls()
        if path is not None:
            text = strict_toml.read_text(path, MAX_SETTINGS_BYTES)
            settings = settings.updated(strict_toml.loads(text, path), str(path), text)
        environ = os.environ if environ is None else environ
        # Only variables named after a setting: PERSONA_PATH, PERSONA_PASSPHRASE and friends
        # belong to other parts of the engine.
        from_env = {key[len("PERSONA_"):].lower(): value for key, value in environ.items()
                    if key.startswith("PERSONA_") and key[len("PERSONA_"):].lower() in _NAMES}
        return settings.updated(from_env, "environment") if from_env else settings


_NAMES = tuple(f.name for f in dataclasses.fields(Settings))


def _coerce(value: Any, current: Any, where: str) -> Any:
    """Convert strings from the environment; check types from TOML."""
    if isinstance(current, bool):
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
        elif isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        try:
            return type(current)(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be a number, got {value!r}") from None
    if isinstance(current, list):
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise ConfigError(f"{where} must be a list of names, got {value!r}")
    if isinstance(current, dict):
        if isinstance(value, dict):
            return {**current, **{str(k).upper(): str(v) for k, v in value.items()}}
        raise ConfigError(f"{where} must be a table, got {value!r}")
    if value is None or isinstance(value, str):
        return value
    raise ConfigError(f"{where} must be text, got {value!r}")


def _as_is(value: Any, where: str) -> Any:
    return value


def _global_keys(value: dict[str, str], where: str) -> dict[str, str]:
    # Checked when read, so a typo fails at start rather than on the key press mid-call.
    try:
        parse_bindings(value)
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None
    return value


def _control_lan(value: str | None, where: str) -> str | None:
    if value is not None and not value.strip():
        raise ConfigError(f"{where}: give an address or interface name, e.g. \"wlan0\"")
    return value


def _within(low: float, high: float) -> Callable[[Any, str], Any]:
    """A check that a number lies in ``low..high`` inclusive (nan never does)."""

    def check(value: Any, where: str) -> Any:
        if not low <= value <= high:
            raise ConfigError(f"{where} must be from {low:g} to {high:g}, got {value:g}")
        return value

    return check


# Settings whose values need more than a type check. Numbers are bounded where they are read:
# 0 or nan frames per second would divide by zero, or never end, far from the setting that
# caused it. Sizes are those ``--size`` allows.
_CHECKS = {
    "global_keys": _global_keys, "control_lan": _control_lan,
    "width": _within(64, 3840), "height": _within(64, 2160), "fps": _within(1.0, 240.0),
    "crossfade_s": _within(0.0, 10.0), "badge_height": _within(0.01, 0.5),
    "control_port": _within(0, 65535),
}


def settings_path() -> Path | None:
    """The user's settings file, if there is one (``PERSONA_CONFIG`` or ~/.config/persona)."""
    explicit = os.environ.get("PERSONA_CONFIG")
    if explicit:
        return Path(explicit)
    default = Path.home() / ".config" / "persona" / "settings.toml"
    return default if default.exists() else None
