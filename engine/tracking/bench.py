"""``persona bench tracking``: per-frame tracking time and landmark jitter.

Time: the full ``MediaPipeTracker.track`` (landmarks, pose, blendshapes, gaze) on a real face
photo (scikit-image's ``astronaut``, placed in a 640x480 and a 1280x720 frame), pinned to one CPU
core so the figure does not depend on how many cores MediaPipe's thread pool finds. Interleaved
with it, MediaPipe's face mesh alone on the same frames (``mediapipe_ms_p50_*``): the difference
is this engine's own share (the live tracker alternates its looks, so it includes one mirror
flip every other frame). The looks against each other at 1280x720, interleaved: one look a frame,
the live loop's alternating looks (``alternating_looks_added_ms_p50_*``: what they add to one
look) and both looks on every frame (``mirror_averaged_track_ratio_p50``). Then the retarget
stage per frame (``retarget_ms_p50``).

Jitter: a still photo is tracked repeatedly with fresh sensor-like noise on each frame (Gaussian,
σ = 3 grey levels, about what a webcam shows in indoor light); jitter is the RMS distance of each
landmark from its mean position, with and without the tracker's One-Euro landmark filter.

Upper body (``pose_*``, when the Pexels clip is in ../shared/assets): MediaPipe Pose alone per
frame on the clip's first frames scaled to 1280x720 (looped, for ``seconds``), for each landmark
model the wheel ships (only "full", complexity 1, in 0.10.21: ``pose_complexity0_shipped`` says
whether "lite" is there),
then the whole tracker on the same frames with ``upper_body`` off and on, interleaved: the
difference is what a scene with ``upper_body = true`` adds to the tracking stage.
"""

from __future__ import annotations

import os
import time

import numpy as np

from engine.resources import SHARED_ASSETS
from engine.types import Frame

SIZES = ((640, 480), (1280, 720))
POSE_CLIP = SHARED_ASSETS / "video" / "WolfgangLanger_Pexels.mp4"
POSE_SIZE = (1280, 720)
POSE_FRAMES = 72  # the clip's first 3 s (looped): head, shoulders and a hand raised to the face
NOISE_SIGMA = 3.0
FPS = 30.0


def _scene(width: int, height: int) -> np.ndarray:
    """The astronaut's head and shoulders filling 90 % of the height of a grey frame, as a webcam
    frames a person at their desk."""
    import skimage.data
    from PIL import Image

    photo = skimage.data.astronaut()[0:340, 90:430]  # 512x512 portrait cropped to the head
    side = int(0.9 * height)
    photo = np.asarray(Image.fromarray(photo).resize((side, side), Image.BILINEAR))
    frame = np.full((height, width, 3), 110, np.uint8)
    top, left = (height - photo.shape[0]) // 2, (width - photo.shape[1]) // 2
    frame[top:top + photo.shape[0], left:left + photo.shape[1]] = photo
    return frame


