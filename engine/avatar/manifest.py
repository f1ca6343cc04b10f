"""``avatar.toml``: one reader for every avatar kind.

An avatar is a folder ``avatars/<name>/`` holding ``avatar.toml`` and its files::

    kind = "gltf"                 # which kind builds it (engine.avatar.kinds); default "gltf"
    name = "Juniper"              # shown on the HUD; default the folder's name
    description = "..."
    model = "juniper.glb"         # ... then the kind's own fields

    [consent]                     # the likeness manifest (engine.safety.consent)
    likeness = "synthetic"

The common fields are checked here, the kind's own fields by the kind; either way an unknown
field is refused with the nearest known name and its line. A bare model file (``face.glb``) reads
as a manifest of the kind that accepts its suffix, with an empty consent table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.avatar.kinds import DEFAULT_KIND, AvatarKind, avatar_kind, kind_for_file
from engine.errors import ConfigError
from engine.safety import strict_toml

MANIFEST = "avatar.toml"
COMMON_FIELDS = ("kind", "name", "description", "consent")


@dataclass(frozen=True)
class AvatarManifest:
    """A checked avatar: its kind, the kind's settings and the consent table."""

    source: Path  # the avatar folder, or the bare model file
    kind: AvatarKind
    settings: Any  # what kind.configure returned
    name: str
    consent: dict = field(default_factory=dict)
    toml: dict = field(default_factory=dict)  # avatar.toml as read (empty for a bare file)

    @property
    def is_folder(self) -> bool:
        return self.source.is_dir()

    def likeness_files(self) -> list[Path]:
        return self.kind.likeness_files(self.settings)


def read_manifest(folder: Path) -> AvatarManifest:
    """The checked ``folder/avatar.toml``; raises ConfigError naming the file, line and field."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{folder}: no {MANIFEST}; an avatar folder needs one naming its kind "
                          "and files")
    text = strict_toml.read_text(path)
    return manifest_from_toml(folder, strict_toml.loads(text, path), text)


def manifest_from_toml(folder: Path, data: dict, text: str = "") -> AvatarManifest:
    """The manifest ``data`` (avatar.toml already parsed; ``text`` gives errors their line)
    describes for ``folder``."""
    where = folder / MANIFEST
    kind = avatar_kind(data.get("kind", DEFAULT_KIND), str(where))
    strict_toml.check_fields(data, (*COMMON_FIELDS, *kind.fields), where, text)
    for name in ("name", "description"):
        if name in data and not isinstance(data[name], str):
            raise ConfigError(f"{where}: {name}: expected text, got {data[name]!r}")
    consent = data.get("consent", {})
    if not isinstance(consent, dict):
        raise ConfigError(f"{where}: [consent] must be a table")
    settings = kind.configure(folder, data, str(where))
    return AvatarManifest(folder, kind, settings, data.get("name", folder.name), consent, data)


def manifest_for_file(path: Path) -> AvatarManifest:
    """A bare model file read as an avatar without a folder (artists' tools only)."""
    kind = kind_for_file(path)
    if kind is None:
        raise ConfigError(f"{path}: not an avatar folder or a model file any avatar kind opens")
    return AvatarManifest(path, kind, kind.bare_file(path), path.stem)


def avatar_file(folder: Path, data: dict, name: str, where: str,
                suffixes: tuple[str, ...] | None = None) -> Path:
    """The file the field ``name`` names, checked: a regular file inside the avatar folder with
    one of ``suffixes``. Every kind resolves its file fields through this."""
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {name}: expected a file name"
                          + (f" ({', '.join(suffixes)})" if suffixes else "") + f", got {value!r}")
    if suffixes and Path(value).suffix.lower() not in suffixes:
        raise ConfigError(f"{where}: {name}: expected a {', '.join(suffixes)} file, got {value!r}")
    path = (folder / value).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ConfigError(f"{where}: {name}: {value!r} points outside the avatar folder")
    if not path.is_file():
        raise ConfigError(f"{where}: {name}: {path} does not exist or is not a regular file")
    return path
