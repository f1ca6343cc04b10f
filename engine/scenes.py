"""Scene files: which avatar, background, voice and style a clinician switches to with one key.

A scene is ``scenes/NAME.toml``::

    name = "Calm"
    hotkey = "1"                    # 1–9; shown on the HUD and control page
    avatar = "default"              # a folder in avatars/, or a path to a folder or model file
    voice = "calm-warm"             # a preset in scenes/voices/, or omitted for no morph
    badge = "AI avatar"             # the disclosure every viewer sees
    anonymous = false               # true: nothing of the real person may reach the output
    upper_body = false              # true: shoulders and arms follow the performer (MediaPipe
                                    # Pose on the tracking worker; VRM avatars show it)

    [background]
    color = "#1f2430"               # or [0.12, 0.14, 0.18]
    # image = "backgrounds/room.jpg"   relative to the scene file; blur = 4 softens it (a Gaussian of 2^(blur-1) px at 720p)
    # camera = "blur"                  the real room, blurred beyond recognition
    # camera = "segmented"             the real room with the person cut out

    [style]
    intensity = 1.0                 # global expression gain, 0–3
    exaggeration = 1.0              # curve exponent per channel: <1 livelier, >1 calmer
    mirror = true
    channel_gains = { jawOpen = 0.8 }

    [framing]
    zoom = 1.0                      # 0.5–3: how much of the frame the head (or body) fills
    offset = [0.0, 0.0]             # shift of the head, fractions of the frame, -1..1
    shot = "head"                   # or "upper_body": head to hips (the default when
                                    # upper_body = true, so the tracked arms are seen)

``background = "camera-blur"`` / ``"camera-segmented"`` / ``"#rrggbb"`` are short forms.

Privacy of camera backgrounds: tracked faces are painted over and the camera picture is reduced
to 16×9 pixels (4×3 while no face is tracked) before it is shown (``camera = "blur"``), or the person — and every face box the tracker reports — is
cut out and filled from the empty room (``camera = "segmented"``); when the cut-out cannot be
made the frame falls back to the blur. Either way the real face never reaches the output.

Validation is strict because a typo must not silently show the wrong thing in a therapy session:
every problem raises ``SceneError`` naming the file, the line and the field, and an unknown name
comes with the nearest valid one ("did you mean 'intensity'?").
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ConfigError
from engine.resources import SearchPath
from engine.safety import strict_toml
from engine.safety.strict_toml import TomlError, key_lines, line_of, nearest, unknown_field
from engine.tracking.rotations import matrix_from_quat, quat_from_matrix, scale_rotation
from engine.types import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, Expression

log = logging.getLogger(__name__)

MAX_SCENE_BYTES = 64 * 1024  # a scene is a few hundred bytes; anything bigger is not a scene
HOTKEYS = tuple("123456789")  # the number keys the preview window maps to scenes
CAMERA_MODES = ("blur", "segmented")
MODEL_SUFFIXES = (".glb", ".gltf", ".vrm")


class SceneError(TomlError):
    """A scene file problem, located: ``file:line: field: message``."""

    def __init__(self, path: Path | str, line: int | None, field_name: str | None,
                 message: str) -> None:
        super().__init__(path, line, f"{field_name}: {message}" if field_name else message)
        self.path, self.field, self.message = Path(path), field_name, message


@dataclass(frozen=True)
class Style:
    """How strongly and in what manner the tracked expression reaches the avatar."""

    intensity: float = 1.0
    channel_gains: dict[str, float] = field(default_factory=dict)
    exaggeration: float = 1.0  # exponent on each channel: <1 livelier, >1 calmer
    mirror: bool = True
    head_gain: float = 1.0  # scales the head's turn: <1 steadier, >1 more animated


@dataclass(frozen=True)
class SceneBackground:
    color: tuple[float, float, float] = (0.12, 0.14, 0.18)
    image: Path | None = None
    blur: float = 0.0
    camera: str | None = None  # None, "blur" or "segmented" (see the module docstring)


SHOTS = ("head", "upper_body")


@dataclass(frozen=True)
class Framing:
    """Where the avatar sits in the frame; avatars with ``set_framing`` honour it. The shot is
    "head" (the head and a little of the shoulders) or "upper_body" (head to hips, so tracked
    arms are seen; avatars without a humanoid body keep the head shot)."""

    zoom: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)
    shot: str = "head"


@dataclass(frozen=True)
class Scene:
    name: str
    avatar: str
    path: Path | None = None
    hotkey: str | None = None
    voice: str | None = None
    badge: str = "AI avatar"
    # The scene promises the viewer sees nothing of the real person: no avatar kind that draws
    # from the camera picture, and (engine.app) no switch to the real voice.
    anonymous: bool = False
    upper_body: bool = False  # follow the performer's arms (engine.tracking.pose)
    background: SceneBackground = SceneBackground()
    style: Style = Style()
    framing: Framing = Framing()


# -- locating problems in the file -----------------------------------------------------------------

class SceneFile:
    """One scene file's text, and how to report a problem in it."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = key_lines(text)

    def error(self, keys: tuple[str, ...], message: str) -> SceneError:
        return SceneError(self.path, line_of(self.lines, keys), ".".join(keys) or None, message)


