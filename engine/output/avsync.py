"""Measuring the recorder's audio/video sync with a clapperboard: flashes and clicks.

The test card (``engine.avatar.testcard``) flashes white every ``flash_every`` frames; the audio
track is a click at exactly the same engine times. Both go through the real loop into the real
recorder (``render_testcard``); ``measure_sync`` then decodes the MP4 with PyAV, finds every
flashed frame and every click onset, pairs each flash with the nearest click and reports the
offsets (positive: the sound comes after the picture). ``persona bench avsync --seconds 600``
does this over a 10-minute recording.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from engine.clock import FrameStats
from engine.config import Settings
from engine.output.base import Sink
from engine.avatar.testcard import is_flash, read_code

CLICK_S = 0.005  # each click: 5 ms of a 3 kHz tone, loud against silence
CLICK_HZ = 3000.0
_ONSET_LEVEL = 0.25  # of full scale; a click peaks at 0.8
AUDIO_RATE = 48000
BENCH_SIZE = (320, 180)
BENCH_FPS = 30.0


def write_testcard(folder: Path, flash_every: int) -> Path:
    """An avatar folder ``folder/testcard`` of the test card kind; returns its path."""
    card = folder / "testcard"
    card.mkdir(parents=True, exist_ok=True)
    (card / "avatar.toml").write_text(
        f'kind = "testcard"\nflash_every = {flash_every}\n\n[consent]\nlikeness = "synthetic"\n',
        encoding="utf-8")
    return card


def click_track(seconds: float, fps: float, flash_every: int,
                rate: int = AUDIO_RATE) -> np.ndarray:
    """(n,) float32: silence with a click at the start of every flashed frame."""
    track = np.zeros(int(round(seconds * rate)), np.float32)
    click = 0.8 * np.sin(2 * np.pi * CLICK_HZ * np.arange(int(CLICK_S * rate)) / rate)
    period = flash_every / fps
    for k in range(int(seconds / period) + 1):
        start = int(round(k * period * rate))
        piece = track[start:start + len(click)]
        piece[:] = click[:len(piece)]
    return track


def render_testcard(settings: Settings, folder: Path, sinks: list[Sink], frames: int,
                    flash_every: int, audio: np.ndarray | None = None,
                    live: bool = False) -> FrameStats:
    """Run ``frames`` frames of the test card through the real loop (synthetic camera) into
    ``sinks`` and return the loop's frame statistics. Offline (the default) the clock advances
    one frame per frame; ``live`` paces it on the real clock, which drops the slots of frames
    that run late. ``audio`` (at AUDIO_RATE) plays to the recorders as the voice does in a
    render."""
    from engine.capture.synthetic import SyntheticSource
    from engine.clock import Clock
    from engine.offline import PrecomputedVoice
    from engine.performer import ScriptedPerformer
    from engine.scenes import Scene
    from engine.session import build_app, offline_clock

    card = write_testcard(folder, flash_every)
    session = build_app(settings, source=SyntheticSource(settings.size, settings.fps,
                                                         realtime=live),
                        tracker=ScriptedPerformer(frame_rate=settings.fps), sinks=sinks,
                        clock=Clock(settings.fps) if live else offline_clock(settings.fps),
                        scenes=[Scene("testcard", avatar=str(card))], realtime=live)
    try:
        if audio is not None:
            session.app.voice = PrecomputedVoice(audio, AUDIO_RATE, settings.fps)
        return session.app.run(max_frames=frames)
    finally:
        session.close()


@dataclass(frozen=True)
class Decoded:
    """What a recording holds, as the sync measurement needs it."""

    frame_times: np.ndarray  # (n,) seconds, the presentation time of each video frame
    codes: list[int | None]  # the test card's frame number in each
    flashes: np.ndarray  # (f,) seconds: times of the flashed frames
    audio: np.ndarray  # (m,) float32 mono
    audio_start: float  # presentation time of audio[0], seconds
    audio_rate: int


def decode_recording(path: Path) -> Decoded:
    """Decode every video frame and the whole audio track of ``path``."""
    times, codes, flashes, chunks = [], [], [], []
    audio_start, rate = None, AUDIO_RATE
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            image = frame.to_ndarray(format="rgb24")
            times.append(float(frame.time))
            codes.append(read_code(image))
            if is_flash(image):
                flashes.append(float(frame.time))
    with av.open(str(path)) as container:
        if container.streams.audio:
            for frame in container.decode(audio=0):
                if audio_start is None:
                    audio_start, rate = float(frame.time), frame.sample_rate
                chunks.append(frame.to_ndarray().reshape(-1).astype(np.float32))
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return Decoded(np.array(times), codes, np.array(flashes), audio, audio_start or 0.0, rate)


def click_onsets(audio: np.ndarray, rate: int, start: float = 0.0) -> np.ndarray:
    """Times (seconds, ``start`` being the time of ``audio[0]``) where a click begins: the first
    sample above the onset level after at least 50 ms below it."""
    loud = np.flatnonzero(np.abs(audio) > _ONSET_LEVEL)
    if not len(loud):
        return np.zeros(0)
    gap = int(0.05 * rate)
    first = loud[np.concatenate([[True], np.diff(loud) > gap])]
    return start + first / rate


def sync_offsets(flashes: np.ndarray, clicks: np.ndarray) -> np.ndarray:
    """For each flash, the nearest click's time minus the flash's (seconds)."""
    if not len(flashes) or not len(clicks):
        return np.zeros(0)
    nearest = np.abs(clicks[None, :] - flashes[:, None]).argmin(axis=1)
    return clicks[nearest] - flashes


def sync_figures(decoded: Decoded) -> dict[str, float]:
    """The sync figures of a decoded test card recording, in milliseconds."""
    clicks = click_onsets(decoded.audio, decoded.audio_rate, decoded.audio_start)
    offsets = sync_offsets(decoded.flashes, clicks) * 1e3
    steps = np.diff(decoded.frame_times)
    return {
        "video_frames": float(len(decoded.frame_times)),
        "flashes": float(len(decoded.flashes)),
        "clicks": float(len(clicks)),
        "offset_ms_mean": round(float(offsets.mean()), 2) if len(offsets) else float("nan"),
        "offset_ms_max_abs": round(float(np.abs(offsets).max()), 2) if len(offsets)
        else float("nan"),
        "offset_ms_first": round(float(offsets[0]), 2) if len(offsets) else float("nan"),
        "offset_ms_last": round(float(offsets[-1]), 2) if len(offsets) else float("nan"),
        "frame_step_ms_min": round(float(steps.min()) * 1e3, 3) if len(steps) else float("nan"),
        "frame_step_ms_max": round(float(steps.max()) * 1e3, 3) if len(steps) else float("nan"),
    }


def bench_avsync(seconds: float | None = None) -> dict[str, float]:
    """``persona bench avsync``: record ``seconds`` (default 60) of the flashing test card with
    its click track at 320x180, 30 fps, through the loop and the recorder, and measure sync."""
    from engine.output.recorder import RecorderSink

    seconds = seconds or 60.0
    frames = int(round(seconds * BENCH_FPS))
    flash_every = int(BENCH_FPS)  # one flash and click a second
    settings = Settings(width=BENCH_SIZE[0], height=BENCH_SIZE[1], fps=BENCH_FPS,
                        source="synthetic", scene="testcard", audit_log=None)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "avsync.mp4")
        started = time.perf_counter()
        render_testcard(settings, Path(folder), [RecorderSink(path, audio_rate=AUDIO_RATE)],
                        frames, flash_every,
                        click_track(seconds + 1.0, BENCH_FPS, flash_every))
        render_s = time.perf_counter() - started
        figures = sync_figures(decode_recording(path))
    return {"seconds": seconds, **figures, "render_s": round(render_s, 1)}
