"""``persona bench render``: what one avatar frame costs at 1280x720.

A frame here is what the live loop pays: the layer cleared to the background, morph weights
mapped and the avatar drawn over it, then the compositor's one readback into the RGB frame.
Every frame gets fresh random weights on the channels being tested, so nothing is cached.
Figures per avatar: p50/p99 ms with every channel at rest (morphs cost nothing), with all 52
ARKit channels active, the cost of each extra active morph target from the difference, and the
mean CPU time per frame summed over all threads (with the 1-minute load average, since wall
times on a shared machine say as much about the neighbours as about the renderer).
"""

from __future__ import annotations

import logging
import os
import time
import numpy as np

from engine.avatar.base import AvatarInput
from engine.errors import ConfigError, ResourceNotFound
from engine.resources import SHARED_ASSETS
from engine.types import NUM_BLENDSHAPES, Expression

log = logging.getLogger(__name__)

SIZE = (1280, 720)
GODETTE = SHARED_ASSETS / "vrm" / "Godette_vrm_v4.vrm"


def _frame_times(avatar, compositor, expressions: list[Expression],
                 seconds: float) -> tuple[np.ndarray, float]:
    """(wall ms of every frame, mean CPU ms per frame over all of this process's threads)."""
    layer = compositor.layers[0]
    for expression in expressions[:5]:  # warm-up: shader variants, texture residency
        avatar.render(AvatarInput(expression), layer.begin())
        compositor.finish(layer)
    times = []
    deadline = time.perf_counter() + seconds
    cpu_start = time.process_time()
    index = 0
    while time.perf_counter() < deadline or len(times) < 20:
        start = time.perf_counter()
        avatar.render(AvatarInput(expressions[index % len(expressions)]), layer.begin())
        compositor.finish(layer)
        times.append(time.perf_counter() - start)
        index += 1
    return np.asarray(times) * 1000.0, (time.process_time() - cpu_start) / len(times) * 1000.0


def _active_targets(avatar, shapes: np.ndarray) -> int:
    return int(np.count_nonzero(avatar.mapping.weights(shapes) > 1e-4))


def bench_render(seconds: float | None) -> dict[str, float]:
    from engine.avatar.loader import open_avatar
    from engine.gl.compositor import Compositor
    from engine.gl.context import GLContext
    from engine.gl.programs import ShaderLibrary

    seconds = 2.0 if seconds is None else seconds
    rng = np.random.default_rng(0)
    figures: dict[str, float] = {}
    with GLContext.headless() as gl:
        shaders = ShaderLibrary(gl.ctx)
        compositor = Compositor(gl.ctx, shaders, SIZE)
        candidates = [("default", "default")]
        if GODETTE.exists():
            candidates.append(("godette", str(GODETTE)))
        for key, name in candidates:
            try:
                avatar = open_avatar(name, gl, shaders).avatar
            except ResourceNotFound:
                log.warning("bench render: avatar %r not found; skipped", name)
                continue
            try:
                rest = [Expression()]
                busy = [Expression(blendshapes=rng.uniform(0.2, 1.0, NUM_BLENDSHAPES)
                                   .astype(np.float32)) for _ in range(16)]
                idle_ms, idle_cpu = _frame_times(avatar, compositor, rest, seconds / 2)
                busy_ms, busy_cpu = _frame_times(avatar, compositor, busy, seconds / 2)
                active = _active_targets(avatar, busy[0].blendshapes)
                figures[f"{key}_rest_ms_p50"] = round(float(np.percentile(idle_ms, 50)), 2)
                figures[f"{key}_rest_ms_p99"] = round(float(np.percentile(idle_ms, 99)), 2)
                figures[f"{key}_all52_ms_p50"] = round(float(np.percentile(busy_ms, 50)), 2)
                figures[f"{key}_all52_ms_p99"] = round(float(np.percentile(busy_ms, 99)), 2)
                # CPU time summed over llvmpipe's threads: steadier than wall time on a
                # machine shared with other work, and an upper bound on an idle machine's.
                figures[f"{key}_rest_cpu_ms_mean"] = round(idle_cpu, 2)
                figures[f"{key}_all52_cpu_ms_mean"] = round(busy_cpu, 2)
                figures[f"{key}_active_targets"] = active
                if active:
                    extra = (np.percentile(busy_ms, 50) - np.percentile(idle_ms, 50)) / active
                    figures[f"{key}_ms_per_active_target"] = round(float(extra), 3)
            finally:
                avatar.release()
        compositor.release()
    if not figures:
        raise ConfigError("bench render: neither avatars/default nor the Godette sample was found")
    figures["width"], figures["height"] = SIZE
    figures["load_1min"] = round(os.getloadavg()[0], 2)  # other work competing for the CPU
    return figures
