"""``persona bench neural``: ms per frame of the vox-256 model on the CPU with 2 threads.

For 256x256 and 128x128 frames (the same weights; the networks are fully convolutional), each
measured in the same run on the same random weights (batch norms given random statistics, so
folding them is really exercised) and the same driving frames:

* ``reference``: the straightforward loop — keypoints of the driving frame, then the whole
  generator (re-encoding the source each frame), fp32, ``torch.no_grad``;
* ``torch``: the fast path (``engine.neural.animator``): source keypoints, encoder features and
  downsampled source cached once, batch norms folded, channels-last, ``inference_mode``;
* ``onnx``: the same fused per-frame networks exported to ONNX and run by onnxruntime;
* ``int8_approximate``: NOT exact — the onnx path with the render graph's convolutions
  quantised to int8, calibrated on four frames other than the one measured; its error against
  the reference is reported beside its figures (``*_max_abs_error``, ``*_mean_abs_error``).

Then the live loop (``live_*``): a real session at 1280x720 / 30 fps — the astronaut photo as
the camera, our MediaPipe tracker, a scene showing a vox-256 neural avatar (random weights),
null sink — for ``--seconds`` (default 30): the loop's own on-time rate and frame times while
the model runs on its worker, and the model's own rate (``live_model_fps``).

Each figure is the median over ``repeats`` frames; ``*_max_abs_error`` is the largest pixel
difference (in [0, 1]) of a path's output from the reference's on the same frame.

Last, quality (``heldout_l1_*``, ``engine.neural.evaluate``): the shipped model
(``avatars/marlow-neural``) on held-out clips — the real ``pyfeat_single_face.mp4`` and, where
``tools/make_neural_footage.py`` has made them, the held-out identities' renders — beside the
no-motion and photo-warp baselines, as mean L1 on the same face squares.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

import numpy as np

THREADS = 2


def random_statistics(model, seed: int = 0) -> None:
    """Give every batch norm non-trivial statistics and affine terms (random weights
    otherwise leave them at the identity, and folding them would test nothing)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    for net in (model.kp_detector, model.generator):
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                with torch.no_grad():
                    module.running_mean.copy_(torch.rand(n, generator=generator) * 0.2 - 0.1)
                    module.running_var.copy_(torch.rand(n, generator=generator) * 1.5 + 0.5)
                    module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                    module.bias.copy_(torch.rand(n, generator=generator) * 0.2 - 0.1)


def _frames(size: int, count: int, seed: int = 1) -> list[np.ndarray]:
    """A smooth picture and slightly shifted copies of it (a moving face's statistics matter
    little to the cost; they keep the keypoints' motion small as in a real session)."""
    from skimage import data
    from skimage.transform import resize

    face = resize(data.astronaut()[0:300, 100:400], (size + 8, size + 8), anti_aliasing=True)
    face = (face * 255).astype(np.uint8)
    rng = np.random.default_rng(seed)
    shifts = rng.integers(0, 9, size=(count, 2))
    return [np.ascontiguousarray(face[y:y + size, x:x + size]) for y, x in shifts]


