"""Finding an avatar by name or path and turning it into something that renders.

An avatar is a folder ``avatars/<name>/`` holding ``avatar.toml`` (``engine.avatar.manifest``)
and the files its kind needs (``engine.avatar.kinds``). ``load_avatar`` is what a session calls:
it checks the ``[consent]`` table for the intended use first (``engine.safety.consent``) — the
signature covers every file the kind says carries the likeness — so a bare model file, which has
no manifest, is refused there. ``open_avatar`` loads without that check, for the artist's own
tools (inspect, preview, bench, tests) whose pictures stay on the machine; a bare model file
opens as the kind that accepts its suffix, with an empty consent table.
"""

from __future__ import annotations

from pathlib import Path

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


def load_avatar(name_or_path: str | Path, gl: GLContext, shaders: ShaderLibrary,
                use: str = "privacy", audit=None) -> LoadedAvatar:
    """The avatar ``name_or_path`` on the GPU, after its consent manifest allowed ``use``
    (therapy, privacy, demo); raises ConsentError when it does not."""
    from engine.safety.consent import check_avatar_consent

    found = find_avatar(name_or_path, shaders.search)
    if not found.is_dir():
        raise ConsentError(f"{found}: a bare model file carries no consent manifest; put it in an "
                           f"avatar folder with an {MANIFEST} whose [consent] table covers {use!r}")
    manifest = read_manifest(found)
    consent = check_avatar_consent(found, manifest.toml, use, audit=audit)
    loaded = _open(manifest, gl, shaders)
    loaded.use = use
    loaded.camera_consented = consent.synthetic or consent.camera
    return loaded


def open_avatar(name_or_path: str | Path, gl: GLContext, shaders: ShaderLibrary) -> LoadedAvatar:
    """The avatar or model file ``name_or_path`` on the GPU, without a consent check."""
    return _open(read_avatar(name_or_path, shaders.search), gl, shaders)


def _open(manifest: AvatarManifest, gl: GLContext, shaders: ShaderLibrary) -> LoadedAvatar:
    kind = manifest.kind
    avatar = kind.open(manifest.settings, gl, shaders)
    return LoadedAvatar(avatar, manifest.name, needs_landmarks=kind.needs_landmarks,
                        needs_camera=kind.needs_camera, manifest=manifest)
