"""``persona train``: a FOMM-style model of a chosen size, trained from consented videos.

Frames: each video is decoded (PyAV), at most ``MAX_FRAMES`` spread over its length; our face
mesh finds the face in each and the frame is cut to the model's square with the live driving
crop's framing (``engine.neural.driving``), so training sees faces framed as the live avatar
will. Frames without one face are skipped.

A step (FOMM's self-supervised recipe without its VGG perceptual loss, whose pretrained weights
cannot be had here): two frames of one video, source and driving; keypoints of both; the
generator re-poses the source as the driving frame. Losses:

* reconstruction: L1 between prediction and driving frame at four scales (1, ½, ¼, ⅛);
* equivariance: the driving frame warped by a random affine map must give the keypoints moved
  by that map (``value``) and jacobians composed with it (``jacobian``).

Adam (lr 2e-4, betas 0.5/0.999, as FOMM). The checkpoint is FOMM's layout (``generator``,
``kp_detector``, an empty ``discriminator``: there is no adversary, the three optimizer states,
``epoch`` = steps done) plus ``config`` (the size) and ``training`` (each video's name and
SHA-256 and the consent statement); ``--resume`` continues from it. GPU when present.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import AssetError, ConfigError

MAX_FRAMES = 300  # per video
MAX_VIDEO_BYTES = 4 << 30
SCALES = (1.0, 0.5, 0.25, 0.125)
WEIGHT_RECONSTRUCTION = 10.0
WEIGHT_EQUIVARIANCE_VALUE = 10.0
WEIGHT_EQUIVARIANCE_JACOBIAN = 10.0
AFFINE_SIGMA = 0.05  # spread of the random affine maps (FOMM's transform_params sigma_affine)


@dataclass
class TrainOptions:
    videos: list[Path]
    out: Path
    consent: str  # who consented to their videos being trained on, and to what; or "synthetic"
    size: str = "tiny"
    steps: int = 1000
    batch: int = 4
    lr: float = 2e-4
    resume: bool = False
    checkpoint_every: int = 100
    device: str | None = None
    seed: int = 0
    max_frames: int = MAX_FRAMES


def read_faces(path: Path, size: int, max_frames: int = MAX_FRAMES) -> tuple[np.ndarray, str]:
    """(N, size, size, 3) uint8 face squares from the video, and the file's SHA-256."""
    import av

    from engine.neural.driving import crop_square, face_square
    from engine.safety.regular_file import open_regular
    from engine.tracking.face_mesh import FaceMeshDetector

    digest = hashlib.sha256()
    with open_regular(path, MAX_VIDEO_BYTES, lambda why: AssetError(f"{path}: {why}")) as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            total = stream.frames or max_frames
            every = max(1, total // max_frames)
            images = [frame.to_ndarray(format="rgb24")
                      for i, frame in enumerate(container.decode(stream)) if i % every == 0]
    except (av.FFmpegError, IndexError) as error:
        raise AssetError(f"{path}: not a readable video ({error})") from None
    detector = FaceMeshDetector(max_faces=1, video=True)
    squares = []
    try:
        for image in images[:max_frames]:
            faces = detector.detect(np.ascontiguousarray(image))
            if len(faces) == 1:
                squares.append(crop_square(image, face_square(faces[0]), size))
    finally:
        detector.close()
    if len(squares) < 2:
        raise AssetError(f"{path}: fewer than two frames with one face; nothing to train on")
    return np.stack(squares), digest.hexdigest()


def random_affine(batch: int, sigma: float, generator, device):
    """(B, 2, 3) affine maps near the identity, on FOMM's [-1, 1] coordinates."""
    import torch

    noise = torch.randn(batch, 2, 3, generator=generator) * sigma
    return (torch.eye(2, 3)[None] + noise).to(device)


def losses(model, source, driving, affine) -> dict:
    """The loss terms of one batch (tensors (B, 3, S, S) in [0, 1])."""
    import torch
    import torch.nn.functional as F

    from engine.neural.model import inverse_2x2

    kp_source = model.kp_detector(source)
    kp_driving = model.kp_detector(driving)
    prediction = model.generator(source, kp_driving, kp_source)["prediction"]
    reconstruction = sum(
        (F.interpolate(prediction, scale_factor=s, mode="area")
         - F.interpolate(driving, scale_factor=s, mode="area")).abs().mean()
        if s != 1.0 else (prediction - driving).abs().mean() for s in SCALES)
    # The transformed frame at p shows the driving frame at A·p + t, so the driving keypoints
    # are the transformed frame's keypoints mapped by (A, t).
    grid = F.affine_grid(affine, list(driving.shape), align_corners=True)
    transformed = F.grid_sample(driving, grid, padding_mode="reflection", align_corners=True)
    kp_t = model.kp_detector(transformed)
    a, t = affine[:, None, :, :2], affine[:, None, :, 2]
    mapped = (a @ kp_t["value"][..., None])[..., 0] + t
    value = (kp_driving["value"] - mapped).abs().mean()
    composed = inverse_2x2(kp_driving["jacobian"]) @ (a @ kp_t["jacobian"])
    eye = torch.eye(2, device=source.device).expand_as(composed)
    jacobian = (eye - composed).abs().mean()
    total = (WEIGHT_RECONSTRUCTION * reconstruction + WEIGHT_EQUIVARIANCE_VALUE * value
             + WEIGHT_EQUIVARIANCE_JACOBIAN * jacobian)
    return {"total": total, "reconstruction": reconstruction, "equivariance_value": value,
            "equivariance_jacobian": jacobian}


def train(options: TrainOptions) -> Iterator[str]:
    """Train, yielding one progress line per report; writes ``options.out`` as it goes."""
    import torch

    from engine.neural.checkpoint import check_state, parse_checkpoint, read_checkpoint_bytes
    from engine.neural.checkpoint import save_checkpoint
    from engine.neural.model import SIZES, Model

    if options.size not in SIZES:
        raise ConfigError(f"--size: {options.size!r} is not one of {', '.join(SIZES)}")
    if options.steps < 1 or options.batch < 2:
        raise ConfigError("--steps must be at least 1 and --batch at least 2 (batch norms)")
    if not options.consent.strip():
        raise ConfigError("train: say whose videos these are and what they consented to "
                          "(--consent), or --synthetic")
    config = SIZES[options.size]
    device = torch.device(options.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    clips, sources = [], []
    for path in options.videos:
        faces, sha = read_faces(path, config.image_size, options.max_frames)
        clips.append(torch.from_numpy(faces).permute(0, 3, 1, 2).contiguous())
        sources.append({"video": path.name, "sha256": sha, "frames": len(faces)})
        yield f"{path.name}: {len(faces)} face frames (sha256 {sha[:16]}…)"
    model = Model.build(config, seed=options.seed)
    model.kp_detector.to(device).train()
    model.generator.to(device).train()
    optimizers = {
        "kp_detector": torch.optim.Adam(model.kp_detector.parameters(), options.lr,
                                        betas=(0.5, 0.999)),
        "generator": torch.optim.Adam(model.generator.parameters(), options.lr,
                                      betas=(0.5, 0.999)),
    }
    done = 0
    if options.resume:
        data = read_checkpoint_bytes(options.out)
        content = parse_checkpoint(data, options.out)
        if content.get("config") != config.to_dict():
            raise ConfigError(f"{options.out}: was trained at another size; resume with the "
                              "same --size")
        for name, module in (("kp_detector", model.kp_detector),
                             ("generator", model.generator)):
            check_state(options.out, name, content[name], module)
            module.load_state_dict(content[name], strict=False)
            optimizers[name].load_state_dict(content[f"optimizer_{name}"])
        done = int(content.get("epoch", 0))
        yield f"resumed at step {done}"
    generator = torch.Generator().manual_seed(options.seed + done)
    extra = {"config": config.to_dict(),
             "training": {"videos": sources, "consent": options.consent}}

    def save(step: int) -> None:
        save_checkpoint(options.out, model, step,
                        optimizers={k: o.state_dict() for k, o in optimizers.items()},
                        extra=extra)

    start = time.perf_counter()
    for step in range(done + 1, options.steps + 1):
        pick = torch.randint(len(clips), (options.batch,), generator=generator).tolist()
        pairs = [clips[c][torch.randint(len(clips[c]), (2,), generator=generator)] for c in pick]
        frames = torch.stack(pairs).to(device).float() / 255.0  # (B, 2, 3, S, S)
        affine = random_affine(options.batch, AFFINE_SIGMA, generator, device)
        terms = losses(model, frames[:, 0], frames[:, 1], affine)
        for optimizer in optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        for optimizer in optimizers.values():
            optimizer.step()
        if step % options.checkpoint_every == 0 or step == options.steps:
            save(step)
        rate = (time.perf_counter() - start) / (step - done)
        shown = "  ".join(f"{k} {float(v.detach()):.4f}" for k, v in terms.items())
        yield f"step {step}/{options.steps}  {shown}  {rate:.2f} s/step"
    yield f"wrote {options.out}"
