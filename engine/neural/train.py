"""``persona train``: a FOMM-style model of a chosen size, trained from consented videos.

Frames: each video is decoded (PyAV), at most ``MAX_FRAMES`` spread over its length; our face
mesh finds the face in each and the frame is cut to the model's square with the live driving
crop's framing (``engine.neural.driving``), so training sees faces framed as the live avatar
will. Frames without one face are skipped. A ``.npz`` clip holds such squares already
(``faces``: (N, S, S, 3) uint8, as ``tools/make_neural_footage.py`` writes them).

A step (FOMM's self-supervised recipe without its VGG perceptual loss, whose pretrained weights
cannot be had here): two frames of one video, source and driving; keypoints of both; the
generator re-poses the source as the driving frame. Losses:

* reconstruction: L1 between prediction and driving frame at four scales (1, ½, ¼, ⅛);
* equivariance: the driving frame warped by a random map — affine plus a thin-plate spline,
  as FOMM — must give the keypoints moved by that map (``value``) and jacobians composed with
  the map's own jacobian at each keypoint (``jacobian``).

A pair is flipped left-right half the time (both frames alike).

Adam (lr 2e-4, betas 0.5/0.999, as FOMM). The checkpoint is FOMM's layout (``generator``,
``kp_detector``, an empty ``discriminator``: there is no adversary, the three optimizer states,
``epoch`` = steps done) plus ``config`` (the size) and ``training`` (each video's name and
SHA-256, the consent statement, the seed and the training seconds so far); ``--resume``
continues from it, and ``--minutes`` stops a run (checkpointed) after that long. GPU when
present.
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
MAX_CLIP_BYTES = 1 << 30  # a .npz of face squares
SCALES = (1.0, 0.5, 0.25, 0.125)
WEIGHT_RECONSTRUCTION = 10.0
WEIGHT_EQUIVARIANCE_VALUE = 10.0
WEIGHT_EQUIVARIANCE_JACOBIAN = 10.0
AFFINE_SIGMA = 0.05  # spread of the random affine maps (FOMM's transform_params sigma_affine)
TPS_SIGMA = 0.005  # spread of the thin-plate spline weights (FOMM's sigma_tps)
TPS_POINTS = 5  # the spline's control points: a 5x5 grid over the frame (FOMM's points_tps)


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
    tps: bool = True
    minutes: float | None = None  # stop (and checkpoint) after this much training time
    threads: int | None = None  # torch CPU threads; None: torch's default


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


def read_clip(path: Path, size: int, max_frames: int = MAX_FRAMES) -> tuple[np.ndarray, str]:
    """(N, size, size, 3) uint8 face squares of a video or a ``.npz`` clip of squares, and the
    file's SHA-256."""
    if path.suffix.lower() != ".npz":
        return read_faces(path, size, max_frames)
    import io
    import zipfile

    from engine.safety.regular_file import read_bytes

    data = read_bytes(path, MAX_CLIP_BYTES, lambda why: AssetError(f"{path}: {why}"))
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as content:
            faces = content["faces"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise AssetError(f"{path}: not a clip of face squares (a .npz with 'faces'): "
                         f"{error}") from None
    if faces.dtype != np.uint8 or faces.ndim != 4 or faces.shape[1:] != (size, size, 3):
        raise AssetError(f"{path}: faces: expected (N, {size}, {size}, 3) uint8 for this "
                         f"model, got {faces.shape} {faces.dtype}")
    if len(faces) < 2:
        raise AssetError(f"{path}: fewer than two face squares; nothing to train on")
    every = max(1, len(faces) // max_frames)
    return faces[::every][:max_frames], hashlib.sha256(data).hexdigest()


class RandomWarp:
    """Maps p ↦ A·p + t + Σ_k w_k U(|p - c_k|) on FOMM's [-1, 1] coordinates, with U(r) =
    r² log r over a grid of control points c_k (a thin-plate spline; ``weights`` None: affine
    only). A frame warped by it shows, at p, the original at the map's image of p."""

    def __init__(self, affine, weights=None) -> None:
        from engine.neural.model import coordinate_grid

        self.affine = affine  # (B, 2, 3)
        self.weights = weights  # (B, P, 2) or None
        self.controls = coordinate_grid(TPS_POINTS, TPS_POINTS, affine).reshape(-1, 2)

    @classmethod
    def random(cls, batch: int, generator, device, tps: bool = True) -> RandomWarp:
        import torch

        affine = torch.eye(2, 3)[None] + torch.randn(batch, 2, 3, generator=generator) \
            * AFFINE_SIGMA
        weights = (torch.randn(batch, TPS_POINTS ** 2, 2, generator=generator) * TPS_SIGMA
                   ).to(device) if tps else None
        return cls(affine.to(device), weights)

    def _offsets(self, points):
        """(B, N, P, 2) p - c_k and (B, N, P) log r² (finite at the control points)."""
        import torch

        diff = points[:, :, None, :] - self.controls[None, None]
        return diff, torch.log((diff * diff).sum(-1) + 1e-9)

    def points(self, points):
        """(B, N, 2) the map's image of (B, N, 2) points."""
        a, t = self.affine[:, None, :, :2], self.affine[:, None, :, 2]
        out = (a @ points[..., None])[..., 0] + t
        if self.weights is not None:
            diff, log_r2 = self._offsets(points)
            spline = 0.5 * (diff * diff).sum(-1) * log_r2  # r² log r
            out = out + spline @ self.weights
        return out

    def jacobian(self, points):
        """(B, N, 2, 2) the map's jacobian at (B, N, 2) points: d(r² log r)/dp = (2 log r + 1)
        (p - c)."""
        jac = self.affine[:, None, :, :2].expand(*points.shape[:2], 2, 2)
        if self.weights is not None:
            diff, log_r2 = self._offsets(points)
            gradient = (log_r2 + 1.0)[..., None] * diff  # (B, N, P, 2): d U_k / dp
            jac = jac + self.weights.transpose(1, 2)[:, None] @ gradient
        return jac

    def apply(self, frames):
        """(B, 3, H, W) the frames warped (reflected at the edges)."""
        import torch.nn.functional as F

        from engine.neural.model import coordinate_grid

        b, _, h, w = frames.shape
        grid = coordinate_grid(h, w, frames).reshape(1, -1, 2).expand(b, -1, -1)
        mapped = self.points(grid).reshape(b, h, w, 2)
        return F.grid_sample(frames, mapped, padding_mode="reflection", align_corners=True)


def equivariance(model, driving, kp_driving: dict, warp: RandomWarp) -> tuple:
    """The keypoint (``value``) and jacobian equivariance losses of ``driving`` under ``warp``."""
    import torch

    from engine.neural.model import inverse_2x2

    # The warped frame at p shows the driving frame at T(p), so the driving keypoints are the
    # warped frame's keypoints mapped by T, and their jacobians T's jacobian times theirs.
    kp_t = model.kp_detector(warp.apply(driving))
    value = (kp_driving["value"] - warp.points(kp_t["value"])).abs().mean()
    composed = inverse_2x2(kp_driving["jacobian"]) @ (warp.jacobian(kp_t["value"])
                                                      @ kp_t["jacobian"])
    eye = torch.eye(2, device=driving.device).expand_as(composed)
    return value, (eye - composed).abs().mean()


def losses(model, source, driving, warp: RandomWarp) -> dict:
    """The loss terms of one batch (tensors (B, 3, S, S) in [0, 1])."""
    import torch.nn.functional as F

    kp_source = model.kp_detector(source)
    kp_driving = model.kp_detector(driving)
    prediction = model.generator(source, kp_driving, kp_source)["prediction"]
    reconstruction = sum(
        (F.interpolate(prediction, scale_factor=s, mode="area")
         - F.interpolate(driving, scale_factor=s, mode="area")).abs().mean()
        if s != 1.0 else (prediction - driving).abs().mean() for s in SCALES)
    value, jacobian = equivariance(model, driving, kp_driving, warp)
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
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    config = SIZES[options.size]
    device = torch.device(options.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    clips, sources = [], []
    for path in options.videos:
        faces, sha = read_clip(path, config.image_size, options.max_frames)
        clips.append(torch.from_numpy(np.ascontiguousarray(faces)).permute(0, 3, 1, 2)
                     .contiguous())
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
    done, seconds_before = 0, 0.0
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
        previous = content.get("training", {})
        seconds_before = float(previous.get("seconds", 0.0)) if isinstance(previous, dict) \
            else 0.0
        yield f"resumed at step {done}"
    generator = torch.Generator().manual_seed(options.seed + done)
    start = time.perf_counter()

    def save(step: int) -> None:
        training = {"videos": sources, "consent": options.consent, "seed": options.seed,
                    "tps": options.tps,
                    "seconds": round(seconds_before + time.perf_counter() - start, 3)}
        save_checkpoint(options.out, model, step,
                        optimizers={k: o.state_dict() for k, o in optimizers.items()},
                        extra={"config": config.to_dict(), "training": training})

    step = done
    for step in range(done + 1, options.steps + 1):
        pick = torch.randint(len(clips), (options.batch,), generator=generator).tolist()
        pairs = [clips[c][torch.randint(len(clips[c]), (2,), generator=generator)] for c in pick]
        frames = torch.stack(pairs).to(device).float() / 255.0  # (B, 2, 3, S, S)
        flip = (torch.rand(options.batch, generator=generator) < 0.5).to(device)
        frames[flip] = frames[flip].flip(-1)
        warp = RandomWarp.random(options.batch, generator, device, options.tps)
        terms = losses(model, frames[:, 0], frames[:, 1], warp)
        for optimizer in optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        for optimizer in optimizers.values():
            optimizer.step()
        elapsed = time.perf_counter() - start
        out_of_time = options.minutes is not None and elapsed >= options.minutes * 60.0
        if step % options.checkpoint_every == 0 or step == options.steps or out_of_time:
            save(step)
        shown = "  ".join(f"{k} {float(v.detach()):.4f}" for k, v in terms.items())
        yield f"step {step}/{options.steps}  {shown}  {elapsed / (step - done):.2f} s/step"
        if out_of_time:
            yield f"stopped after {elapsed / 60.0:.1f} minutes (--minutes)"
            break
    yield f"wrote {options.out} (step {step})"