def _noisy(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(0.0, NOISE_SIGMA, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _percentiles(times: list[float]) -> tuple[float, float]:
    ms = np.array(times) * 1000.0
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def _timing(size: tuple[int, int], seconds: float) -> dict[str, float]:
    """The whole tracker per frame, and MediaPipe's share of it (its landmarks alone)."""
    from engine.tracking.face_mesh import FaceMeshDetector
    from engine.tracking.mediapipe_tracker import MediaPipeTracker

    image = _scene(*size)
    tracker = MediaPipeTracker()
    detector = FaceMeshDetector()
    tracked, landmarks_only = [], []
    try:
        for index in range(5):  # warm up: first frames run the face detector and allocate
            tracker.track(Frame(image, index / FPS, index))
            detector.detect(image)
        end = time.perf_counter() + seconds
        index = 5
        while time.perf_counter() < end or len(tracked) < 20:
            start = time.perf_counter()
            face = tracker.track(Frame(image, index / FPS, index))
            middle = time.perf_counter()
            detector.detect(image)
            landmarks_only.append(time.perf_counter() - middle)
            tracked.append(middle - start)
            index += 1
            if not face.found:
                raise RuntimeError(f"benchmark face lost at {size}")
    finally:
        tracker.close()
        detector.close()
    width, height = size
    p50, p99 = _percentiles(tracked)
    mediapipe_p50, _ = _percentiles(landmarks_only)
    return {
        f"track_ms_p50_{width}x{height}": round(p50, 2),
        f"track_ms_p99_{width}x{height}": round(p99, 2),
        f"mediapipe_ms_p50_{width}x{height}": round(mediapipe_p50, 2),
        f"frames_{width}x{height}": len(tracked),
    }


def _looks(size: tuple[int, int], seconds: float) -> dict[str, float]:
    """What the looks cost against one face mesh pass a frame: the live loop's alternating looks
    (the frame, then its mirror image) and stills' and offline work's both looks on every frame,
    interleaved frame by frame so the differences hold on a noisy machine."""
    from engine.tracking.mediapipe_tracker import MediaPipeTracker

    image = _scene(*size)
    trackers = {looks: MediaPipeTracker(looks=looks) for looks in ("one", "alternate", "both")}
    times: dict[str, list[float]] = {looks: [] for looks in trackers}
    try:
        index = 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end or len(times["both"]) < 20:
            for looks, tracker in trackers.items():
                start = time.perf_counter()
                tracker.track(Frame(image, index / FPS, index))
                if index >= 5:  # past the warm-up, as in _timing
                    times[looks].append(time.perf_counter() - start)
            index += 1
    finally:
        for tracker in trackers.values():
            tracker.close()
    width, height = size
    one, alternate, both = (_percentiles(times[looks])[0] for looks in trackers)
    return {f"track_one_look_ms_p50_{width}x{height}": round(one, 2),
            f"track_alternating_looks_ms_p50_{width}x{height}": round(alternate, 2),
            f"alternating_looks_added_ms_p50_{width}x{height}": round(alternate - one, 2),
            f"track_mirror_averaged_ms_p50_{width}x{height}": round(both, 2),
            "mirror_averaged_track_ratio_p50": round(both / one, 2)}


def _retarget_ms(frames: int = 300) -> float:
    """p50 of ``Retargeter.update`` on a tracked face (calibrated, smoothed, styled)."""
    from engine.retarget import Retargeter
    from engine.tracking.mediapipe_tracker import MediaPipeTracker

    tracker = MediaPipeTracker(video=False)
    try:
        face = tracker.track(Frame(_scene(640, 480), 0.0, 0))
    finally:
        tracker.close()
    retargeter = Retargeter()
    retargeter.calibrate(face)
    times = []
    for index in range(frames):
        start = time.perf_counter()
        retargeter.update(face, index / FPS)
        times.append(time.perf_counter() - start)
    return _percentiles(times)[0]


def _jitter(smooth: bool, frames: int) -> float:
    from engine.tracking.mediapipe_tracker import MediaPipeTracker

    rng = np.random.default_rng(7)
    image = _scene(640, 480)
    tracker = MediaPipeTracker(smooth_landmarks=smooth)
    tracks = []
    try:
        for index in range(frames + 10):
            face = tracker.track(Frame(_noisy(image, rng), index / FPS, index))
            if index >= 10 and face.found:  # skip the filter's settling
                tracks.append(face.landmarks[:, :2])
    finally:
        tracker.close()
    tracks = np.array(tracks)
    deviation = tracks - tracks.mean(axis=0)
    return float(np.sqrt((deviation ** 2).sum(axis=2).mean()))


def _pose_frames() -> list[np.ndarray]:
    import cv2

    from engine.tracking.media import read_frames

    return [cv2.resize(frame.image, POSE_SIZE, interpolation=cv2.INTER_LINEAR)
            for frame in read_frames(POSE_CLIP, POSE_FRAMES)]


def _timed_loop(frames: list[np.ndarray], seconds: float, *steps,
                minimum: int = 10) -> list[list[float]]:
    """Each of ``steps`` (callables on a Frame) per clip frame in order, interleaved, for at
    least ``seconds`` and ``minimum`` frames; seconds per call, per step."""
    times: list[list[float]] = [[] for _ in steps]
    end = time.perf_counter() + seconds
    index = 0
    while time.perf_counter() < end or index < minimum:
        frame = Frame(frames[index % len(frames)], index / FPS, index)
        for step, spent in zip(steps, times):
            start = time.perf_counter()
            step(frame)
            spent.append(time.perf_counter() - start)
        index += 1
    return times


def _pose(seconds: float) -> dict[str, float]:
    from engine.tracking.mediapipe_tracker import MediaPipeTracker
    from engine.tracking.pose import PoseDetector, model_shipped

    frames = _pose_frames()
    width, height = POSE_SIZE
    figures: dict[str, float] = {"pose_complexity0_shipped": int(model_shipped(0))}
    for complexity in (0, 1):
        if not model_shipped(complexity):
            continue
        detector = PoseDetector(complexity)
        try:
            _timed_loop(frames, 0.0, lambda frame: detector.detect(frame.image), minimum=5)
            (spent,) = _timed_loop(frames, seconds, lambda frame: detector.detect(frame.image))
        finally:
            detector.close()
        p50, p99 = _percentiles(spent)
        figures[f"pose_ms_p50_complexity{complexity}_{width}x{height}"] = round(p50, 2)
        figures[f"pose_ms_p99_complexity{complexity}_{width}x{height}"] = round(p99, 2)
    face_only, with_arms = MediaPipeTracker(), MediaPipeTracker()
    with_arms.set_upper_body(True)
    try:
        _timed_loop(frames, 0.0, face_only.track, with_arms.track, minimum=5)  # warm up
        face_ms, arms_ms = (_percentiles(spent) for spent in
                            _timed_loop(frames, seconds, face_only.track, with_arms.track))
    finally:
        face_only.close()
        with_arms.close()
    figures[f"track_pexels_ms_p50_{width}x{height}"] = round(face_ms[0], 2)
    figures[f"track_pexels_ms_p99_{width}x{height}"] = round(face_ms[1], 2)
    figures[f"track_upper_body_ms_p50_{width}x{height}"] = round(arms_ms[0], 2)
    figures[f"track_upper_body_ms_p99_{width}x{height}"] = round(arms_ms[1], 2)
    figures[f"upper_body_adds_ms_p50_{width}x{height}"] = round(arms_ms[0] - face_ms[0], 2)
    # Interleaved frame by frame, so the ratio holds even when other work slows both.
    figures["upper_body_track_ratio_p50"] = round(arms_ms[0] / face_ms[0], 2)
    return figures


def bench_tracking(seconds: float | None = None) -> dict[str, float]:
    seconds = 4.0 if seconds is None else seconds
    pinned = hasattr(os, "sched_setaffinity")
    if pinned:
        previous = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(previous)})
    try:
        figures: dict[str, float] = {}
        for size in SIZES:
            figures.update(_timing(size, seconds / 2))
        figures.update(_looks(SIZES[-1], seconds / 2))
        figures["retarget_ms_p50"] = round(_retarget_ms(), 3)
        frames = max(30, int(seconds * 15))
        figures["jitter_px_rms_raw"] = round(_jitter(False, frames), 3)
        figures["jitter_px_rms_filtered"] = round(_jitter(True, frames), 3)
        if POSE_CLIP.is_file():
            figures.update(_pose(seconds))
        figures["cpu_cores_used"] = 1 if pinned else os.cpu_count()
    finally:
        if pinned:
            os.sched_setaffinity(0, previous)
    return figures
