"""``persona bench io``: per-frame cost of the sources and sinks at 1280x720, in milliseconds.

Everything runs on generated input, so the figures need no camera, device or sample files: the
synthetic source renders frames, the recorder encodes them into a temporary MP4, and the video
source decodes that file back.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.capture.synthetic import SyntheticSource
from engine.capture.video import VideoFileSource
from engine.output.base import BaseSink
from engine.output.recorder import RecorderSink
from engine.output.y4m import Y4MSink
from engine.output.yuv import rgb_to_i420

SIZE = (1280, 720)
FPS = 30.0


def _timed(step: Callable[[int], object], count: int) -> tuple[float, float]:
    """p50 and p99 of ``step(i)`` over ``count`` calls, in milliseconds."""
    times = np.empty(count)
    for i in range(count):
        start = time.perf_counter()
        step(i)
        times[i] = time.perf_counter() - start
    p50, p99 = np.percentile(times * 1000, [50, 99])
    return round(float(p50), 3), round(float(p99), 3)


def _sink_cost(sink: BaseSink, frames: list) -> tuple[float, float]:
    sink.open(*SIZE, FPS)
    try:
        return _timed(lambda i: sink.write(frames[i % len(frames)]), len(frames))
    finally:
        sink.close()


def bench_io(seconds: float | None = None) -> dict[str, float]:
    count = max(30, int((seconds or 4) * FPS))
    source = SyntheticSource(SIZE, FPS, realtime=False)
    source.start()
    frames = [source.latest() for _ in range(count)]
    figures: dict[str, float] = {"frames": count}

    def record(name: str, result: tuple[float, float]) -> None:
        figures[f"{name}_ms_p50"], figures[f"{name}_ms_p99"] = result

    record("synthetic_render", _timed(source.render, count))
    record("rgb_to_i420", _timed(lambda i: rgb_to_i420(frames[i].image), count))
    with tempfile.TemporaryDirectory() as folder:
        y4m_path, mp4_path = Path(folder, "out.y4m"), Path(folder, "out.mp4")
        record("y4m_write", _sink_cost(Y4MSink(y4m_path), frames))
        record("mp4_write", _sink_cost(RecorderSink(mp4_path), frames))
        with VideoFileSource(mp4_path, realtime=False, loop=True) as video:
            record("video_decode", _timed(lambda i: video.latest(), count))
    return figures
