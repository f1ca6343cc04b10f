"""The ``neural`` avatar kind: a FOMM-style model animates one source photo, driven by the
performer's face (``persona avatar neural`` writes the folder; see ``engine.neural.build``)::

    kind = "neural"
    checkpoint = "model.pth.tar"    # FOMM layout, read with torch.load(weights_only=True)
    checkpoint_sha256 = "…"         # checked at every load: the file may not change
    source = "source.png"           # the source photo cropped round its face, model-sized
    model = "vox-256"               # the model's size (engine.neural.model.SIZES)
    backend = "auto"                # optional: "auto", "torch" or "onnx"

The checkpoint and the source photo carry the likeness; the consent signature covers both.
The model is driven by the camera picture (the face square cut from it), so the kind needs the
camera and landmarks: the likeness needs ``[consent] camera = true`` (or to be synthetic), and a
scene that promises anonymity refuses it. What it shows is the source photo's face and its own
surroundings, never the camera's room.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.avatar.kinds import AvatarKind
from engine.errors import ConfigError

# The neural avatar that ships: our own small-64 model animating a render of the marlow
# persona (tools/ship_neural_model.py; docs/neural.md, "Our own model").
SHIPPED_AVATAR = "marlow-neural"
CHECKPOINT_SUFFIXES = (".tar", ".pth", ".pt")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
BACKENDS = ("auto", "torch", "onnx")


@dataclass(frozen=True)
class NeuralSettings:
    checkpoint: Path
    checkpoint_sha256: str
    source: Path
    model: str
    backend: str


def configure(folder: Path, data: dict, where: str) -> NeuralSettings:
    from engine.avatar.manifest import avatar_file
    from engine.neural.model import SIZES

    sha = data.get("checkpoint_sha256")
    if not (isinstance(sha, str) and len(sha) == 64
            and all(c in "0123456789abcdef" for c in sha)):
        raise ConfigError(f"{where}: checkpoint_sha256: expected 64 lowercase hex digits, "
                          f"got {sha!r}")
    model = data.get("model", "vox-256")
    if not isinstance(model, str) or model not in SIZES:
        raise ConfigError(f"{where}: model: {model!r} is not one of {', '.join(SIZES)}")
    backend = data.get("backend", "auto")
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ConfigError(f"{where}: backend: {backend!r} is not one of {', '.join(BACKENDS)}")
    return NeuralSettings(avatar_file(folder, data, "checkpoint", where, CHECKPOINT_SUFFIXES),
                          sha, avatar_file(folder, data, "source", where, IMAGE_SUFFIXES),
                          model, backend)


def read_files(settings: NeuralSettings):
    """The checked model and the source picture (on the loading worker)."""
    import numpy as np

    from engine.errors import AssetError
    from engine.images import read_image
    from engine.neural.avatar import NeuralFiles
    from engine.neural.checkpoint import load_checkpoint
    from engine.neural.model import SIZES

    config = SIZES[settings.model]
    source = np.ascontiguousarray(np.asarray(read_image(settings.source, "RGB", max_side=4096)))
    if source.shape[:2] != (config.image_size, config.image_size):
        raise AssetError(f"{settings.source}: expected {config.image_size}x{config.image_size} "
                         f"for model {settings.model}, got {source.shape[1]}x{source.shape[0]}")
    checkpoint = load_checkpoint(settings.checkpoint, config, settings.checkpoint_sha256)
    return NeuralFiles(checkpoint.model, source, checkpoint.sha256, settings.backend)


def open_neural(files, gl, shaders):
    from engine.neural.avatar import NeuralAvatar

    return NeuralAvatar(gl.ctx, shaders, files)


def describe(settings: NeuralSettings) -> list[str]:
    return [f"checkpoint: {settings.checkpoint.name} (sha256 {settings.checkpoint_sha256})",
            f"source: {settings.source.name}", f"model: {settings.model}",
            f"backend: {settings.backend}",
            "needs: live landmarks and the camera picture ([consent] camera = true)"]


KIND = AvatarKind(
    name="neural",
    fields=("checkpoint", "checkpoint_sha256", "source", "model", "backend"),
    configure=configure,
    likeness_files=lambda settings: [settings.checkpoint, settings.source],
    open=open_neural,
    needs_landmarks=True,
    needs_camera=True,
    describe=describe,
    prepare=read_files,
)
