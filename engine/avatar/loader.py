"""Finding an avatar by name or path and turning it into something that renders.

An avatar is a folder ``avatars/<name>/`` holding ``avatar.toml`` (``engine.avatar.manifest``)
and the files its kind needs (``engine.avatar.kinds``). Loading has two halves so that a scene
switch never holds the loop: ``prepare_avatar`` reads, checks and decodes the files (any thread:
the session's loading worker), and ``PreparedAvatar.open`` makes the GL resources (the loop's
thread). ``load_avatar`` does both.

Sessions check the ``[consent]`` table for the intended use first (``engine.safety.consent``) —
the signature covers every file the kind says carries the likeness — so a bare model file,
which has no manifest, is refused there. ``open_avatar`` loads without that check, for the
artist's own tools (inspect, preview, bench, tests) whose pictures stay on the machine; a bare
model file opens as the kind that accepts its suffix, with an empty consent table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.avatar.base import LoadedAvatar
from engine.avatar.manifest import MANIFEST, AvatarManifest, manifest_for_file, read_manifest
from engine.errors import ConsentError
from engine.gl.context import GLContext
from engine.gl.programs import ShaderLibrary
from engine.resources import SearchPath


def find_avatar(name_or_path: str | Path, search: SearchPath | None = None) -> Path:
    """The avatar folder or model file meant by a name (``default``, looked up in ``avatars/`` on
    the search path) or by a path to either (taken as given when it exists)."""
    return (search or SearchPath()).find("avatars", name_or_path)


def read_avatar(name_or_path: str | Path, search: SearchPath | None = None) -> AvatarManifest:
    """The checked manifest of an avatar folder, or of a bare model file."""
    found = find_avatar(name_or_path, search)
    return read_manifest(found) if found.is_dir() else manifest_for_file(found)


@dataclass
class PreparedAvatar:
    """An avatar whose files are read, checked and decoded; ``open`` puts it on the GPU."""

    manifest: AvatarManifest
    files: Any  # what the kind's prepare returned (its settings when it has none)
    use: str | None = None  # the consent use it was checked for; None: not checked (tools)
    camera_consented: bool = False

    def open(self, gl: GLContext, shaders: ShaderLibrary) -> LoadedAvatar:
        """The avatar on the GPU; call on the thread that owns ``gl``."""
        kind = self.manifest.kind
        return LoadedAvatar(kind.open(self.files, gl, shaders), self.manifest.name,
                            needs_landmarks=kind.needs_landmarks, needs_camera=kind.needs_camera,
                            camera_consented=self.camera_consented, manifest=self.manifest,
                            use=self.use)


def prepare_avatar(name_or_path: str | Path, search: SearchPath | None = None,
                   use: str | None = "privacy", audit=None) -> PreparedAvatar:
    """The avatar ``name_or_path`` read and decoded, after its consent manifest allowed ``use``
    (therapy, privacy, demo; the check is audited); raises ConsentError when it does not.
    ``use=None`` skips the check (artists' tools)."""
    if use is None:
        return _prepare(read_avatar(name_or_path, search))
    from engine.safety.consent import check_avatar_consent

    found = find_avatar(name_or_path, search)
    if not found.is_dir():
        raise ConsentError(f"{found}: a bare model file carries no consent manifest; put it in an "
                           f"avatar folder with an {MANIFEST} whose [consent] table covers {use!r}")
    manifest = read_manifest(found)
    consent = check_avatar_consent(found, manifest.toml, use, audit=audit)
    return _prepare(manifest, use, consent.synthetic or consent.camera)


def load_avatar(name_or_path: str | Path, gl: GLContext, shaders: ShaderLibrary,
                use: str = "privacy", audit=None) -> LoadedAvatar:
    """The avatar ``name_or_path`` on the GPU, after its consent manifest allowed ``use``."""
    return prepare_avatar(name_or_path, shaders.search, use, audit).open(gl, shaders)


def open_avatar(name_or_path: str | Path, gl: GLContext, shaders: ShaderLibrary) -> LoadedAvatar:
    """The avatar or model file ``name_or_path`` on the GPU, without a consent check."""
    return prepare_avatar(name_or_path, shaders.search, use=None).open(gl, shaders)


def _prepare(manifest: AvatarManifest, use: str | None = None,
             camera_consented: bool = False) -> PreparedAvatar:
    prepare = manifest.kind.prepare
    files = prepare(manifest.settings) if prepare is not None else manifest.settings
    return PreparedAvatar(manifest, files, use, camera_consented)
