"""Expression scripts: the one vocabulary of expression names, and the two ways to write a script.

The vocabulary is the named expressions below (``smile``, ``surprise``, ``talk``...) and the 52
ARKit channels (``jawOpen``, ``mouthSmileLeft``...; ``engine.types.BLENDSHAPE_NAMES``). The same
names are used by ``persona render --script``, TOML script files, the tiles of ``persona avatar
preview`` and docs/scripts.md (whose table a test checks against this module).

A script is a tuple of ``Pose``s (``engine.performer`` plays them). It is written either inline,
``"smile:0.8@1.5, jawOpen:0.6@1"`` (name, optional ``:intensity``, optional ``@seconds`` held), or
as a TOML file of keys::

    duration = 6.0                  # optional: seconds in all (default: last key + 1.5 s)

    [[key]]
    at = 0.0                        # seconds: when this key starts
    expression = "smile"            # a name in the vocabulary, or instead:
    # channels = { jawOpen = 0.6, mouthSmileLeft = 0.4 }
    intensity = 1.2                 # 0..2 (default 1)
    ease = "smoothstep"             # linear | smoothstep | ease-in | ease-out | hold
    ease_s = 0.35                   # how long the move to this key takes (default 0.35 s)
    head = { yaw = 10, pitch = -5 } # degrees (optional; default facing the camera)

Each key eases from wherever the face is at ``at`` to its expression over ``ease_s`` and holds it
until the next key. Every problem is a ``ConfigError`` naming the file (line, key index, field),
and an unknown name lists the vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from engine.errors import ConfigError
from engine.safety import strict_toml
from engine.safety.strict_toml import nearest
from engine.types import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES


@dataclass(frozen=True)
class NamedExpression:
    """A named expression: ARKit channel values at intensity 1, and what it is for."""

    channels: Mapping[str, float]
    meaning: str


def _named(meaning: str, **channels: float) -> NamedExpression:
    return NamedExpression(MappingProxyType(channels), meaning)


# The named expressions, in the order the docs and the preview show them.
EXPRESSIONS: Mapping[str, NamedExpression] = MappingProxyType({
    "neutral": _named("the rest face (blinks, sway and gaze still play)"),
    "smile": _named("closed-mouth smile with cheeks and eyes joining in",
                    mouthSmileLeft=0.85, mouthSmileRight=0.85, cheekSquintLeft=0.3,
                    cheekSquintRight=0.3, eyeSquintLeft=0.25, eyeSquintRight=0.25,
                    mouthDimpleLeft=0.3, mouthDimpleRight=0.3),
    "laugh": _named("open-mouthed smile",
                    mouthSmileLeft=1.0, mouthSmileRight=1.0, jawOpen=0.45, cheekSquintLeft=0.7,
                    cheekSquintRight=0.7, eyeSquintLeft=0.5, eyeSquintRight=0.5,
                    mouthUpperUpLeft=0.3, mouthUpperUpRight=0.3),
    "surprise": _named("brows up, eyes wide, jaw dropped",
                       browInnerUp=0.9, browOuterUpLeft=0.85, browOuterUpRight=0.85,
                       eyeWideLeft=0.8, eyeWideRight=0.8, jawOpen=0.55, mouthFunnel=0.25),
    "sad": _named("inner brows up, mouth corners down",
                  browInnerUp=0.7, mouthFrownLeft=0.7, mouthFrownRight=0.7, mouthShrugLower=0.35,
                  eyeSquintLeft=0.15, eyeSquintRight=0.15),
    "angry": _named("brows down, nose sneer, lips pressed",
                    browDownLeft=0.9, browDownRight=0.9, noseSneerLeft=0.5, noseSneerRight=0.5,
                    mouthPressLeft=0.5, mouthPressRight=0.5, eyeSquintLeft=0.4,
                    eyeSquintRight=0.4),
    "pucker": _named("lips pushed forward, as for a kiss", mouthPucker=0.9, mouthFunnel=0.2),
    "wink": _named("left eye closed with a half smile",
                   eyeBlinkLeft=1.0, mouthSmileLeft=0.5, cheekSquintLeft=0.4),
    "blink": _named("both eyes closed", eyeBlinkLeft=1.0, eyeBlinkRight=1.0),
    "talk": _named("speech: jaw and lips move in a syllable rhythm (about 4.5 a second)"),
})
MAX_INTENSITY = 2.0  # a key's intensity; the scene's style (up to 3) scales on top
MAX_SCRIPT_SECONDS = 3600.0  # an hour; longer is a typo (smile@1e9 would render for ever)
MAX_SCRIPT_BYTES = 256 * 1024  # thousands of keys; anything bigger is not a script
MAX_KEYS = 10_000
MAX_HEAD_DEGREES = 60.0
EASES = ("linear", "smoothstep", "ease-in", "ease-out", "hold")
DEFAULT_HOLD_S = 1.5
DEFAULT_EASE_S = 0.35
KEY_FIELDS = ("at", "expression", "channels", "intensity", "ease", "ease_s", "head")
TOP_FIELDS = ("duration", "key")


def vocabulary() -> tuple[str, ...]:
    """Every name a script may use: the named expressions, then the 52 ARKit channels."""
    return (*EXPRESSIONS, *BLENDSHAPE_NAMES)


def vocabulary_text() -> str:
    """The vocabulary as an error message lists it."""
    return (f"named expressions: {', '.join(EXPRESSIONS)}; or an ARKit channel "
            f"({', '.join(BLENDSHAPE_NAMES)})")


def channels_of(name: str) -> Mapping[str, float]:
    """The ARKit channel values a vocabulary name stands for at intensity 1 (a raw channel is
    itself at 1); an unknown name is a ConfigError listing the vocabulary."""
    if name in EXPRESSIONS:
        return EXPRESSIONS[name].channels
    if name in BLENDSHAPE_INDEX:
        return MappingProxyType({name: 1.0})
    raise ConfigError(f"unknown expression {name!r}{nearest(name, vocabulary())}; "
                      f"{vocabulary_text()}")


@dataclass(frozen=True)
class Pose:
    """One key of a script: ``expression`` (a vocabulary name, or a label when ``channels``
    gives the channel values itself), eased into over ``ease_s`` with ``ease`` and held so that
    the pose lasts ``hold_s`` in all, with the head turned by ``yaw_deg``/``pitch_deg``."""

    expression: str
    hold_s: float = DEFAULT_HOLD_S
    intensity: float = 1.0
    ease_s: float = DEFAULT_EASE_S
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    channels: Mapping[str, float] | None = field(default=None, compare=False)
    ease: str = "smoothstep"

    def shapes(self) -> Mapping[str, float]:
        """The channel values at intensity 1."""
        return self.channels if self.channels is not None else channels_of(self.expression)

    @property
    def talks(self) -> bool:
        return self.channels is None and self.expression == "talk"


def ease_weight(curve: str, x: float) -> float:
    """How far (0..1) a move with ``curve`` is at ``x`` (0..1) of its time."""
    x = min(max(x, 0.0), 1.0)
    if curve == "linear":
        return x
    if curve == "ease-in":
        return x * x
    if curve == "ease-out":
        return 1.0 - (1.0 - x) ** 2
    if curve == "hold":
        return 1.0  # jumps at the key and holds
    return x * x * (3 - 2 * x)  # smoothstep


def _check_total(poses: list[Pose], where: str) -> tuple[Pose, ...]:
    if not poses:
        raise ConfigError(f"{where}: no expressions given")
    total = sum(pose.hold_s for pose in poses)
    if total > MAX_SCRIPT_SECONDS:
        raise ConfigError(f"{where}: {total:g} seconds in all; the limit is "
                          f"{MAX_SCRIPT_SECONDS:g}")
    return tuple(poses)


def parse_inline(text: str) -> tuple[Pose, ...]:
    """``"smile:0.8@1.5, jawOpen:0.6@1"`` → poses: a vocabulary name, optional ``:intensity``
    (0..``MAX_INTENSITY``), optional ``@seconds`` held (default 1.5). Problems raise ConfigError
    naming the item."""
    poses = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, hold = item.partition("@")
        name, _, intensity = name.partition(":")
        name = name.strip()
        try:
            channels_of(name)
        except ConfigError as error:
            raise ConfigError(f"script: {error}") from None
        try:
            pose = Pose(name, float(hold or DEFAULT_HOLD_S), float(intensity or 1.0))
        except ValueError:
            raise ConfigError(f"script: {item!r} is not NAME[:INTENSITY][@SECONDS]") from None
        if not 0.0 < pose.hold_s <= MAX_SCRIPT_SECONDS:  # also refuses nan
            raise ConfigError(f"script: {item!r}: the time must be more than 0 and at most "
                              f"{MAX_SCRIPT_SECONDS:g} seconds")
        if not 0.0 <= pose.intensity <= MAX_INTENSITY:
            raise ConfigError(f"script: {item!r}: the intensity must be from 0 to "
                              f"{MAX_INTENSITY:g}")
        poses.append(pose)
    return _check_total(poses, "script")


# -- TOML script files ------------------------------------------------------------------------------

class _KeyFile:
    """One script file's text, and how to report a problem at a key."""

    _KEY_HEADER = re.compile(r"^\s*\[\[\s*key\s*\]\]")

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = strict_toml.key_lines(text)
        self.key_starts = [number for number, line in enumerate(text.splitlines(), start=1)
                           if self._KEY_HEADER.match(line)]

    def error(self, index: int | None, name: str, message: str) -> ConfigError:
        if index is None:
            line = strict_toml.line_of(self.lines, (name,))
            return strict_toml.TomlError(self.path, line, f"{name}: {message}")
        line = self.key_starts[index] if index < len(self.key_starts) else None
        return strict_toml.TomlError(self.path, line, f"key {index + 1}: {name}: {message}")


