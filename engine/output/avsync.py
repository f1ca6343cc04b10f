"""Measuring the recorder's audio/video sync with a clapperboard: flashes and clicks.

The test card (``engine.avatar.testcard``) flashes white every ``flash_every`` frames; the audio
track is a click at exactly the same engine times. Both go through the real loop into the real
recorder (``render_testcard``); ``measure_sync`` then decodes the MP4 with PyAV, finds every
flashed frame and every click onset, pairs each flash with the nearest click and reports the
offsets (positive: the sound comes after the picture). ``persona bench avsync --seconds 600``
does this over a 10-minute recording on the offline clock.

``persona bench avsync-live`` measures the same through the live loop's clocks: the real clock
paces the loop (a sink stalls it on purpose, so slots are dropped), the synthetic camera stamps
each frame with when it was taken, and a ``LiveClapper`` stands where the live voice engine
stands — a microphone on the computer's clock, drained once a frame, that hears a click at the
capture time of each frame the card flashes in. The recorder places both by those stamps, as it
does in a live session (``timing="capture"``).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from engine.avatar.testcard import is_flash, read_code
from engine.capture.synthetic import SyntheticSource
from engine.clock import FrameStats
from engine.config import Settings
from engine.offline import PrecomputedVoice
from engine.output.base import BaseSink, Sink
from engine.types import Frame

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


def click_sound(rate: int = AUDIO_RATE) -> np.ndarray:
    """One click: CLICK_S of a CLICK_HZ tone at 0.8 of full scale, float32."""
    return (0.8 * np.sin(2 * np.pi * CLICK_HZ * np.arange(int(CLICK_S * rate)) / rate)).astype(
        np.float32)


def click_track(seconds: float, fps: float, flash_every: int,
                rate: int = AUDIO_RATE) -> np.ndarray:
    """(n,) float32: silence with a click at the start of every flashed frame."""
    track = np.zeros(int(round(seconds * rate)), np.float32)
    click = click_sound(rate)
    period = flash_every / fps
    for k in range(int(seconds / period) + 1):
        start = int(round(k * period * rate))
        piece = track[start:start + len(click)]
        piece[:] = click[:len(piece)]
    return track


class CameraSource(SyntheticSource):
    """The synthetic camera, triggered by the loop: each time the loop asks it takes a new
    picture, stamped with that moment (``realtime=False``: it never hands the loop a frame
    twice). It keeps the frame it last handed over: the frame the loop draws this step."""

    handed: Frame | None = None

    def __init__(self, size: tuple[int, int], fps: float) -> None:
        super().__init__(size, fps, realtime=False)

    def latest(self) -> Frame | None:
        self.handed = super().latest()
        return self.handed


@dataclass
class LiveClapper(PrecomputedVoice):
    """A microphone on the computer's clock in front of the test card, standing where the live
    voice engine stands: each drain returns the samples of the time since the last one —
    silence, and a click starting at the capture time of the frame drawn this step whenever the
    card flashes in it (every ``flash_every``-th drain, as the card counts its frames). The
    stream starts at the first frame's capture time, where the recorder's time zero is.
    ``delay_s``: the samples reach the loop this long after they were said, as the live voice's
    do after its morph (``record_delay_s``); the click then comes that much later in the stream."""

    camera: CameraSource | None = None
    flash_every: int = 30
    delay_s: float = 0.0
    _start: float | None = field(default=None, init=False)
    _produced: int = field(default=0, init=False)  # samples handed out so far
    _drains: int = field(default=0, init=False)
    _ringing: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), init=False)

    def drain_recorded(self) -> np.ndarray:
        frame, now = self.camera.handed, time.perf_counter()
        if self._start is None:
            self._start = frame.t_capture
        total = int((now - self._start) * self.sample_rate)
        block = np.zeros(max(0, total - self._produced), np.float32)
        if self._drains % self.flash_every == 0:
            # The frame was taken after the last drain (capture comes after the previous
            # frame's output), so its click starts inside this block; what does not fit rings
            # on into the next.
            said = frame.t_capture + self.delay_s - self._start
            at = round(said * self.sample_rate) - self._produced
            self._ringing = np.concatenate([np.zeros(at, np.float32),
                                            click_sound(self.sample_rate)])
        ring = min(len(block), len(self._ringing))
        block[:ring] += self._ringing[:ring]
        self._ringing = self._ringing[ring:]
        self._produced += len(block)
        self._drains += 1
        return np.zeros_like(block) if self._muted else block

    def record_delay_s(self) -> float:
        return self.delay_s


class StallingSink(BaseSink):
    """A consumer that holds the loop for ``stall_s`` every ``every`` frames, as a slow disk or
    a stuck device would: the real clock then drops the slots those frames overran."""

    def __init__(self, every: int, stall_s: float) -> None:
        super().__init__()
        self.every, self.stall_s = every, stall_s

    def _open(self, width: int, height: int, fps: float) -> None:
        pass

    def _write(self, frame) -> None:
        if self.frames_written % self.every == self.every - 1:
            time.sleep(self.stall_s)

    def _close(self) -> None:
        pass


def render_testcard(settings: Settings, folder: Path, sinks: list[Sink], frames: int,
                    flash_every: int, audio: np.ndarray | None = None,
                    live: bool = False, clapper: bool = False,
                    clapper_delay_s: float = 0.0) -> FrameStats:
    """Run ``frames`` frames of the test card through the real loop (synthetic camera) into
    ``sinks`` and return the loop's frame statistics. Offline (the default) the clock advances
    one frame per frame; ``live`` paces it on the real clock, which drops the slots of frames
    that run late, and the camera is triggered by the loop (``CameraSource``). ``audio`` (at
    AUDIO_RATE) plays to the recorders as the voice does in a render; with ``clapper`` (live
    only) a ``LiveClapper`` clicks with the flashes instead, its samples ``clapper_delay_s``
    late as the morphed voice's are."""
    from engine.clock import Clock
    from engine.performer import ScriptedPerformer
    from engine.scenes import Scene
    from engine.session import build_app, offline_clock

    card = write_testcard(folder, flash_every)
    camera = (CameraSource(settings.size, settings.fps) if live
              else SyntheticSource(settings.size, settings.fps, realtime=False))
    session = build_app(settings, source=camera,
                        tracker=ScriptedPerformer(frame_rate=settings.fps), sinks=sinks,
                        clock=Clock(settings.fps) if live else offline_clock(settings.fps),
                        scenes=[Scene("testcard", avatar=str(card))], realtime=live)
    try:
        if audio is not None:
            session.app.voice = PrecomputedVoice(audio, AUDIO_RATE, settings.fps)
        elif clapper:
            session.app.voice = LiveClapper(np.zeros(0, np.float32), AUDIO_RATE, settings.fps,
                                            camera=camera, flash_every=flash_every,
                                            delay_s=clapper_delay_s)
        return session.app.run(max_frames=frames)
    finally:
        session.close()


