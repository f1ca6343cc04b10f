"""``persona bench watermark``: invisibility, robustness and false positives on real footage.

Marks frames of a real video at 1280x720, measures PSNR against the unmarked frames, downscales
to 640x360 and re-encodes with H.264 at 500 kbit/s (what a video call does), then detects; and
runs single-frame detection over every frame of the unmarked sample videos to count false
positives. The sample videos live in ../shared/assets (never in the project).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine.errors import ConfigError
from engine.resources import SHARED_ASSETS

SHARED_VIDEOS = SHARED_ASSETS / "video"
FOOTAGE = ("WolfgangLanger_Pexels.mp4", "pyfeat_single_face.mp4")
SESSION = 0x5AFE_C0DE


def read_frames(path: Path, limit: int | None = None, size: tuple[int, int] | None = None,
                step: int = 1) -> Iterator[np.ndarray]:
    """RGB uint8 frames of a video, every ``step``-th, resized (bicubic) when ``size`` is given."""
    import av
    import cv2

    count = 0
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % step:
                continue
            rgb = frame.to_ndarray(format="rgb24")
            if size is not None and (rgb.shape[1], rgb.shape[0]) != size:
                rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
            yield rgb
            count += 1
            if limit is not None and count >= limit:
                return


def call_quality(frames: list[np.ndarray], size: tuple[int, int] = (640, 360),
                 bit_rate: int = 500_000, fps: int = 30) -> list[np.ndarray]:
    """Frames after what a video call does: downscale (area) and H.264 at ``bit_rate``."""
    import av
    import cv2

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.bit_rate = bit_rate
        for rgb in frames:
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            for packet in stream.encode(av.VideoFrame.from_ndarray(small, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def footage(name: str) -> Path:
    path = SHARED_VIDEOS / name
    if not path.is_file():
        raise ConfigError(f"{path}: sample video missing (the benchmark needs ../shared/assets "
                          "or PERSONA_ASSETS)")
    return path


def bench_watermark(seconds: float | None = None) -> dict:
    from engine.safety.watermark import Watermark, chip_residual, decide, detect

    started = time.perf_counter()
    mark = Watermark(SESSION, 1280, 720)
    pattern_ms = (time.perf_counter() - started) * 1e3
    clean = list(read_frames(footage(FOOTAGE[0]), limit=60, size=(1280, 720), step=4))
    marked = [mark.embed(rgb) for rgb in clean]
    psnrs = [psnr(m, c) for m, c in zip(marked, clean)]
    received = call_quality(marked)
    one = [detect(frame) for frame in received]
    whole = detect(received)
    first_10 = detect(received[:10])

    scores, frames, detect_s = [], 0, 0.0
    for name in FOOTAGE:
        for rgb in read_frames(footage(name)):
            started = time.perf_counter()
            scores.append(decide(chip_residual(rgb)).score)
            detect_s += time.perf_counter() - started
            frames += 1
    scores = np.array(scores)
    from engine.safety.watermark import THRESHOLD

    return {
        "pattern_1280x720_ms": round(pattern_ms, 1),
        "psnr_db_min": round(min(psnrs), 2),
        "psnr_db_mean": round(float(np.mean(psnrs)), 2),
        "reencode_single_frame_detected_pct": round(100 * np.mean([d.detected for d in one]), 1),
        "reencode_single_frame_confidence_median": round(float(np.median(
            [d.confidence for d in one])), 3),
        "reencode_single_frame_session_ok_pct": round(100 * np.mean(
            [d.session == SESSION for d in one]), 1),
        "reencode_10_frames_confidence": round(first_10.confidence, 3),
        "reencode_10_frames_session_ok": first_10.session == SESSION,
        "reencode_60_frames_score": round(whole.score, 2),
        "reencode_60_frames_session_ok": whole.session == SESSION,
        "unmarked_frames": frames,
        "unmarked_false_positives": int(np.sum(scores >= THRESHOLD)),
        "unmarked_score_max": round(float(scores.max()), 2),
        "unmarked_score_std": round(float(scores.std()), 3),
        "detect_ms_per_640x360_frame": round(1e3 * detect_s / frames, 2),
    }
