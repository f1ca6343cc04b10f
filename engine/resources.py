"""Finding shaders, avatars and scenes on a search path.

Describe → find → load: callers name a resource relative to its kind ("avatar.glsl",
"default/avatar.toml"); the search path says where to look, in order; a miss raises
``ResourceNotFound`` listing every place it looked. The project's own folders come last so that a
user folder (``PERSONA_PATH``, colon-separated) can override any shipped file.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import ResourceNotFound

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KINDS = ("shaders", "avatars", "scenes")


class SearchPath:
    """An ordered list of root folders, each holding ``shaders/``, ``avatars/`` and ``scenes/``."""

    def __init__(self, roots: list[Path] | None = None) -> None:
        if roots is None:
            extra = [Path(p) for p in os.environ.get("PERSONA_PATH", "").split(os.pathsep) if p]
            roots = [*extra, PROJECT_ROOT]
        self.roots = [Path(r) for r in roots]

    def find(self, kind: str, name: str | os.PathLike) -> Path:
        """The first existing ``root/kind/name``; absolute or existing paths are taken as given."""
        if kind not in KINDS:
            raise ValueError(f"unknown resource kind {kind!r}; expected one of {KINDS}")
        direct = Path(name)
        if direct.is_absolute() or direct.exists():
            if direct.exists():
                return direct
            raise ResourceNotFound(f"{kind[:-1]} {str(name)!r} not found: {direct} does not exist")
        tried = [root / kind / direct for root in self.roots]
        for candidate in tried:
            if candidate.exists():
                return candidate
        places = ", ".join(str(p) for p in tried)
        raise ResourceNotFound(f"{kind[:-1]} {str(name)!r} not found; looked in: {places}")

    def list(self, kind: str, pattern: str = "*") -> list[Path]:
        """Every ``root/kind/pattern``, earlier roots shadowing later ones of the same name."""
        seen: dict[str, Path] = {}
        for root in self.roots:
            for path in sorted((root / kind).glob(pattern)):
                seen.setdefault(path.name, path)
        return list(seen.values())
