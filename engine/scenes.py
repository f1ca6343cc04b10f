"""Scene files: which avatar, background, voice and style a clinician switches to with one key.

A scene is ``scenes/NAME.toml``::

    name = "Calm"
    hotkey = "1"
    avatar = "default"              # a folder in avatars/, or a path to a folder or model file
    voice = "calm-warm"             # a preset in scenes/voices/, or omitted for no morph
    badge = "AI avatar"

    [background]
    color = [0.12, 0.14, 0.18]      # or: image = "backgrounds/room.jpg", blur = 4

    [style]
    intensity = 1.0                 # global expression gain
    mirror = true
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.errors import ConfigError
from engine.resources import SearchPath
from engine.types import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, Expression


@dataclass(frozen=True)
class Style:
    """How strongly and in what manner the tracked expression reaches the avatar."""

    intensity: float = 1.0
    channel_gains: dict[str, float] = field(default_factory=dict)
    exaggeration: float = 1.0  # exponent on each channel: <1 livelier, >1 calmer
    mirror: bool = True


@dataclass(frozen=True)
class SceneBackground:
    color: tuple[float, float, float] = (0.12, 0.14, 0.18)
    image: Path | None = None
    blur: float = 0.0


@dataclass(frozen=True)
class Scene:
    name: str
    avatar: str
    path: Path | None = None
    hotkey: str | None = None
    voice: str | None = None
    badge: str = "AI avatar"
    background: SceneBackground = SceneBackground()
    style: Style = Style()


def load_scene(path: Path) -> Scene:
    """Read and check one scene file; errors name the file and the field."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read scene ({error.strerror})") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from error
    if "avatar" not in data:
        raise ConfigError(f"{path}: missing field 'avatar'")
    background = data.get("background", {})
    style = data.get("style", {})
    image = background.get("image")
    return Scene(
        name=str(data.get("name", path.stem)),
        avatar=str(data["avatar"]),
        path=path,
        hotkey=data.get("hotkey"),
        voice=data.get("voice"),
        badge=str(data.get("badge", "AI avatar")),
        background=SceneBackground(
            color=tuple(background.get("color", SceneBackground.color)),
            image=(path.parent / image) if image else None,
            blur=float(background.get("blur", 0.0)),
        ),
        style=Style(
            intensity=float(style.get("intensity", 1.0)),
            channel_gains=dict(style.get("channel_gains", {})),
            exaggeration=float(style.get("exaggeration", 1.0)),
            mirror=bool(style.get("mirror", True)),
        ),
    )


def find_scene(name: str, search: SearchPath | None = None) -> Path:
    """A scene by name (``scenes/NAME.toml``) or by path."""
    search = search or SearchPath()
    candidate = Path(name)
    if candidate.suffix == ".toml" and candidate.exists():
        return candidate
    return search.find("scenes", f"{name}.toml")


# Left and right channel pairs, swapped when a scene mirrors the performer (a mirror image is what
# people expect to see of themselves: raising the right brow raises the avatar's brow on the
# right of the screen).
_MIRROR_PAIRS = [(i, BLENDSHAPE_INDEX[name.replace("Left", "Right")])
                 for name, i in BLENDSHAPE_INDEX.items() if name.endswith("Left")]
_MIRROR_PERMUTATION = np.arange(len(BLENDSHAPE_NAMES))
for _left, _right in _MIRROR_PAIRS:
    _MIRROR_PERMUTATION[_left], _MIRROR_PERMUTATION[_right] = _right, _left
_MIRROR_HEAD = np.diag([-1.0, 1.0, 1.0, 1.0]).astype(np.float32)


def stylize(expression: Expression, style: Style) -> Expression:
    """Apply a scene's intensity, per-channel gains, exaggeration curve and mirroring."""
    weights = expression.blendshapes
    if style.exaggeration != 1.0:
        weights = np.power(weights, style.exaggeration)
    weights = weights * style.intensity
    if style.channel_gains:
        weights = weights * _gain_vector(tuple(sorted(style.channel_gains.items())))
    head, gaze = expression.head, expression.gaze
    if style.mirror:
        weights = weights[_MIRROR_PERMUTATION]
        head = _MIRROR_HEAD @ head @ _MIRROR_HEAD
        gaze = gaze * np.array([-1.0, 1.0], np.float32)
    return Expression(np.clip(weights, 0.0, 1.0).astype(np.float32), head, gaze)


@lru_cache(maxsize=64)
def _gain_vector(gains: tuple[tuple[str, float], ...]) -> np.ndarray:
    """Per-channel gains as a (52,) vector, 1 where a scene names no gain (cached per style)."""
    vector = np.ones(len(BLENDSHAPE_NAMES), np.float32)
    for name, gain in gains:
        vector[BLENDSHAPE_INDEX[name]] = gain
    return vector
