"""Finding shaders, avatars and scenes on a search path.

Describe → find → load: callers name a resource relative to its kind ("avatar.glsl",
"default/avatar.toml"); the search path says where to look, in order; a miss raises
``ResourceNotFound`` listing every place it looked. The shipped folders come last so that user
folders (``PERSONA_PATH``, colon-separated, then ``~/.local/share/persona``, where
``persona avatar import`` puts avatars) can override any shipped file.

The shipped folders live at the repo root. A wheel carries them as package data in
``engine/_data/`` (pyproject.toml maps them there); a checkout or editable install has no such
folder, because setuptools' editable finder cannot import data mapped inside ``engine``, so there
they are read beside the package.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

from engine.errors import ResourceNotFound

# pip installs packages unpacked, so the package is a real folder.
_PACKAGE = Path(str(importlib.resources.files("engine")))
# The checkout, for the tools, tests and benchmarks that work on one; in an installed wheel it
# is merely the folder holding the package.
PROJECT_ROOT = _PACKAGE.parent
SHIPPED_ROOT = _PACKAGE / "_data" if (_PACKAGE / "_data").is_dir() else PROJECT_ROOT
# The user's own avatars, scenes and voices, and the audit log: never inside an installation.
USER_ROOT = Path.home() / ".local" / "share" / "persona"
# Third-party samples for the benchmarks: beside a checkout (never in it, nor in the wheel), or
# wherever PERSONA_ASSETS says.
SHARED_ASSETS = Path(os.environ.get("PERSONA_ASSETS") or PROJECT_ROOT.parent / "shared" / "assets")
KINDS = ("shaders", "avatars", "scenes")


def user_cache(*parts: str) -> Path:
    """A folder in the user's cache (``$XDG_CACHE_HOME/persona/...``, default ``~/.cache``)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root.joinpath("persona", *parts)


class SearchPath:
    """An ordered list of root folders, each holding ``shaders/``, ``avatars/`` and ``scenes/``."""

    def __init__(self, roots: list[Path] | None = None) -> None:
        if roots is None:
            extra = [Path(p) for p in os.environ.get("PERSONA_PATH", "").split(os.pathsep) if p]
            roots = [*extra, USER_ROOT, SHIPPED_ROOT]
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
        """Every ``root/kind/pattern``, earlier roots shadowing later ones at the same place
        under ``kind`` (``*/avatar.toml`` lists every avatar folder, not one per file name)."""
        seen: dict[Path, Path] = {}
        for root in self.roots:
            folder = root / kind
            for path in sorted(folder.glob(pattern)):
                seen.setdefault(path.relative_to(folder), path)
        return list(seen.values())