@dataclass(frozen=True)
class Decoded:
    """What a recording holds, as the sync measurement needs it."""

    frame_times: np.ndarray  # (n,) seconds, the presentation time of each video frame
    codes: list[int | None]  # the test card's frame number in each
    flashes: np.ndarray  # (f,) seconds: when a flash starts (a flashed frame held over
                         # dropped slots is one flash)
    audio: np.ndarray  # (m,) float32 mono
    audio_start: float  # presentation time of audio[0], seconds
    audio_rate: int


def decode_recording(path: Path) -> Decoded:
    """Decode every video frame and the whole audio track of ``path``."""
    times, codes, flashes, chunks = [], [], [], []
    audio_start, rate = None, AUDIO_RATE
    flashed = False
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            image = frame.to_ndarray(format="rgb24")
            times.append(float(frame.time))
            codes.append(read_code(image))
            if is_flash(image) and not flashed:
                flashes.append(float(frame.time))
            flashed = is_flash(image)
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
        "offset_ms_p95_abs": round(float(np.percentile(np.abs(offsets), 95)), 2)
        if len(offsets) else float("nan"),
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


def bench_avsync_live(seconds: float | None = None) -> dict[str, float]:
    """``persona bench avsync-live``: ``seconds`` (default 60) of the flashing test card through
    the live loop on the real clock, the ``LiveClapper`` clicking with each flash, into a live
    recorder (capture timing, as ``record:PATH`` makes it) at 320x180, 30 fps. A sink stalls the
    loop for 0.2 s every 10 s, so slots are dropped on purpose (and more when the machine is
    busy). Figures: the flash-to-click offsets in the MP4, the frame steps in the file, and what
    the loop dropped against what the file repeated."""
    from engine.output.recorder import RecorderSink

    seconds = seconds or 60.0
    frames = int(round(seconds * BENCH_FPS))
    flash_every = int(BENCH_FPS)
    settings = Settings(width=BENCH_SIZE[0], height=BENCH_SIZE[1], fps=BENCH_FPS,
                        source="synthetic", scene="testcard", audit_log=None)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "avsync_live.mp4")
        recorder = RecorderSink(path, audio_rate=AUDIO_RATE, timing="capture")
        stats = render_testcard(settings, Path(folder), [recorder, StallingSink(300, 0.2)],
                                frames, flash_every, live=True, clapper=True)
        decoded = decode_recording(path)
    figures = sync_figures(decoded)
    return {"seconds": seconds, **figures, "loop_frames": float(frames),
            "dropped_slots": float(stats.dropped_frames),
            "frames_repeated": float(recorder.frames_repeated),
            "frames_left_out": float(recorder.frames_left_out),
            "file_seconds": round(len(decoded.frame_times) / BENCH_FPS, 2)}