def _unknown_keys(source: SceneFile, table: dict, allowed: Sequence[str],
                  prefix: tuple[str, ...]) -> None:
    unknown = unknown_field(table, allowed)
    if unknown is not None:
        key, advice = unknown
        where = f"in [{'.'.join(prefix)}]" if prefix else "in a scene"
        raise source.error(prefix + (key,), f"unknown field {where}{advice}")


def _number(source: SceneFile, value: Any, keys: tuple[str, ...], low: float,
            high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise source.error(keys, f"must be a number, got {value!r}")
    if not low <= value <= high:
        raise source.error(keys, f"must be between {low:g} and {high:g}, got {value:g}")
    return float(value)


def _text(source: SceneFile, value: Any, keys: tuple[str, ...], max_length: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise source.error(keys, f"must be non-empty text, got {value!r}")
    if len(value) > max_length:
        raise source.error(keys, f"is longer than {max_length} characters")
    return value.strip()


def _table(source: SceneFile, value: Any, keys: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise source.error(keys, f"must be a table ([{'.'.join(keys)}]), got {value!r}")
    return value


def parse_color(source: SceneFile, value: Any, keys: tuple[str, ...]) -> tuple[float, float, float]:
    """``"#rrggbb"`` or ``[r, g, b]`` with components 0..1."""
    if isinstance(value, str):
        match = re.fullmatch(r"#([0-9a-fA-F]{6})", value.strip())
        if not match:
            raise source.error(keys, f"must be '#rrggbb' or [r, g, b], got {value!r}")
        digits = match.group(1)
        return tuple(int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))
    if isinstance(value, list) and len(value) == 3:
        return tuple(_number(source, v, keys, 0.0, 1.0) for v in value)
    raise source.error(keys, f"must be '#rrggbb' or [r, g, b] with values 0..1, got {value!r}")


# -- the fields -----------------------------------------------------------------------------------

TOP_FIELDS = ("name", "hotkey", "avatar", "background", "voice", "style", "framing", "badge",
              "anonymous", "upper_body")
BACKGROUND_FIELDS = ("color", "image", "blur", "camera")
STYLE_FIELDS = ("intensity", "channel_gains", "exaggeration", "mirror", "head_gain")
FRAMING_FIELDS = ("zoom", "offset", "shot")
BACKGROUND_SHORT_FORMS = ("camera-blur", "camera-segmented")


def _background(source: SceneFile, value: Any) -> SceneBackground:
    keys = ("background",)
    if isinstance(value, str):
        if value in BACKGROUND_SHORT_FORMS:
            return SceneBackground(camera=value.split("-", 1)[1])
        if value.startswith("#"):
            return SceneBackground(color=parse_color(source, value, keys))
        raise source.error(keys, f"unknown background {value!r}"
                           f"{nearest(value, BACKGROUND_SHORT_FORMS)} (use a table, "
                           f"'#rrggbb', or one of {', '.join(BACKGROUND_SHORT_FORMS)})")
    table = _table(source, value, keys)
    _unknown_keys(source, table, BACKGROUND_FIELDS, keys)
    color = parse_color(source, table["color"], keys + ("color",)) if "color" in table \
        else SceneBackground.color
    image = None
    if "image" in table:
        relative = _text(source, table["image"], keys + ("image",), 1000)
        image = (source.path.parent / relative).resolve()
        if not image.is_file():
            raise source.error(keys + ("image",), f"no image at {image}")
    blur = _number(source, table.get("blur", 0.0), keys + ("blur",), 0.0, 10.0)
    camera = table.get("camera")
    if camera is not None:
        if camera not in CAMERA_MODES:
            raise source.error(keys + ("camera",), f"unknown camera background {camera!r}"
                               f"{nearest(str(camera), CAMERA_MODES)} (use "
                               f"{' or '.join(CAMERA_MODES)})")
        if image is not None:
            raise source.error(keys + ("camera",), "choose either an image or the camera, "
                               "not both")
    return SceneBackground(color=color, image=image, blur=blur, camera=camera)


def _style(source: SceneFile, value: Any) -> Style:
    keys = ("style",)
    table = _table(source, value, keys)
    _unknown_keys(source, table, STYLE_FIELDS, keys)
    gains_table = _table(source, table.get("channel_gains", {}), keys + ("channel_gains",))
    gains = {}
    for name, gain in gains_table.items():
        where = keys + ("channel_gains", name)
        if name not in BLENDSHAPE_INDEX:
            raise source.error(where, f"{name!r} is not an ARKit blendshape name"
                               f"{nearest(name, BLENDSHAPE_NAMES)}")
        gains[name] = _number(source, gain, where, 0.0, 4.0)
    mirror = table.get("mirror", True)
    if not isinstance(mirror, bool):
        raise source.error(keys + ("mirror",), f"must be true or false, got {mirror!r}")
    return Style(
        intensity=_number(source, table.get("intensity", 1.0), keys + ("intensity",), 0.0, 3.0),
        channel_gains=gains,
        exaggeration=_number(source, table.get("exaggeration", 1.0), keys + ("exaggeration",),
                             0.2, 5.0),
        mirror=mirror,
        head_gain=_number(source, table.get("head_gain", 1.0), keys + ("head_gain",), 0.0, 2.0),
    )


def _framing(source: SceneFile, value: Any, upper_body: bool) -> Framing:
    """``upper_body``: the scene follows the arms, so its shot is the upper body unless it says."""
    keys = ("framing",)
    table = _table(source, value, keys)
    _unknown_keys(source, table, FRAMING_FIELDS, keys)
    offset = table.get("offset", [0.0, 0.0])
    if not isinstance(offset, list) or len(offset) != 2:
        raise source.error(keys + ("offset",), f"must be [x, y], got {offset!r}")
    shot = table.get("shot", "upper_body" if upper_body else "head")
    if shot not in SHOTS:
        raise source.error(keys + ("shot",), f"unknown shot {shot!r}{nearest(str(shot), SHOTS)} "
                           f"(use {' or '.join(SHOTS)})")
    return Framing(
        zoom=_number(source, table.get("zoom", 1.0), keys + ("zoom",), 0.5, 3.0),
        offset=tuple(_number(source, v, keys + ("offset",), -1.0, 1.0) for v in offset),
        shot=shot,
    )


def parse_scene(path: Path, text: str) -> Scene:
    """Check and convert one scene file's text; raises ``SceneError`` for the problem on the
    earliest line (every field is checked, so the report follows the file top to bottom)."""
    try:
        data = strict_toml.loads(text, path)
    except TomlError as error:
        raise SceneError(path, error.line, None, f"not valid TOML: {error.reason}") from None
    source = SceneFile(path, text)
    problems: list[SceneError] = []

    def checked(check, *args):
        """Run one field's check; collect its problem so the earliest line is reported."""
        try:
            return check(*args)
        except SceneError as error:
            # Kept without its traceback: a stored traceback would hold the caller's frames
            # (up to the loop's, with its camera frame) in a cycle until a full GC.
            problems.append(error.with_traceback(None))
            return None

    checked(_unknown_keys, source, data, TOP_FIELDS, ())
    if "avatar" not in data:
        problems.append(SceneError(path, 1, "avatar", "missing: name an avatar folder in "
                                   "avatars/ or a path to a model"))
    hotkey = checked(_hotkey, source, data.get("hotkey"))
    voice = data.get("voice")
    fields = dict(
        name=checked(_text, source, data.get("name", path.stem), ("name",), 60),
        avatar=checked(_text, source, data.get("avatar", "-"), ("avatar",), 1000),
        voice=None if voice is None else checked(_text, source, voice, ("voice",)),
        badge=checked(_text, source, data.get("badge", "AI avatar"), ("badge",), 60),
        anonymous=checked(_flag, source, data.get("anonymous", False), ("anonymous",)),
        upper_body=checked(_flag, source, data.get("upper_body", False), ("upper_body",)),
        background=checked(_background, source, data.get("background", {})),
        style=checked(_style, source, data.get("style", {})),
    )
    fields["framing"] = checked(_framing, source, data.get("framing", {}),
                                bool(fields["upper_body"]))
    if problems:
        first = min(problems, key=lambda error: error.line or 0)
        problems.clear()
        try:
            raise first
        finally:
            del first  # no frame → exception → traceback → frame cycle
    return Scene(path=path, hotkey=hotkey, **fields)


def _flag(source: SceneFile, value: Any, keys: tuple[str, ...]) -> bool:
    if not isinstance(value, bool):
        raise source.error(keys, f"must be true or false, got {value!r}")
    return value


def _hotkey(source: SceneFile, hotkey: Any) -> str | None:
    if hotkey is None:
        return None
    if isinstance(hotkey, int) and not isinstance(hotkey, bool):
        hotkey = str(hotkey)
    if hotkey not in HOTKEYS:
        raise source.error(("hotkey",), f"must be one of the keys 1–9 (as text, \"1\"), "
                           f"got {hotkey!r}")
    return hotkey


def load_scene(path: Path | str) -> Scene:
    """Read and check one scene file; errors name the file, line and field."""
    path = Path(path)
    try:
        text = strict_toml.read_text(path, MAX_SCENE_BYTES)
    except TomlError as error:
        raise SceneError(path, error.line, None, f"cannot read scene: {error.reason}") from None
    return parse_scene(path, text)


# -- references to avatars and voices ---------------------------------------------------------------

def avatar_names(search: SearchPath | None = None) -> list[str]:
    """Avatar folders on the search path (those with an ``avatar.toml``)."""
    search = search or SearchPath()
    return [path.parent.name for path in search.list("avatars", "*/avatar.toml")]


def voice_names(search: SearchPath | None = None) -> list[str]:
    search = search or SearchPath()
    return [path.stem for path in search.list("scenes", "voices/*.toml")]


def resolve_avatar(scene: Scene, search: SearchPath | None = None) -> Path:
    """The folder or model file a scene's ``avatar`` names; errors suggest the nearest name."""
    search = search or SearchPath()
    name = scene.avatar
    looks_like_path = "/" in name or "\\" in name or name.lower().endswith(MODEL_SUFFIXES)
    if looks_like_path:
        path = Path(name).expanduser()
        if not path.is_absolute() and scene.path is not None:
            path = scene.path.parent / path
        if path.is_dir() or (path.is_file() and path.suffix.lower() in MODEL_SUFFIXES):
            return path
        what = "folder or .glb/.gltf/.vrm model"
        raise reference_error(scene, ("avatar",), f"no avatar {what} at {path}")
    for root in search.roots:
        candidate = root / "avatars" / name
        if (candidate / "avatar.toml").is_file():
            return candidate
    known = avatar_names(search)
    raise reference_error(scene, ("avatar",), f"no avatar {name!r} in avatars/"
                           f"{nearest(name, known)} (known: {', '.join(known) or 'none'})")


def check_voice(scene: Scene, search: SearchPath | None = None) -> None:
    if scene.voice is None:
        return
    known = voice_names(search)
    if scene.voice not in known:
        raise reference_error(scene, ("voice",), f"no voice preset {scene.voice!r} in "
                               f"scenes/voices/{nearest(scene.voice, known)} "
                               f"(known: {', '.join(known) or 'none'})")


def check_references(scene: Scene, search: SearchPath | None = None) -> None:
    """Raise ``SceneError`` unless the scene's avatar and voice preset exist."""
    resolve_avatar(scene, search)
    check_voice(scene, search)


def reference_error(scene: Scene, keys: tuple[str, ...], message: str) -> SceneError:
    if scene.path is None:
        return SceneError(f"scene {scene.name!r}", None, ".".join(keys), message)
    try:  # the file may have changed since it was loaded: read it as warily as the first time
        source = SceneFile(scene.path, strict_toml.read_text(scene.path, MAX_SCENE_BYTES))
        return source.error(keys, message)
    except TomlError:
        return SceneError(scene.path, None, ".".join(keys), message)


# -- scene lists ------------------------------------------------------------------------------------

def scene_files(source: str | Path | SearchPath | None = None) -> list[Path]:
    """Scene files in a folder, or on the search path (user folders shadow shipped files)."""
    if isinstance(source, (str, Path)):
        folder = Path(source)
        if not folder.is_dir():
            raise ConfigError(f"{folder}: not a folder of scene files")
        extra = sorted(folder.glob("*.toml"))
        shipped = SearchPath().list("scenes", "*.toml")
        names = {path.name for path in extra}
        return extra + [path for path in shipped if path.name not in names]
    search = source if isinstance(source, SearchPath) else SearchPath()
    return search.list("scenes", "*.toml")


def _order(scene: Scene) -> tuple:
    # 1..9, then scenes without a hotkey by name.
    if scene.hotkey is None:
        return (1, 0, scene.name.lower())
    return (0, int(scene.hotkey), scene.name.lower())


def load_scenes(source: str | Path | SearchPath | None = None,
                problems: list[SceneError] | None = None) -> list[Scene]:
    """Every valid scene, sorted by hotkey. ``source`` is an extra folder (its files shadow the
    shipped ones of the same name), a ``SearchPath``, or None for the default search path.

    A broken file is logged and left out (and appended to ``problems`` when given) so one bad
    file never keeps a session from starting; a second scene claiming a hotkey loses it."""
    scenes = []
    for path in scene_files(source):
        try:
            scenes.append(load_scene(path))
        except SceneError as error:
            log.error("scene left out: %s", error)
            if problems is not None:
                problems.append(error)
    scenes.sort(key=_order)
    taken: dict[str, Scene] = {}
    for number, scene in enumerate(scenes):
        if scene.hotkey is None:
            continue
        if scene.hotkey in taken:
            log.warning("%s: hotkey %s is already used by %r; this scene has none", scene.path,
                        scene.hotkey, taken[scene.hotkey].name)
            scenes[number] = dataclasses.replace(scene, hotkey=None)
        else:
            taken[scene.hotkey] = scene
    scenes.sort(key=_order)
    return scenes


def find_scene(name: str, search: SearchPath | None = None) -> Path:
    """A scene by name (``scenes/NAME.toml``) or by path."""
    search = search or SearchPath()
    candidate = Path(name)
    if candidate.suffix == ".toml" and candidate.exists():
        return candidate
    return search.find("scenes", f"{name}.toml")


# -- style ------------------------------------------------------------------------------------------

# Left and right channel pairs, swapped when a scene mirrors the performer (a mirror image is what
# people expect to see of themselves: raising the right brow raises the avatar's brow on the
# right of the screen).
_MIRROR_PAIRS = [(i, BLENDSHAPE_INDEX[name.replace("Left", "Right")])
                 for name, i in BLENDSHAPE_INDEX.items() if name.endswith("Left")]
_MIRROR_PERMUTATION = np.arange(len(BLENDSHAPE_NAMES))
for _left, _right in _MIRROR_PAIRS:
    _MIRROR_PERMUTATION[_left], _MIRROR_PERMUTATION[_right] = _right, _left
_MIRROR_HEAD = np.diag([-1.0, 1.0, 1.0, 1.0]).astype(np.float32)
# Arm quaternions (x, y, z, w) reflected across the body's x = 0 plane; the sides swap too.
_MIRROR_ARMS = np.array([1.0, -1.0, -1.0, 1.0], np.float32)


def stylize(expression: Expression, style: Style) -> Expression:
    """Apply a scene's intensity, per-channel gains, exaggeration curve and mirroring."""
    weights = expression.blendshapes
    if style.exaggeration != 1.0:
        weights = np.power(weights, style.exaggeration)
    weights = weights * style.intensity
    if style.channel_gains:
        weights = weights * _gain_vector(tuple(sorted(style.channel_gains.items())))
    head, gaze, arms = expression.head, expression.gaze, expression.arms
    if style.head_gain != 1.0:
        turned = scale_rotation(quat_from_matrix(head[:3, :3]), style.head_gain)
        head = np.eye(4, dtype=np.float32)
        head[:3, :3] = matrix_from_quat(turned)
    if style.mirror:
        weights = weights[_MIRROR_PERMUTATION]
        head = _MIRROR_HEAD @ head @ _MIRROR_HEAD
        gaze = gaze * np.array([-1.0, 1.0], np.float32)
        if arms is not None:
            arms = arms[::-1] * _MIRROR_ARMS
    return Expression(np.clip(weights, 0.0, 1.0).astype(np.float32), head, gaze, arms)


@lru_cache(maxsize=64)
def _gain_vector(gains: tuple[tuple[str, float], ...]) -> np.ndarray:
    """Per-channel gains as a (52,) vector, 1 where a scene names no gain (cached per style)."""
    vector = np.ones(len(BLENDSHAPE_NAMES), np.float32)
    for name, gain in gains:
        vector[BLENDSHAPE_INDEX[name]] = gain
    return vector
