"""``persona bench render``: what one avatar frame costs at 1280x720.

A frame here is what the live loop pays: the layer cleared to the background, morph weights
mapped and the avatar drawn over it, then the compositor's one readback into the RGB frame.
Every frame gets fresh random weights on the channels being tested, so nothing is cached.
Figures per avatar: p50/p99 ms with every channel at rest (morphs cost nothing), with all 52
ARKit channels active, the cost of each extra active morph target from the difference, and the
mean CPU time per frame summed over all threads (with the 1-minute load average, since wall
times on a shared machine say as much about the neighbours as about the renderer). For Godette
also: the spring bones' time per frame, frames while the head swings (springs at work), and
frames with the MToon outline pass on, and frames with 4x MSAA.
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
    """(wall ms of every frame, mean CPU ms per frame over all of this process's threads).
    The layer is filled as the scene renderer fills it (``begin_layer``)."""
    from engine.scene_renderer import begin_layer

    layer = compositor.layers[0]

    def frame(expression: Expression) -> None:
        given = AvatarInput(expression)
        avatar.render(given, begin_layer(layer, avatar, given))
        compositor.finish(layer)

    for expression in expressions[:5]:  # warm-up: shader variants, texture residency
        frame(expression)
    times = []
    deadline = time.perf_counter() + seconds
    cpu_start = time.process_time()
    index = 0
    while time.perf_counter() < deadline or len(times) < 20:
        start = time.perf_counter()
        frame(expressions[index % len(expressions)])
        times.append(time.perf_counter() - start)
        index += 1
    return np.asarray(times) * 1000.0, (time.process_time() - cpu_start) / len(times) * 1000.0


def _head_turns(count: int) -> list[Expression]:
    """A head swinging ±25° left and right, a frame apart: spring bones have work to do."""
    expressions = []
    for k in range(count):
        angle = np.radians(25.0) * np.sin(2 * np.pi * k / count)
        head = np.eye(4, dtype=np.float32)
        head[:3, :3] = [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
        expressions.append(Expression(head=head))
    return expressions


def _vrm_figures(avatar, compositor, seconds: float, rest_ms: np.ndarray) -> dict[str, float]:
    """Godette's VRM extras: the spring bones' CPU time per frame while the head turns, and
    frames with the MToon outline pass on (the default frames above have it off)."""
    from engine.avatar import humanoid

    turns = _head_turns(30)
    chain = humanoid.head_chain(avatar.model)
    worlds = []  # the body posed for each turn (still hair would let the springs sleep)
    for expression in turns:
        worlds.append(avatar.rest_world.copy())
        humanoid.turn_head(worlds[-1], chain, expression.head[:3, :3])
    # CPU time: the simulation is one thread of numpy, and on a shared machine its wall time
    # mostly measures the neighbours.
    start, cpu_start, frames = time.perf_counter(), time.process_time(), 0
    while time.perf_counter() - start < 0.25 or frames < 200:
        avatar.springs.advance(worlds[frames % len(worlds)].copy(), avatar.frame_seconds)
        frames += 1
    springs_ms = (time.process_time() - cpu_start) / frames * 1000.0
    turning_ms, _ = _frame_times(avatar, compositor, turns, seconds / 2)
    avatar.outline = True
    try:
        outline_ms, outline_cpu = _frame_times(avatar, compositor, [Expression()], seconds / 2)
    finally:
        avatar.outline = False
    chosen, avatar.antialias = avatar.antialias, 4
    try:
        msaa_ms, msaa_cpu = _frame_times(avatar, compositor, [Expression()], seconds / 2)
    finally:
        avatar.antialias = chosen
    return {
        "godette_spring_joints": avatar.springs.joint_count,
        "godette_springs_cpu_ms_mean": round(springs_ms, 3),
        "godette_head_turning_ms_p50": round(float(np.percentile(turning_ms, 50)), 2),
        "godette_outline_rest_ms_p50": round(float(np.percentile(outline_ms, 50)), 2),
        "godette_outline_rest_ms_p99": round(float(np.percentile(outline_ms, 99)), 2),
        "godette_outline_rest_cpu_ms_mean": round(outline_cpu, 2),
        "godette_outline_extra_ms_p50": round(float(np.percentile(outline_ms, 50)
                                                    - np.percentile(rest_ms, 50)), 2),
        "godette_msaa4_ms_p50": round(float(np.percentile(msaa_ms, 50)), 2),
        "godette_msaa4_cpu_ms_mean": round(msaa_cpu, 2),
    }


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
                if key == "godette":
                    figures.update(_vrm_figures(avatar, compositor, seconds, idle_ms))
            finally:
                avatar.release()
        from engine.avatar.faceswap.bench import render_figures  # the camera picture + face

        figures.update(render_figures(gl, shaders, compositor, seconds / 2))
        from engine.avatar.photo.bench import render_figures as photo_figures

        figures.update(photo_figures(gl, shaders, compositor, seconds / 2))
        compositor.release()
    if not figures:
        raise ConfigError("bench render: neither avatars/default nor the Godette sample was found")
    figures["width"], figures["height"] = SIZE
    figures["load_1min"] = round(os.getloadavg()[0], 2)  # other work competing for the CPU
    return figures
