"""``persona avatar build-photo`` / ``build-faceswap``: one photo becomes an avatar folder.

The face is found and measured (``fit.fit_face``: refused with one line if there is none, several,
a tiny one or a turned head), the photo is cropped round it and scaled (the face about 40 % of a
side of at most 1024 pixels), and what a still photo lacks is synthesised in its own tones: the
mouth interior (upper teeth, dark cavity, tongue, lower teeth; ``mouth.png``). Eyelids for blinks
are the photo's own lid skin, moved down over the eye when it loads (``geometry``).

The folder::

    avatar.toml     kind = "photo", photo, mouth, mesh, and [consent]
    photo.png       the cropped source
    mouth.png       the synthesised mouth interior (rows: upper lip → lower lip)
    mesh.npz        landmarks (478, 3) float32 in photo.png pixels; yaw, pitch, roll (degrees)

``[consent]`` records where the likeness came from (``source``: the photo's file name and
SHA-256) and the statement given (``note``, ``consented_by``); a real person's avatar loads live
only once the manifest is signed (``persona avatar sign``, or ``key`` here), and the signature
covers photo.png, mouth.png and mesh.npz. A generated face is marked ``likeness = "synthetic"``.

``kind = "faceswap"`` (``build-faceswap``) writes the same folder for the face swap
(``engine/avatar/faceswap``): no mouth.png (the performer's own mouth shows through), and a
real person's ``[consent]`` must say ``camera = true``, since the swap animates the face with the
live camera picture.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from engine.avatar.photo import topology
from engine.avatar.photo.fit import FittedFace, fit_face
from engine.errors import ConfigError
from engine.safe_write import replace_on_success
from engine.safety.likeness import Consent, consent_lines, toml_string

MAX_SIDE = 1024
FACE_SHARE = 0.4  # the face's larger side as a share of the cropped photo's side
MAX_UPSCALE = 2.0
MOUTH_SIZE = 128
OPEN_MOUTH_AREA = 0.03  # opening area / mouth width²: above, the photo shows its teeth


def crop_and_scale(image: np.ndarray, face: FittedFace) -> tuple[np.ndarray, np.ndarray]:
    """The photo cropped round the face and scaled, and the landmarks in its pixels."""
    from PIL import Image

    height, width = image.shape[:2]
    x, y, w, h = face.box
    side = max(w, h) / FACE_SHARE
    crop_w, crop_h = min(width, side), min(height, side)
    left = float(np.clip(x + w / 2 - crop_w / 2, 0, width - crop_w))
    top = float(np.clip(y + h / 2 - 0.55 * crop_h, 0, height - crop_h))  # a little more hair
    scale = min(MAX_SIDE / max(crop_w, crop_h), MAX_UPSCALE)
    size = (max(1, round(crop_w * scale)), max(1, round(crop_h * scale)))
    box = (round(left), round(top), round(left + crop_w), round(top + crop_h))
    picture = Image.fromarray(image).resize(size, Image.LANCZOS, box=box)
    sx, sy = size[0] / (box[2] - box[0]), size[1] / (box[3] - box[1])
    landmarks = (face.landmarks - (box[0], box[1], 0.0)) * (sx, sy, sx)
    return np.asarray(picture), landmarks.astype(np.float32)


def _median_colour(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    xy = np.clip(np.round(points[:, :2]).astype(int), 0, (w - 1, h - 1))
    return np.median(image[xy[:, 1], xy[:, 0]].astype(np.float64), axis=0)


def mouth_picture(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(128, 128, 3) uint8 mouth interior in the photo's tones: upper teeth at the top row
    (the upper lip), a dark cavity, the tongue, lower teeth at the bottom (the lower lip)."""
    import cv2
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_LIPS

    lips = np.array(sorted({v for edge in FACEMESH_LIPS for v in edge}
                           - set(topology.inner_lip_loop())))
    lip = _median_colour(image, landmarks[lips])
    skin = _median_colour(image, landmarks[:468])
    # A photo whose mouth is open keeps its own teeth (the warp moves them with the lips), so
    # the interior between them has none; a closed mouth gets teeth in the photo's tones.
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(landmarks[topology.inner_lip_loop(), :2]).astype(np.int32)], 1)
    inside = image[mask > 0].astype(np.float64)
    *_, right, left = topology.lip_margins()
    width = float(np.linalg.norm(landmarks[left, :2] - landmarks[right, :2]))
    luma = lambda rgb: rgb @ (0.299, 0.587, 0.114)
    own_teeth = len(inside) > OPEN_MOUTH_AREA * width * width
    teeth = np.array([232.0, 224.0, 206.0]) * np.sqrt(np.clip(luma(skin) / 170.0, 0.4, 1.2))
    teeth = 0.85 * teeth + 0.15 * skin  # never whiter than the face around them
    u, v = np.meshgrid((np.arange(MOUTH_SIZE) + 0.5) / MOUTH_SIZE,
                       (np.arange(MOUTH_SIZE) + 0.5) / MOUTH_SIZE)
    gaps = (1.0 - 0.3 * np.exp(-((u * 9 - np.round(u * 9)) ** 2) / 0.004))[..., None]
    tongue_top = 0.70 + 0.08 * (2 * u - 1) ** 2
    rgb = (lip * 0.16) * (0.7 + 0.3 * np.abs(2 * v - 1))[..., None]  # the cavity
    tongue = (v >= tongue_top) & (v < 0.88)
    rising = np.clip((v - tongue_top) / 0.18, 0.0, 1.0)[..., None]
    rgb = np.where(tongue[..., None], (0.55 * lip + 0.1 * skin) * (0.8 + 0.2 * rising), rgb)
    if not own_teeth:
        rgb = np.where((v < 0.2)[..., None], teeth * gaps, rgb)
        rgb = np.where((v >= 0.88)[..., None], 0.72 * teeth * gaps, rgb)  # lower, in shadow
    lip_shadow = np.exp(-(v / 0.05) ** 2) + np.exp(-((v - 1.0) / 0.05) ** 2)
    rgb *= (1.0 - 0.5 * lip_shadow)[..., None]
    rgb *= (0.3 + 0.7 * np.sin(np.pi * u) ** 0.6)[..., None]  # darker towards the corners
    return np.clip(rgb, 0, 255).astype(np.uint8)