def _number(source: _KeyFile, index: int | None, name: str, value, low: float,
            high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not low <= value <= high:  # False for nan and inf too
        raise source.error(index, name, f"must be a number from {low:g} to {high:g}, "
                                        f"got {value!r}")
    return float(value)


def _key_target(source: _KeyFile, index: int, key: dict) -> tuple[str, Mapping[str, float] | None]:
    """(label, channels or None) of a key: a vocabulary name or a channels table, not both."""
    if ("expression" in key) == ("channels" in key):
        raise source.error(index, "expression", "give either expression = NAME or channels = "
                                                "{ CHANNEL = VALUE, ... }, not both or neither")
    if "expression" in key:
        name = key["expression"]
        if not isinstance(name, str):
            raise source.error(index, "expression", f"must be a name, got {name!r}")
        try:
            channels_of(name)
        except ConfigError as error:
            raise source.error(index, "expression", str(error)) from None
        return name, None
    table = key["channels"]
    if not isinstance(table, dict) or not table:
        raise source.error(index, "channels", "must be a table { CHANNEL = VALUE, ... }")
    channels = {}
    for channel, value in table.items():
        if channel not in BLENDSHAPE_INDEX:
            raise source.error(index, f"channels.{channel}",
                               f"not an ARKit channel{nearest(channel, BLENDSHAPE_NAMES)}; "
                               f"{vocabulary_text()}")
        channels[channel] = _number(source, index, f"channels.{channel}", value, 0.0, 1.0)
    label = "+".join(channels) if len(channels) <= 2 else f"{len(channels)} channels"
    return label, MappingProxyType(channels)


def _head(source: _KeyFile, index: int, value) -> tuple[float, float]:
    if not isinstance(value, dict):
        raise source.error(index, "head", "must be a table { yaw = DEG, pitch = DEG }")
    for name in value:
        if name not in ("yaw", "pitch"):
            raise source.error(index, f"head.{name}", "unknown field; known: yaw, pitch")
    return tuple(_number(source, index, f"head.{name}", value.get(name, 0.0),
                         -MAX_HEAD_DEGREES, MAX_HEAD_DEGREES) for name in ("yaw", "pitch"))


def parse_script_file(path: Path, text: str) -> tuple[Pose, ...]:
    """The poses of a TOML script's text (see the module docstring)."""
    source = _KeyFile(path, text)
    data = strict_toml.loads(text, path)
    strict_toml.check_fields(data, TOP_FIELDS, path, text)
    keys = data.get("key")
    if not isinstance(keys, list) or not keys:
        raise source.error(None, "key", "no keys; add [[key]] tables with at = SECONDS and "
                                        "expression = NAME")
    if not all(isinstance(key, dict) for key in keys):
        raise source.error(None, "key", "must be [[key]] tables")
    if len(keys) > MAX_KEYS:
        raise source.error(None, "key", f"{len(keys)} keys; the limit is {MAX_KEYS}")
    starts, poses = [], []
    for index, key in enumerate(keys):
        unknown = strict_toml.unknown_field(key, KEY_FIELDS)
        if unknown is not None:
            raise source.error(index, unknown[0], f"unknown field{unknown[1]}")
        if "at" not in key:
            raise source.error(index, "at", "missing: when the key starts, in seconds")
        at = _number(source, index, "at", key["at"], 0.0, MAX_SCRIPT_SECONDS)
        if starts and at <= starts[-1]:
            raise source.error(index, "at", f"{at:g} s is not after the key before "
                                            f"({starts[-1]:g} s); keys go in time order")
        label, channels = _key_target(source, index, key)
        ease = key.get("ease", "smoothstep")
        if ease not in EASES:
            raise source.error(index, "ease", f"{ease!r} is not an easing"
                                              f"{nearest(str(ease), EASES)}; known: "
                                              f"{', '.join(EASES)}")
        yaw, pitch = _head(source, index, key["head"]) if "head" in key else (0.0, 0.0)
        starts.append(at)
        poses.append(dict(expression=label, channels=channels, ease=ease,
                          intensity=_number(source, index, "intensity",
                                            key.get("intensity", 1.0), 0.0, MAX_INTENSITY),
                          ease_s=_number(source, index, "ease_s",
                                         key.get("ease_s", DEFAULT_EASE_S), 0.0, 60.0),
                          yaw_deg=yaw, pitch_deg=pitch))
    end = starts[-1] + DEFAULT_HOLD_S
    if "duration" in data:
        end = _number(source, None, "duration", data["duration"], 0.0, MAX_SCRIPT_SECONDS)
        if end <= starts[-1]:
            raise source.error(None, "duration", f"{end:g} s ends before the last key starts "
                                                 f"({starts[-1]:g} s)")
    if starts[0] > 0.0:  # the face rests until the first key
        starts.insert(0, 0.0)
        poses.insert(0, dict(expression="neutral", ease="hold"))
    holds = [b - a for a, b in zip(starts, [*starts[1:], end])]
    return _check_total([Pose(hold_s=hold, **pose) for hold, pose in zip(holds, poses)],
                        str(path))


def read_script(path: str | Path) -> tuple[Pose, ...]:
    """The poses of the TOML script file at ``path`` (bounded, read as untrusted)."""
    path = Path(path)
    return parse_script_file(path, strict_toml.read_text(path, MAX_SCRIPT_BYTES))


def load_script(text_or_path: str) -> tuple[Pose, ...]:
    """``--script`` takes a ``.toml`` file or the inline form."""
    if text_or_path.strip().lower().endswith(".toml"):
        return read_script(text_or_path)
    return parse_inline(text_or_path)

