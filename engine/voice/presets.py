"""Voice presets: the settings of one voice, stored as a small TOML file per scene.

Example ``scenes/voices/calm-warm.toml``::

    name = "calm-warm"
    description = "Slightly lower, warmer and softer"
    pitch_semitones = -2.0
    formant_ratio = 0.95
    tilt_db_per_octave = -1.5

Every field is optional and defaults to "leave the voice alone", so ``identity.toml`` is nearly
empty. Unknown keys and out-of-range values are errors naming the file and field: a typo in a
therapist's scene must not silently produce their real voice.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ConfigError
from engine.safety import strict_toml

MAX_PRESET_BYTES = 64 * 1024


@dataclass(frozen=True)
class VoicePreset:
    """How to transform a voice. Frequencies in Hz, levels in dB."""

    name: str = "identity"
    description: str = ""
    pitch_semitones: float = 0.0  # shift of the whole F0 contour
    pitch_range: float = 1.0  # scale of log-F0 around its centre: <1 flattens, >1 livelier
    pitch_center_hz: float = 0.0  # centre for pitch_range; 0 = the speaker's running mean
    pitch_target_hz: float = 0.0  # where that centre lands (before pitch_semitones); 0 = stays
    formant_ratio: float = 1.0  # spectral envelope frequency warp: >1 smaller/brighter vocal tract
    breathiness: float = 0.0  # 0..1 extra aperiodicity (towards a whisper at 1)
    tilt_db_per_octave: float = 0.0  # spectral tilt around 1 kHz: <0 darker, >0 brighter
    eq: tuple[tuple[float, float], ...] = ()  # (frequency Hz, gain dB) points, log-f interpolated
    denoise: float = 0.0  # 0..1 strength of envelope-domain noise-floor subtraction
    gate_db: float = -60.0  # input level below which the output fades out (-120 = gate off)
    gain_db: float = 0.0  # output gain before the limiter
    limit_db: float = -1.0  # limiter ceiling (dBFS)
    whisper: bool = False  # no voicing at all: a privacy mask that hides pitch entirely

    @property
    def is_identity(self) -> bool:
        """True when the preset changes nothing but level handling."""
        neutral = VoicePreset()
        return all(getattr(self, f) == getattr(neutral, f) for f in _SHAPING_FIELDS)


_SHAPING_FIELDS = ("pitch_semitones", "pitch_range", "pitch_target_hz", "formant_ratio",
                   "breathiness", "tilt_db_per_octave", "eq", "denoise", "whisper")

# field → (low, high) inclusive bounds for numbers.
_BOUNDS: dict[str, tuple[float, float]] = {
    "pitch_semitones": (-24.0, 24.0),
    "pitch_range": (0.0, 3.0),
    "pitch_center_hz": (0.0, 1000.0),
    "pitch_target_hz": (0.0, 1000.0),
    "formant_ratio": (0.5, 2.0),
    "breathiness": (0.0, 1.0),
    "tilt_db_per_octave": (-12.0, 12.0),
    "denoise": (0.0, 1.0),
    "gate_db": (-120.0, 0.0),
    "gain_db": (-40.0, 24.0),
    "limit_db": (-40.0, 0.0),
}


_FIELDS = tuple(f.name for f in dataclasses.fields(VoicePreset))


def preset_from_dict(data: dict, source: str = "<preset>", text: str = "") -> VoicePreset:
    """A validated preset from parsed TOML; errors name ``source`` and the field (and, given
    the ``text`` that was parsed, the line of an unknown field)."""
    strict_toml.check_fields(data, _FIELDS, source, text)
    values: dict = {}
    for key, value in data.items():
        if key in ("name", "description"):
            if not isinstance(value, str):
                raise ConfigError(f"{source}: field {key!r} must be a string")
        elif key == "whisper":
            if not isinstance(value, bool):
                raise ConfigError(f"{source}: field 'whisper' must be true or false")
        elif key == "eq":
            value = _parse_eq(value, source)
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{source}: field {key!r} must be a number, got {value!r}")
            value = checked_number(key, value, f"{source}: field {key!r}")
        values[key] = value
    return VoicePreset(**values)


def checked_number(key: str, value: float, where: str) -> float:
    """``value`` for the numeric field ``key`` if it lies within that field's bounds;
    otherwise ConfigError ``"where = value is outside [low, high]"`` (nan never lies within)."""
    value = float(value)
    low, high = _BOUNDS[key]
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(f"{where} = {value} is outside [{low}, {high}]")
    return value


def _parse_eq(value, source: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{source}: field 'eq' must be a list of [frequency_hz, gain_db] pairs")
    points = []
    for point in value:
        ok = (isinstance(point, list) and len(point) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point))
        if not ok or not (20.0 <= point[0] <= 20000.0) or not (-24.0 <= point[1] <= 24.0):
            raise ConfigError(f"{source}: 'eq' point {point!r} must be [20..20000 Hz, -24..24 dB]")
        points.append((float(point[0]), float(point[1])))
    return tuple(sorted(points))


def preset_to_toml(preset: VoicePreset) -> str:
    """TOML text that ``load_preset`` reads back to an equal preset (defaults omitted)."""
    neutral = VoicePreset()
    lines = []
    for f in dataclasses.fields(VoicePreset):
        value = getattr(preset, f.name)
        if f.name != "name" and value == getattr(neutral, f.name):
            continue
        if isinstance(value, str):
            text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif f.name == "eq":
            text = "[" + ", ".join(f"[{hz:.1f}, {db:.2f}]" for hz, db in value) + "]"
        else:
            text = f"{value:.4g}"
        lines.append(f"{f.name} = {text}")
    return "\n".join(lines) + "\n"


def load_preset(name_or_path: str | Path) -> VoicePreset:
    """A preset by name (``scenes/voices/NAME.toml`` on the search path) or by file path."""
    from engine.resources import SearchPath

    name = str(name_or_path)
    looks_like_path = name.endswith(".toml") or "/" in name or "\\" in name
    path = SearchPath().find("scenes", name if looks_like_path else f"voices/{name}.toml")
    text = strict_toml.read_text(path, MAX_PRESET_BYTES)
    try:
        data = strict_toml.loads(text, path)
    except strict_toml.TomlError as error:
        raise strict_toml.TomlError(path, error.line, f"invalid TOML: {error.reason}") from None
    data.setdefault("name", path.stem)
    return preset_from_dict(data, str(path), text)


def list_presets() -> list[str]:
    """Names of the presets on the search path."""
    from engine.resources import SearchPath

    return [p.stem for p in SearchPath().list("scenes", "voices/*.toml")]
