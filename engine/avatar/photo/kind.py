"""The ``photo`` avatar kind: a photo of a face, warped live by its fitted face mesh.

``avatar.toml`` (written by ``persona avatar build-photo``; see ``build``)::

    kind = "photo"
    photo = "photo.png"           # the picture
    mouth = "mouth.png"           # the synthesised mouth interior
    mesh = "mesh.npz"             # landmarks (478, 3) float32 in photo.png pixels

The likeness is all three files: the signature covers the photo and everything derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.avatar.kinds import AvatarKind
from engine.errors import AssetError
from engine.types import NUM_LANDMARKS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_PHOTO_SIDE = 4096
MAX_MESH_BYTES = 1 << 20


@dataclass(frozen=True)
class PhotoSettings:
    photo: Path
    mouth: Path
    mesh: Path


def configure(folder: Path, data: dict, where: str) -> PhotoSettings:
    from engine.avatar.manifest import avatar_file

    return PhotoSettings(avatar_file(folder, data, "photo", where, IMAGE_SUFFIXES),
                         avatar_file(folder, data, "mouth", where, IMAGE_SUFFIXES),
                         avatar_file(folder, data, "mesh", where, (".npz",)))


def likeness_files(settings: PhotoSettings) -> list[Path]:
    return [settings.photo, settings.mouth, settings.mesh]


@dataclass(frozen=True)
class PhotoFiles:
    """The avatar's files decoded (on the loading worker)."""

    photo: np.ndarray  # (H, W, 3) uint8
    mouth: np.ndarray  # (h, w, 3) uint8
    landmarks: np.ndarray  # (478, 3) float32, photo pixels


def read_landmarks(path: Path) -> np.ndarray:
    """The (478, 3) float32 landmarks of ``mesh.npz``: bounded, no pickles, finite."""
    import io

    from engine.safety.regular_file import read_bytes

    data = read_bytes(path, MAX_MESH_BYTES, lambda why: AssetError(f"{path}: {why}"))
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            landmarks = np.asarray(archive["landmarks"])
    except (OSError, KeyError, ValueError) as error:
        raise AssetError(f"{path}: not a photo avatar mesh ({error})") from None
    if landmarks.shape != (NUM_LANDMARKS, 3) or not np.isfinite(landmarks).all():
        raise AssetError(f"{path}: landmarks must be (478, 3) finite numbers, got "
                         f"{landmarks.shape}")
    return landmarks.astype(np.float32)


def read_files(settings: PhotoSettings) -> PhotoFiles:
    from engine.images import read_image

    photo = np.ascontiguousarray(np.asarray(read_image(settings.photo, max_side=MAX_PHOTO_SIDE)))
    mouth = np.ascontiguousarray(np.asarray(read_image(settings.mouth, max_side=1024)))
    landmarks = read_landmarks(settings.mesh)
    height, width = photo.shape[:2]
    inside = (landmarks[:, 0] >= 0) & (landmarks[:, 0] <= width) \
        & (landmarks[:, 1] >= 0) & (landmarks[:, 1] <= height)
    if not inside.all():
        raise AssetError(f"{settings.mesh}: landmarks lie outside {settings.photo.name} "
                         f"({width}x{height})")
    return PhotoFiles(photo, mouth, landmarks)


def open_photo(files: PhotoFiles, gl, shaders):
    from engine.avatar.photo.avatar import PhotoAvatar
    from engine.avatar.photo.basis import load_basis
    from engine.avatar.photo.geometry import PhotoRig

    height, width = files.photo.shape[:2]
    rig = PhotoRig(files.landmarks, (width, height), load_basis())
    return PhotoAvatar(gl.ctx, shaders, rig, files.photo, files.mouth)


def describe(settings: PhotoSettings) -> list[str]:
    files = read_files(settings)
    height, width = files.photo.shape[:2]
    return [f"photo: {settings.photo.name} {width}x{height}",
            f"mesh: {settings.mesh.name}, {NUM_LANDMARKS} landmarks"]


KIND = AvatarKind(
    name="photo",
    fields=("photo", "mouth", "mesh"),
    configure=configure,
    likeness_files=likeness_files,
    open=open_photo,
    describe=describe,
    prepare=read_files,
)
