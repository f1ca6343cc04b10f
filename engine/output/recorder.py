"""Recordings with PyAV: H.264 MP4, or the avatar over transparency for compositing.

The file's name chooses what is written (``RECORDINGS``):

    PATH.mp4   H.264 4:2:0 (yuv420p, the only H.264 layout every player decodes) with AAC voice
    PATH.webm  VP9 with alpha (libvpx-vp9, yuva420p): small, plays in browsers and OBS; video
               only. Decode it with the libvpx decoder (FFmpeg's own VP9 decoder drops alpha)
    PATH.mov   ProRes 4444 (prores_ks, yuva444p10le) with AAC voice: what editors import

The transparent kinds take the compositor's premultiplied RGBA frames (``channels = 4``; the
session then clears scenes to transparent black) and write straight alpha, as codecs carry it.
Audio blocks are cut into the AAC encoder's 1024-sample frames; their timestamps count
samples, video timestamps count frames, and both start at the first video frame, so the tracks
stay in sync for as long as the two feeds are honest about time:

- ``timing="frames"`` (offline renders): every written frame is exactly 1/fps long and audio is
  assumed continuous from the first frame.
- ``timing="capture"`` (live recording): a frame's time is its ``t_capture``; a slot the loop
  dropped is filled by repeating the frame before it, so the video keeps its length and a
  constant frame rate (editors and players mis-sync variable-rate MP4s), and audio blocks are
  placed by ``AudioBlock.t`` — silence fills gaps, overlaps are trimmed — so lost audio or lost
  frames never slide one track against the other. A second frame for a slot already written
  (the loop drew again before the camera had a new picture, or caught up after a late frame)
  is left out (``frames_left_out``): bumped to the next slot it would make every later frame a
  slot late — 33 ms behind the sound at 30 fps — until the next gap (measured:
  ``persona bench avsync-live``). Frames that come faster than real time all the same (a fake
  clock) are all kept, one slot each.

Given ``stream`` (a binary file-like object) instead of a path, the recorder writes fragmented
MP4 or MOV (``frag_keyframe+empty_moov``; WebM needs nothing): it never seeks back, so the
stream can be an encrypting writer or a socket. ``kind`` then names the format (the suffix).

Encoding runs on a thread of its own. Measured at 1280x720 on two cores: libx264 ultrafast
keeps up with a live loop; VP9 with alpha and ProRes 4444 do not (docs/outputs.md has the
figures), so a live transparent recording there keeps fewer distinct frames than the loop
draws, each held for the slots it missed (``write``, below).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO, Literal

import av
import numpy as np

from engine.errors import ConfigError, SinkError
from engine.output.base import BaseSink
from engine.output.yuv import rgb_to_i420
from engine.types import AudioBlock, Frame

log = logging.getLogger(__name__)

_AAC_FRAME = 1024  # samples per AAC frame
# Audio timestamps closer than this to where the track already is are taken as jitter, not gaps.
_AUDIO_SLACK_SECONDS = 0.04
# Clock drift within the slack (``RecorderSink._follow_drift``): the weight of each block's
# offset in the running average (about 3 s at 30 blocks a second: the jitter of the loop's
# frame times averages out), the average left alone, and the most taken off per block.
_DRIFT_WEIGHT = 0.01
_DRIFT_DEADBAND_S = 0.002
_DRIFT_STEP_S = 0.0005
_AUDIO_BIT_RATE = 128_000
# Frames waiting for the encoder thread; beyond this an offline render's ``write`` waits (it
# drops nothing) and a live one's leaves the frame out (``RecorderSink._write``).
_QUEUE_FRAMES = 8


@dataclass(frozen=True)
class Recording:
    """What one file suffix records: container, video encoder and layout, and whether the
    frames carry alpha and the file a voice track."""

    container: str
    codec: str
    pix_fmt: str
    options: dict[str, str]
    alpha: bool
    audio: bool


RECORDINGS: dict[str, Recording] = {
    # libx264's crf/preset are the sink's (``RecorderSink``): renders afford a slower preset.
    ".mp4": Recording("mp4", "libx264", "yuv420p", {}, alpha=False, audio=True),
    # auto-alt-ref off: libvpx refuses alternate reference frames together with alpha.
    ".webm": Recording("webm", "libvpx-vp9", "yuva420p",
                       {"auto-alt-ref": "0", "crf": "30", "b": "0", "deadline": "realtime",
                        "cpu-used": "8", "row-mt": "1"}, alpha=True, audio=False),
    ".mov": Recording("mov", "prores_ks", "yuva444p10le", {"profile": "4444", "vendor": "apl0"},
                      alpha=True, audio=True),
}


def recording_kind(name: str | os.PathLike) -> str | None:
    """The ``RECORDINGS`` suffix ``name`` ends in, or None."""
    suffix = os.path.splitext(str(name))[1].lower()
    return suffix if suffix in RECORDINGS else None


class RecorderSink(BaseSink):
    """Writes a recording (``RECORDINGS``, chosen by ``kind`` or else ``path``'s suffix; MP4
    for any other name) to ``path`` or, fragmented, to ``stream``.

    ``audio_rate`` (Hz) adds a mono AAC track fed by ``write_audio``; without it the file has
    video only. ``write`` and ``write_audio`` may be called from different threads. Encoding
    runs on a thread of its own, so ``write`` costs the caller a colour conversion and a queue
    hand-over. When the encoder falls more than a few frames behind, an offline render's
    ``write`` waits (it drops nothing) and a live one's leaves the frame out
    (``frames_behind``; its slot repeats the frame before). ``write_audio`` may wait, so feed
    it from a worker, never the audio callback.
    ``preset`` is libx264's speed/size trade: the default, ultrafast, is the one that keeps up
    with a live 720p loop on two cores (about 4x faster than veryfast, larger files); offline
    renders can afford "veryfast" or "medium". The transparent kinds have ``channels = 4``.
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        stream: BinaryIO | None = None,
        audio_rate: int | None = None,
        timing: Literal["frames", "capture"] = "frames",
        crf: int = 20,
        preset: str = "ultrafast",
        kind: str | None = None,
    ) -> None:
        super().__init__()
        if (path is None) == (stream is None):
            raise ValueError("give exactly one of path or stream")
        kind = kind or (recording_kind(path) if path is not None else None) or ".mp4"
        if kind not in RECORDINGS:
            raise ConfigError(f"{path or '<stream>'}: a recording is one of "
                              f"{', '.join(RECORDINGS)}, not {kind!r}")
        self.recording = RECORDINGS[kind]
        self.channels = 4 if self.recording.alpha else 3
        if not self.recording.audio:
            audio_rate = None  # WebM here is the picture alone
        if timing not in ("frames", "capture"):
            raise ValueError(f"timing must be 'frames' or 'capture', got {timing!r}")
        if audio_rate is not None and not (8000 <= audio_rate <= 96000):
            raise ValueError(f"audio_rate must be 8000..96000 Hz, got {audio_rate}")
        self.path = None if path is None else str(path)
        self.stream = stream
        self.audio_rate = audio_rate
        self.timing = timing
        self.crf = crf
        self.preset = preset
        self._lock = threading.Lock()
        self._container = None
        self._video = None
        self._audio = None
        self._rate = Fraction(30)
        self._t0: float | None = None  # capture time of the first frame: time zero of the file
        self._last_pts = -1
        self.frames_repeated = 0  # dropped slots filled with the frame before them (capture timing)
        self.frames_left_out = 0  # frames that had no slot of their own (capture timing)
        self.frames_behind = 0  # frames not taken while the encoder caught up (capture timing)
        self._latest_slot = -1  # the latest slot a frame came for, taken or not
        self._on_time = True  # capture timing: the last frame is at its own slot
        self._last_planes: np.ndarray | None = None
        self._audio_pending = np.zeros(0, np.float32)
        self._audio_pts = 0  # samples handed to the encoder so far
        self._drift = 0.0  # running average of the audio offset within the slack, in samples
        self._work: queue.Queue = queue.Queue(_QUEUE_FRAMES)
        self._encoder: threading.Thread | None = None
        self._failure: Exception | None = None  # what stopped the encoder thread, if anything
        self._failure_reported = False

    @property
    def target(self) -> str:
        return self.path or "<stream>"

    @property
    def failure(self) -> Exception | None:
        """What stopped the encoder, if anything: the file then lacks what came after it. The
        error is raised once from ``write``; this says so for as long as the sink lives."""
        return self._failure

    def _open(self, width: int, height: int, fps: float) -> None:
        recording = self.recording
        if width % 2 or height % 2:
            raise SinkError(
                f"recorder {self.target}: {recording.codec} {recording.pix_fmt} needs even "
                f"width and height, got {width}x{height}"
            )
        self._rate = Fraction(fps).limit_denominator(1001)
        seeks_back = recording.container in ("mp4", "mov")  # the index goes at the front/end
        try:
            if self.stream is not None:
                options = ({"movflags": "frag_keyframe+empty_moov+default_base_moof"}
                           if seeks_back else {})
                container = av.open(self.stream, mode="w", format=recording.container,
                                    options=options)
            else:
                options = {"movflags": "+faststart"} if seeks_back else {}
                container = av.open(self.path, mode="w", format=recording.container,
                                    options=options)
        except (OSError, av.FFmpegError) as error:
            raise SinkError(f"recorder: cannot write {self.target}: {error}") from error
        try:
            video = container.add_stream(recording.codec, rate=self._rate)
            video.width, video.height = width, height
            video.pix_fmt = recording.pix_fmt
            video.time_base = 1 / self._rate
            options = dict(recording.options)
            if recording.codec == "libx264":  # the sink's own speed/size trade
                options.update(crf=str(self.crf), preset=self.preset)
            video.options = options
            if self.audio_rate is not None:
                audio = container.add_stream("aac", rate=self.audio_rate)
                audio.layout = "mono"
                audio.format = "fltp"
                audio.bit_rate = _AUDIO_BIT_RATE
                audio.time_base = Fraction(1, self.audio_rate)
                self._audio = audio
        except Exception:
            container.close()
            raise
        self._container, self._video = container, video
        self._encoder = threading.Thread(target=self._encode_loop, name="recorder", daemon=True)
        self._encoder.start()

    def _write(self, frame: Frame) -> None:
        self._check_encoder()
        if self._failure is not None:
            return
        if self.timing == "capture" and self._work.qsize() >= _QUEUE_FRAMES - 1:
            # The encoder is behind (VP9 or ProRes at 720p on a small machine): a live loop
            # never waits for its recording. The slot is filled by repeating the frame before
            # it, as a slot the loop dropped is (at the end, by ``close``). Frames faster than
            # real time (a fake clock) have no slot of their own: they wait, and all stay.
            slot = round((frame.t_capture - self._t0) * self._rate)
            if slot > self._last_pts:
                self.frames_behind += 1
                self._latest_slot = max(self._latest_slot, slot)
                return
        # A new array either way: the caller may reuse frame.image. Alpha is made straight on
        # the encoder's thread: on the loop's it took a third of a 720p frame.
        planes = frame.image.copy() if self.recording.alpha else rgb_to_i420(frame.image)
        with self._lock:
            if self._t0 is None:
                self._t0 = frame.t_capture
            if self.timing == "frames":
                self._place_video(planes, self._last_pts + 1)
                return
            slot = round((frame.t_capture - self._t0) * self._rate)
            if slot <= self._last_pts and self._on_time and self._last_pts > 0:
                # A second frame for a slot already written (the loop drew again before the
                # camera had a new picture, or caught up after a late frame): left out. Pushed
                # to the next slot it would make every later frame a slot late until the next
                # gap, 33 ms behind the sound at 30 fps.
                self.frames_left_out += 1
                return
            # Frames that come faster than real time all the same (a fake clock) all stay.
            self._on_time = slot > self._last_pts
            self._place_video(planes, slot)

    def _place_video(self, planes: np.ndarray, pts: int) -> None:
        """Queue a frame at ``pts`` (or the next free slot), filling the slots before it."""
        pts = max(pts, self._last_pts + 1)  # a stalled clock must not repeat a pts
        if pts > self._last_pts + 1 and self._last_pts >= 0:
            # One queue item however long the gap: the encoder thread repeats the frame.
            self._work.put(("repeat", self._last_planes, self._last_pts + 1,
                            pts - self._last_pts - 1))
            self.frames_repeated += pts - self._last_pts - 1
        self._last_pts = pts
        self._last_planes = planes
        self._work.put(("video", planes, pts))

    def write_audio(self, block: AudioBlock) -> None:
        """Append a block of mono float32 samples at ``audio_rate``."""
        if self._audio is None:
            raise RuntimeError(f"{self!r} was made without audio_rate; it has no audio track")
        samples = block.samples
        if not isinstance(samples, np.ndarray) or samples.dtype != np.float32:
            raise TypeError("AudioBlock.samples must be a float32 numpy array")
        if samples.ndim != 1:
            raise ValueError(f"AudioBlock.samples must be mono (n,), got shape {samples.shape}")
        if block.sample_rate != self.audio_rate:
            raise ValueError(
                f"audio block is {block.sample_rate} Hz; the recorder was opened at "
                f"{self.audio_rate} Hz"
            )
        self._check_encoder()
        with self._lock:
            if not self.is_open or self._t0 is None:
                return  # time zero is the first video frame: earlier audio has no place
            samples = self._place(samples, block.t)
            self._audio_pending = np.concatenate([self._audio_pending, samples])
            whole = len(self._audio_pending) // _AAC_FRAME * _AAC_FRAME
            for start in range(0, whole, _AAC_FRAME):
                self._queue_audio(self._audio_pending[start:start + _AAC_FRAME])
            self._audio_pending = self._audio_pending[whole:]

    def _queue_audio(self, samples: np.ndarray) -> None:
        self._work.put(("audio", samples, self._audio_pts))
        self._audio_pts += len(samples)

    def _place(self, samples: np.ndarray, t: float) -> np.ndarray:
        """In capture timing, pad or trim ``samples`` so that they start at time ``t``."""
        if self.timing != "capture":
            return samples
        written = self._audio_pts + len(self._audio_pending)
        offset = round((t - self._t0) * self.audio_rate) - written
        # Slack is for the jitter of a running stream; the first samples are placed exactly
        # (nothing written yet: a block wholly trimmed away leaves the next one to be).
        if written and abs(offset) <= _AUDIO_SLACK_SECONDS * self.audio_rate:
            return self._follow_drift(samples, offset)
        self._drift = 0.0
        if offset > 0:
            return np.concatenate([np.zeros(offset, np.float32), samples])
        return samples[-offset:]

    def _follow_drift(self, samples: np.ndarray, offset: int) -> np.ndarray:
        """A microphone's clock runs a little fast or slow against the computer's (50–100 ppm is
        common: 30–60 ms over ten minutes), which moves the offsets' average; jitter does not.
        The average is followed slowly and, once it exceeds ``_DRIFT_DEADBAND_S``, taken off a
        few samples a block (at most ``_DRIFT_STEP_S``: a sample repeated or dropped here and
        there, not a jump of the whole slack)."""
        self._drift += _DRIFT_WEIGHT * (offset - self._drift)
        if abs(self._drift) < _DRIFT_DEADBAND_S * self.audio_rate or not len(samples):
            return samples
        most = max(1, round(_DRIFT_STEP_S * self.audio_rate))
        step = int(np.clip(round(self._drift), -most, most))
        self._drift -= step
        if step > 0:  # the track is behind its times: the block's first sample, repeated
            return np.concatenate([np.full(step, samples[0], np.float32), samples])
        return samples[-step:]

    def _check_encoder(self) -> None:
        if self._failure is not None and not self._failure_reported:
            self._failure_reported = True  # said once; later writes are dropped quietly
            raise SinkError(f"recorder {self.target} failed: {self._failure}")

    def _encode_loop(self) -> None:
        """The encoder thread: the only user of the container until ``close`` joins it."""
        while (item := self._work.get()) is not None:
            if self._failure is not None:
                continue  # keep draining so that writers never block on a dead encoder
            try:
                self._encode(*item)
            except Exception as error:  # an encoder or disk error ends the recording
                log.error("recorder %s stopped: %s", self.target, error)
                self._failure = error

    def _encode(self, kind: str, data: np.ndarray, pts: int, count: int = 1) -> None:
        if kind in ("video", "repeat"):
            if self.recording.alpha:
                frame = av.VideoFrame.from_ndarray(straight_alpha(data), format="rgba")
            else:
                frame = av.VideoFrame.from_ndarray(data, format="yuv420p")
            for n in range(count):
                frame.pts = pts + n
                self._container.mux(self._video.encode(frame))
            return
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(data).reshape(1, -1), format="fltp", layout="mono"
        )
        frame.sample_rate = self.audio_rate
        frame.pts = pts
        frame.time_base = Fraction(1, self.audio_rate)
        self._container.mux(self._audio.encode(frame))

    def _close(self) -> None:
        with self._lock:
            if self._latest_slot > self._last_pts >= 0:  # the last frames came while behind
                self._work.put(("repeat", self._last_planes, self._last_pts + 1,
                                self._latest_slot - self._last_pts))
                self.frames_repeated += self._latest_slot - self._last_pts
            if self._audio is not None and len(self._audio_pending):
                self._queue_audio(self._audio_pending)  # AAC allows a short last frame
                self._audio_pending = self._audio_pending[:0]
            self._work.put(None)
        self._encoder.join()
        try:
            if self._failure is None:
                if self._audio is not None:
                    self._container.mux(self._audio.encode(None))
                self._container.mux(self._video.encode(None))
        finally:
            self._container.close()
        if self.frames_behind:  # said once, at the end: the file is complete but coarser
            log.warning("recorder %s: %d of %d frames were left out while the %s encoder caught "
                        "up (each slot holds the frame before); a smaller --size keeps more",
                        self.target, self.frames_behind, self.frames_written,
                        self.recording.codec)
        self._check_encoder()

    def __repr__(self) -> str:
        return f"RecorderSink({self.target!r})"


def straight_alpha(rgba: np.ndarray) -> np.ndarray:
    """Premultiplied (H, W, 4) uint8 RGBA → straight alpha, as a new array. Fully transparent
    pixels become transparent black (OpenCV's division gives 0 for a 0 divisor)."""
    import cv2

    alpha = np.ascontiguousarray(rgba[..., 3])
    rgb = cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)
    straight = cv2.divide(rgb, cv2.merge([alpha, alpha, alpha]), scale=255.0)
    return cv2.merge([straight, alpha])