KINDS = ("photo", "faceswap")


def _toml_text(kind: str, name: str, consent: Consent, source: str) -> str:
    mouth = ['mouth = "mouth.png"'] if kind == "photo" else []
    lines = [f"kind = {toml_string(kind)}", f"name = {toml_string(name)}", 'photo = "photo.png"',
             *mouth, 'mesh = "mesh.npz"', "", *consent_lines(consent, name, source)]
    return "\n".join(lines) + "\n"


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


def build_photo_avatar(image: np.ndarray, origin: str, name: str, out: Path,
                       consent: Consent, source_bytes: bytes | None = None,
                       kind: str = "photo") -> Path:
    """Build the avatar folder ``out`` of ``kind`` (``KINDS``) from ``image`` ((H, W, 3) uint8
    RGB; ``origin`` names it in errors and in ``[consent] source``). ``out`` must not exist yet
    or be empty."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    consent.check_uses()
    if kind == "faceswap" and not consent.synthetic and consent.camera is not True:
        raise ConfigError("build-faceswap: a face swap animates this face with the live camera "
                          "picture; pass --camera once the person has agreed to that")
    face = fit_face(image, origin)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out}: already exists and is not an empty folder; choose another "
                          "--out")
    photo, landmarks = crop_and_scale(image, face)
    digest = hashlib.sha256(source_bytes if source_bytes is not None else image.tobytes())
    source = f"{Path(origin).name} (sha256 {digest.hexdigest()})"
    mesh = io.BytesIO()
    np.savez(mesh, landmarks=landmarks,
             pose_deg=np.array([face.yaw_deg, face.pitch_deg, face.roll_deg], np.float32))
    out.mkdir(parents=True, exist_ok=True)
    files = {"photo.png": _png(photo), "mesh.npz": mesh.getvalue(),
             "avatar.toml": _toml_text(kind, name, consent, source).encode("utf-8")}
    if kind == "photo":
        files["mouth.png"] = _png(mouth_picture(photo, landmarks))
    for file_name, data in files.items():
        with replace_on_success(out / file_name) as staged:
            staged.file.write(data)
    return out


def build_signed_photo_avatar(image: np.ndarray, origin: str, name: str, out: Path,
                              consent: Consent, key: Path, kind: str = "photo") -> Path:
    """``build_photo_avatar`` signed with the private key at ``key``, which is made first when
    there is none: the throwaway key of the project's own measuring and tooling (a real
    person's likeness loads live only with a signed manifest). ``consent`` without its public
    key; the key's is filled in."""
    from dataclasses import replace

    from engine.safety import keys
    from engine.safety.consent import sign_avatar

    public = (keys.public_text(keys.load_private(key).public_key()) if key.exists()
              else keys.generate(key))
    folder = build_photo_avatar(image, origin, name, out, replace(consent, public_key=public),
                                kind=kind)
    sign_avatar(folder, key)
    return folder
