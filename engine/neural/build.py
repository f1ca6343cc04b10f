"""``persona avatar neural``: a checkpoint and one source photo become a neural avatar folder.

The checkpoint is read once (bounded, ``weights_only``), checked strictly against the model
and hashed; the very bytes checked are what the folder holds, and the SHA-256 is recorded in
the manifest (and checked at every load). The photo's one face is found and measured
(``engine.avatar.photo.fit.fit_face``) and the photo cropped to the model's square with the
framing the live driving crop uses (``engine.neural.driving``). No downloads, ever.

The folder::

    avatar.toml      kind = "neural", checkpoint, checkpoint_sha256, source, model, [consent]
    model.pth.tar    the checkpoint, byte for byte
    source.png       the photo cropped round its face, image_size square
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from engine.safety.likeness import Consent, consent_lines, toml_string
from engine.errors import ConfigError
from engine.safe_write import replace_on_success

CHECKPOINT_NAME = "model.pth.tar"
SOURCE_NAME = "source.png"


def _toml_text(name: str, model: str, sha256: str, consent: Consent, origins: str) -> str:
    q = toml_string
    lines = ['kind = "neural"', f"name = {q(name)}", f'checkpoint = "{CHECKPOINT_NAME}"',
             f'checkpoint_sha256 = "{sha256}"', f'source = "{SOURCE_NAME}"',
             f"model = {q(model)}", "", *consent_lines(consent, name, origins)]
    return "\n".join(lines) + "\n"


def source_square(image: np.ndarray, origin: str, size: int) -> np.ndarray:
    """(size, size, 3) uint8: the photo's one face framed as the driving crop frames faces."""
    from engine.avatar.photo.fit import fit_face
    from engine.neural.driving import crop_square, face_square

    face = fit_face(image, origin)
    return crop_square(np.ascontiguousarray(image), face_square(face.landmarks), size)


def build_neural_avatar(checkpoint_path: Path, image: np.ndarray, photo_origin: str,
                        photo_bytes: bytes, name: str, model: str, out: Path,
                        consent: Consent) -> tuple[Path, str]:
    """Write the avatar folder ``out`` (new or empty); returns it and the checkpoint's SHA-256."""
    from PIL import Image

    from engine.neural.checkpoint import load_checkpoint, read_checkpoint_bytes
    from engine.neural.model import SIZES
    if model not in SIZES:
        raise ConfigError(f"--model: {model!r} is not one of {', '.join(SIZES)}")
    consent.check_uses()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out}: already exists and is not an empty folder; choose another "
                          "--out")
    data = read_checkpoint_bytes(checkpoint_path)
    checkpoint = load_checkpoint(checkpoint_path, SIZES[model], data=data)
    square = source_square(image, photo_origin, SIZES[model].image_size)
    png = io.BytesIO()
    Image.fromarray(square).save(png, format="PNG")
    photo_sha = hashlib.sha256(photo_bytes).hexdigest()
    origins = (f"{Path(photo_origin).name} (sha256 {photo_sha}); checkpoint "
               f"{checkpoint_path.name} (sha256 {checkpoint.sha256})")
    out.mkdir(parents=True, exist_ok=True)
    files = {CHECKPOINT_NAME: data, SOURCE_NAME: png.getvalue(),
             "avatar.toml": _toml_text(name, model, checkpoint.sha256, consent,
                                       origins).encode("utf-8")}
    for file_name, content in files.items():
        with replace_on_success(out / file_name) as staged:
            staged.file.write(content)
    return out, checkpoint.sha256
