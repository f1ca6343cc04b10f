"""The live neural avatar: the performer's face drives the source photo through the model.

Per frame the loop hands the newest ``AvatarInput`` to a ``WorkerAvatar`` (one-slot mailbox:
the model only ever sees the newest frame, stale ones are dropped) and draws the newest finished
picture; the model runs at its own rate. On the inference worker (``NeuralDriver``):

* the first call builds the fast path (``Animator``: fused networks, the source's keypoints and
  encoder features cached once; onnxruntime on the CPU when it is installed, where
  ``persona bench neural`` measured it faster; fp16 on CUDA) — never on the loop's thread;
* the driving square is cut round the face from the tracker's landmarks, smoothed
  (``engine.neural.driving``);
* the first face seen, and the face after each ``calibrate()`` (the C hotkey / the control
  API's ``calibrate``), becomes the neutral the motion is measured from;
* the picture (the source photo's face and its own surroundings; never the camera's room) gets
  soft edges so it sits over the scene's background, premultiplied for the GL blend.

On the CPU the worker runs with one thread at the lowest priority (niceness 19; 10 measured
97.6 % of frames on time, 19 99.5 %, each under a load average near 3 from other jobs), so the loop's
own work and llvmpipe's rasteriser threads keep their deadlines while the model takes what is
left.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

import numpy as np

from engine.avatar.base import AvatarInput
from engine.neural.animator import to_image
from engine.neural.driving import DrivingCrop

log = logging.getLogger(__name__)

LIVE_THREADS = 1  # of 2 cores: the other stays with the loop and the rasteriser
WORKER_NICENESS = 19
EDGE_SHARE = 0.08  # soft edge, share of the picture's side
SCREEN_HEIGHT = 0.8  # the picture's height as a share of the frame's


@dataclass(frozen=True)
class NeuralFiles:
    """What the loading worker decoded: the checked model and the cropped source."""

    model: object  # engine.neural.model.Model, weights loaded
    source: np.ndarray  # (S, S, 3) uint8
    sha256: str
    backend: str  # "auto", "torch" or "onnx"


def edge_alpha(size: int, share: float = EDGE_SHARE) -> np.ndarray:
    """(size, size) float32 alpha: 1 inside, easing to 0 over ``share`` of the side at edges."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size
    ramp = np.clip(np.minimum(t, 1.0 - t) / share, 0.0, 1.0)
    ramp = ramp * ramp * (3.0 - 2.0 * ramp)
    return np.outer(ramp, ramp)


class NeuralDriver:
    """``predict`` for the WorkerAvatar: AvatarInput → (S, S, 4) premultiplied RGBA."""

    def __init__(self, files: NeuralFiles) -> None:
        self.files = files
        size = files.source.shape[0]
        self._crop = DrivingCrop(size)
        self._alpha = edge_alpha(size)[..., None]
        self._animator = None
        self._calibrate = True  # the first face seen is the neutral until the hotkey says else
        self._last = self._rgba(files.source)
        self.backend = ""
        self.model_ms = 0.0  # last inference, keypoints + generator
        self._finished: list[float] = []  # when the last pictures finished (for fps)

    def calibrate(self) -> None:
        """Take the next face as the neutral (called from the loop's thread)."""
        self._calibrate = True

    @property
    def calibrating(self) -> bool:
        """Whether the next face will be taken as the neutral."""
        return self._calibrate

    @property
    def fps(self) -> float:
        times = self._finished
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 \
            and times[-1] > times[0] else 0.0

    def _rgba(self, rgb: np.ndarray) -> np.ndarray:
        rgb_f = rgb.astype(np.float32) * self._alpha
        return np.dstack([rgb_f, 255.0 * self._alpha]).astype(np.uint8)

    def _build(self) -> None:
        import torch

        from engine.neural.animator import Animator

        cuda = torch.cuda.is_available()
        if not cuda:
            torch.set_num_threads(LIVE_THREADS)
            try:  # Linux: niceness is per thread; elsewhere the worker runs at normal priority
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)
            except (AttributeError, OSError):
                pass
        animator = Animator(self.files.model)
        animator.set_source(self.files.source)
        engine, backend = animator, "torch (cuda fp16)" if cuda else "torch"
        if not cuda and self.files.backend in ("auto", "onnx"):
            try:
                from engine.neural.onnx_path import OnnxAnimator

                engine, backend = OnnxAnimator(animator, LIVE_THREADS), "onnxruntime"
            except Exception as error:  # noqa: BLE001 - only a speed-up: torch runs it instead
                if self.files.backend == "onnx":
                    raise
                log.warning("neural avatar: onnxruntime not usable (%s); torch runs it", error)
        self._animator, self._engine, self.backend = animator, engine, backend
        log.info("neural avatar: %s", backend)

    def __call__(self, frame: AvatarInput) -> np.ndarray:
        if self._animator is None:
            self._build()
        face, camera = frame.face, frame.camera
        if face is None or camera is None or not face.found or face.landmarks is None:
            return self._last  # no face: hold the last picture
        start = time.perf_counter()
        driving = self._crop(camera.image, face.landmarks, camera.t_capture)
        kp = self._engine.keypoints(driving)
        if self._calibrate:
            self._animator.calibrate(kp)
            self._calibrate = False
        picture = self._engine.render(self._animator.motion_keypoints(kp))
        self._last = self._rgba(to_image(picture))
        now = time.perf_counter()
        self.model_ms = (now - start) * 1e3
        self._finished = (self._finished + [now])[-10:]
        return self._last


class NeuralAvatar:
    """A WorkerAvatar over a NeuralDriver, with the calibration hook and a HUD line."""

    def __init__(self, ctx, shaders, files: NeuralFiles) -> None:
        from engine.avatar.worker_avatar import WorkerAvatar

        self.driver = NeuralDriver(files)
        self._view = WorkerAvatar(ctx, shaders, self.driver, name="neural-avatar")

    def render(self, frame: AvatarInput, target) -> None:
        width, height = target.size
        w = SCREEN_HEIGHT * height / width  # square on screen
        self._view.rect = ((1.0 - w) / 2.0, (1.0 - SCREEN_HEIGHT) / 2.0, w, SCREEN_HEIGHT)
        self._view.render(frame, target)

    def calibrate(self) -> None:
        self.driver.calibrate()

    def status_line(self) -> str | None:
        """What the HUD shows: the model's own rate and time per picture."""
        if not self.driver.backend:
            return "model starting"
        return f"model {self.driver.fps:.1f} fps {self.driver.model_ms:.0f} ms"

    @property
    def pictures(self) -> int:
        return self._view.pictures

    def release(self) -> None:
        self._view.release()