def measure_size(model, size: int, repeats: int) -> dict[str, float]:
    """The figures for one frame size. The paths are timed in turn within each repeat, so a
    change in the machine's load (the cores are shared) falls on all of them alike."""
    import torch

    from engine.neural.animator import Animator, movement_scale, reference_frame, to_tensor
    from engine.neural.onnx_path import OnnxAnimator

    source, calibration, driving = _frames(size, 3)
    figures: dict[str, float] = {}
    source_t, calibration_t, driving_t = map(to_tensor, (source, calibration, driving))
    with torch.no_grad():
        kp_source = model.kp_detector(source_t)
        kp_calibration = model.kp_detector(calibration_t)
    scale = movement_scale(kp_source, kp_calibration)

    animator = Animator(model, "cpu")
    start = time.perf_counter()
    animator.set_source(source)
    figures["torch_source_cache_ms"] = (time.perf_counter() - start) * 1e3
    animator.calibrate(animator.keypoints(calibration))
    start = time.perf_counter()
    onnx = OnnxAnimator(animator, THREADS)
    figures["onnx_export_ms"] = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    int8 = OnnxAnimator(animator, THREADS, approximate_with=_frames(size, 4, seed=9))
    figures["int8_approximate_build_ms"] = (time.perf_counter() - start) * 1e3
    kp = animator.motion_keypoints(animator.keypoints(driving))

    def reference_kp():
        with torch.no_grad():
            return model.kp_detector(to_tensor(driving))

    def uncached():  # the fused networks, but the source re-encoded and re-blurred each frame
        with torch.inference_mode():
            return animator.generator(animator.source.image, kp,
                                      animator.source.keypoints)["prediction"]

    paths = {
        "reference_kp": reference_kp,
        "reference_frame": lambda: reference_frame(model, source_t, driving_t, kp_source,
                                                   kp_calibration, scale),
        "torch_kp": lambda: animator.keypoints(driving),
        "torch_generator": lambda: animator.render(kp),
        "torch_uncached_generator": uncached,
        "onnx_kp": lambda: onnx.keypoints(driving),
        "onnx_generator": lambda: onnx.render(animator.motion_keypoints(onnx.keypoints(driving))),
        "int8_approximate_generator": lambda: int8.render(kp),
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    outputs: dict[str, object] = {}
    for _ in range(repeats):
        for name, fn in paths.items():
            start = time.perf_counter()
            outputs[name] = fn()
            times[name].append((time.perf_counter() - start) * 1e3)
    for name, samples in times.items():
        figures[f"{name}_ms"] = statistics.median(samples)
    # onnx_generator's time includes its keypoints; keep the generator alone.
    figures["onnx_generator_ms"] -= figures["onnx_kp_ms"]
    figures["int8_approximate_kp_ms"] = figures["onnx_kp_ms"]  # the keypoint graph stays float
    for path in ("torch", "onnx", "int8_approximate"):
        figures[f"{path}_frame_ms"] = figures[f"{path}_kp_ms"] + figures[f"{path}_generator_ms"]
    reference = outputs["reference_frame"]
    errors = {"torch_max_abs_error": outputs["torch_generator"],
              "torch_uncached_max_abs_error": outputs["torch_uncached_generator"],
              "onnx_max_abs_error": outputs["onnx_generator"]}
    best = min(figures["torch_frame_ms"], figures["onnx_frame_ms"])
    for path in ("torch", "onnx", "int8_approximate"):
        figures[f"speedup_{path}_vs_reference"] = figures["reference_frame_ms"] \
            / figures[f"{path}_frame_ms"]
    figures["speedup_best_exact_vs_reference"] = figures["reference_frame_ms"] / best
    result = {f"{k}_{size}": round(v, 2) for k, v in figures.items()}
    for name, out in errors.items():  # pixel values in [0, 1]; the target is 1e-4
        result[f"{name}_{size}"] = float(f"{float((out - reference).abs().max()):.3g}")
    difference = (outputs["int8_approximate_generator"] - reference).abs()
    result[f"int8_approximate_max_abs_error_{size}"] = float(f"{float(difference.max()):.3g}")
    result[f"int8_approximate_mean_abs_error_{size}"] = float(f"{float(difference.mean()):.3g}")
    return result


def measure_live(seconds: float) -> dict[str, float]:
    """The live loop with a vox-256 neural avatar (see the module's docstring)."""
    import tempfile
    from pathlib import Path

    from PIL import Image
    from skimage import data

    from engine.safety.likeness import Consent
    from engine.clock import FrameStats
    from engine.config import Settings
    from engine.neural.build import build_neural_avatar
    from engine.neural.checkpoint import save_checkpoint
    from engine.neural.model import VOX_256, Model
    from engine.output.null import NullSink
    from engine.scenes import load_scene
    from engine.session import build_app

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        model = Model.build(VOX_256, seed=0).eval()
        random_statistics(model)
        save_checkpoint(root / "vox.pth.tar", model, epoch=0)
        del model
        photo = data.astronaut()
        Image.fromarray(photo).save(root / "camera.png")
        avatar, _ = build_neural_avatar(root / "vox.pth.tar", photo, "astronaut.png", b"",
                                        "bench", "vox-256", root / "avatar",
                                        Consent(synthetic=True))
        (root / "neural.toml").write_text(f'name = "Neural"\navatar = "{avatar}"\n')
        settings = Settings(source=str(root / "camera.png"), sinks=[], scene="Neural",
                            use="demo")
        session = build_app(settings, sinks=[NullSink()],
                            scenes=[load_scene(root / "neural.toml")])
        try:
            app = session.app
            neural = app.director.current.avatar.avatar
            app.run(max_frames=30)
            deadline = time.monotonic() + 120.0  # the model's first picture: export, warm-up
            while neural.pictures < 1 and time.monotonic() < deadline:
                app.run(max_frames=10)
            frames = int(seconds * settings.fps)
            app.stats = FrameStats(window=frames)
            late, dropped = app.clock.late_frames, app.clock.dropped_frames
            pictures = neural.pictures
            start = time.perf_counter()
            app.run(max_frames=frames)
            elapsed = time.perf_counter() - start
            figures = app.stats.summary()
            live = {f"live_{k}": float(v) for k, v in figures.items()
                    if isinstance(v, (int, float))}
            live["live_late_frames"] = float(app.clock.late_frames - late)
            live["live_dropped_frames"] = float(app.clock.dropped_frames - dropped)
            live["live_model_fps"] = (neural.pictures - pictures) / elapsed
            live["live_model_ms"] = neural.driver.model_ms
            live["live_seconds"] = seconds
            return {k: round(v, 2) for k, v in live.items()}
        finally:
            session.close()


def measure_quality() -> dict[str, float]:
    """The shipped model's held-out L1 beside the baselines (see the module's docstring)."""
    from engine.avatar.loader import prepare_avatar
    from engine.neural.evaluate import held_out_clips, quality_figures
    from engine.neural.kind import SHIPPED_AVATAR

    files = prepare_avatar(SHIPPED_AVATAR, use="demo").files
    figures, _ = quality_figures(files.model, held_out_clips())
    return figures


def bench_neural(seconds: float | None) -> dict[str, float]:
    """Figures for 256 and 128 (5 frames each: a 256 frame of the reference takes over a
    second here), then the live loop for ``seconds`` (default 30)."""
    import torch

    from engine.neural.model import VOX_256, Model

    torch.set_num_threads(THREADS)
    import os

    repeats = 5
    # The cores are shared: what else ran shows in the figures, so the bench reports it.
    figures: dict[str, float] = {"threads": THREADS, "repeats": repeats,
                                 "load_average_1min_at_start": os.getloadavg()[0]}
    for size in (256, 128):
        model = Model.build(replace(VOX_256, image_size=size), seed=0).eval()
        random_statistics(model)
        figures.update(measure_size(model, size, repeats))
    figures.update(measure_live(30.0 if seconds is None else seconds))
    figures.update(measure_quality())
    figures["load_average_1min_at_end"] = os.getloadavg()[0]
    return figures
