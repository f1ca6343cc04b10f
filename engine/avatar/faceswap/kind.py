"""The ``faceswap`` avatar kind: a photo avatar's face on the performer's live face.

``avatar.toml`` uses the photo avatar's folder layout (``persona avatar build-photo`` writes
``photo.png`` and ``mesh.npz``), with the kind changed::

    kind = "faceswap"
    photo = "photo.png"           # the persona's photo (.png / .jpg)
    mesh = "mesh.npz"             # its fitted face: landmarks (478, 3) float32, photo pixels

    [consent]                     # the likeness must be consented for the camera:
    camera = true                 # engine.safety.consent; synthetic likenesses may anyway

It needs the live landmarks and the camera picture, so a scene with ``anonymous = true`` refuses
it (``engine.scene_loader``), and without camera consent nothing is drawn. The real room and hair
stay visible: this kind is for role-play, not for anonymity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.avatar.kinds import AvatarKind
from engine.errors import AssetError
from engine.types import NUM_LANDMARKS

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_MESH_BYTES = 1024 * 1024  # 478 x 3 float32 is 6 kB; anything far larger is not a mesh
MAX_PHOTO_SIDE = 4096


@dataclass(frozen=True)
class FaceSwapSettings:
    photo: Path
    mesh: Path


def configure(folder: Path, data: dict, where: str) -> FaceSwapSettings:
    from engine.avatar.manifest import avatar_file

    return FaceSwapSettings(avatar_file(folder, data, "photo", where, PHOTO_SUFFIXES),
                            avatar_file(folder, data, "mesh", where, (".npz",)))


def read_landmarks(path: Path, photo_size: tuple[int, int]) -> np.ndarray:
    """``landmarks`` of a mesh file, checked: (478, 3) finite, x and y inside the photo."""
    if path.stat().st_size > MAX_MESH_BYTES:
        raise AssetError(f"{path}: {path.stat().st_size} bytes is too large for a face mesh")
    try:
        with np.load(path, allow_pickle=False) as data:
            landmarks = np.asarray(data["landmarks"], np.float32)
    except (OSError, KeyError, ValueError) as error:
        raise AssetError(f"{path}: not a face mesh with 'landmarks' ({error})") from None
    if landmarks.shape != (NUM_LANDMARKS, 3) or not np.isfinite(landmarks).all():
        raise AssetError(f"{path}: landmarks must be ({NUM_LANDMARKS}, 3) finite numbers, got "
                         f"shape {landmarks.shape}")
    width, height = photo_size
    inside = ((landmarks[:, 0] >= 0) & (landmarks[:, 0] <= width)
              & (landmarks[:, 1] >= 0) & (landmarks[:, 1] <= height))
    if not inside.all():
        raise AssetError(f"{path}: landmarks lie outside the {width}x{height} photo; was it "
                         "fitted to this photo?")
    return landmarks


def read_persona(settings: FaceSwapSettings):
    """The photo and its landmarks, prepared for the swap (on the loading worker)."""
    from engine.avatar.faceswap.persona import make_persona
    from engine.images import read_image

    photo = np.asarray(read_image(settings.photo, "RGB", max_side=MAX_PHOTO_SIDE))
    landmarks = read_landmarks(settings.mesh, (photo.shape[1], photo.shape[0]))
    return make_persona(photo, landmarks, str(settings.photo))


def open_faceswap(persona, gl, shaders):
    from engine.avatar.faceswap.render import FaceSwapAvatar

    return FaceSwapAvatar(gl.ctx, shaders, persona)


def describe(settings: FaceSwapSettings) -> list[str]:
    persona = read_persona(settings)
    box = np.ptp(persona.landmarks[:, :2], axis=0)
    return [f"photo: {settings.photo}", f"mesh: {settings.mesh}",
            f"face as drawn from: {box[0]:.0f}x{box[1]:.0f} px of the photo",
            "needs: live landmarks and the camera picture ([consent] camera = true)"]


KIND = AvatarKind(
    name="faceswap",
    fields=("photo", "mesh"),
    configure=configure,
    likeness_files=lambda settings: [settings.photo, settings.mesh],
    open=open_faceswap,
    needs_landmarks=True,
    needs_camera=True,
    describe=describe,
    prepare=read_persona,
)
