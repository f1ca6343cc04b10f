"""The doctor's end-to-end voice check: a quiet test tone played on the output device the voice
morph would open, recorded back with ``parec`` from the source a meeting app would record.

It proves what configuration alone cannot: that the sound Persona produces reaches the virtual
microphone (environment variables, stream moves remembered by the server, PipeWire's routing
all take part). What the recording holds around the tone tells whether something else plays
into the microphone too.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from dataclasses import dataclass

import numpy as np

from engine.doctor.findings import within
from engine.errors import DeviceError

RATE = 48000
TONE_HZ = 1000.0  # exactly 10 periods per 10 ms analysis frame
TONE_S = 0.5
AMPLITUDE = 0.05  # -26 dBFS: quiet, in case someone is already listening
FRAME = RATE // 100
SETTLE_S = 0.4  # parec connects and starts delivering before the tone is played
TAIL_S = 0.5
PLAY_TIMEOUT_S = 5.0
COLLECT_S = 2.0  # after playing, how long the recording may take to bring the tone back
QUIET_FRAMES = 10  # frames without the tone needed to measure what else plays
# Most of the tone's frames must come back: a click or a stray burst is not the tone.
MIN_TONE_FRAMES = int(0.6 * TONE_S * 100)


@dataclass(frozen=True)
class ToneResult:
    arrived: bool
    tone_db: float  # level of the tone found in the recording (-120 when none)
    other_db: float | None  # level of everything around the tone (None: not measured)


def parec_available() -> bool:
    return shutil.which("parec") is not None


def tone() -> np.ndarray:
    t = np.arange(int(TONE_S * RATE)) / RATE
    fade = np.minimum(1.0, np.minimum(t, TONE_S - t) / 0.01)  # no clicks to smear the spectrum
    return (AMPLITUDE * fade * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)


class Recorder:
    """``parec`` recording ``source`` into memory on a reader thread, as its data comes.

    Sources deliver in chunks of their own size (a remap source may hold back a quarter of a
    second, and delivers nothing while its sink is idle), so the recording is read until the
    tone and some quiet after it are in, not for a fixed time.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._process = subprocess.Popen(
            ["parec", f"--device={source}", "--raw", "--format=float32le", f"--rate={RATE}",
             "--channels=1", "--latency-msec=20"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="doctor: parec", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for chunk in iter(lambda: self._process.stdout.read1(1 << 16), b""):
            with self._lock:
                self._chunks.append(chunk)

    def samples(self) -> np.ndarray:
        with self._lock:
            data = b"".join(self._chunks)
        return np.frombuffer(data[:len(data) // 4 * 4], np.float32)

    def stop(self) -> np.ndarray:
        self._process.terminate()
        try:
            _, errors = self._process.communicate(timeout=2.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            _, errors = self._process.communicate()
        self._reader.join(timeout=2.0)
        samples = self.samples()
        if not len(samples) and errors:
            raise DeviceError(f"parec could not record {self.source}: "
                              f"{errors.decode(errors='replace').strip()}")
        return samples


def round_trip(output_device: int | None, source: str) -> ToneResult:
    """Play the tone on ``output_device`` (None: the default) and record ``source``."""
    import sounddevice as sd

    recorder = Recorder(source)
    try:
        time.sleep(SETTLE_S)
        # Silence after the tone: a stream that stops may drop what is still in the driver's
        # buffer (ALSA's pulse device drops a quarter of a second).
        played = np.concatenate([tone(), np.zeros(int(TAIL_S * RATE), np.float32)])
        within(PLAY_TIMEOUT_S, lambda: sd.play(played, RATE, device=output_device,
                                               blocking=True), "the audio output")
        deadline = time.monotonic() + COLLECT_S
        while time.monotonic() < deadline and not _complete(recorder.samples()):
            time.sleep(0.1)
    except sd.PortAudioError as error:
        raise DeviceError(f"the audio output would not play: {error}") from error
    finally:
        samples = recorder.stop()
    return analyse(samples)


def _complete(samples: np.ndarray) -> bool:
    """The tone is in (a source that starts on sound may cut its beginning) and has ended,
    with enough quiet after it to measure."""
    frames, present = _tone_frames(samples)
    return len(present) >= MIN_TONE_FRAMES and len(frames) - present[-1] > QUIET_FRAMES


def analyse(samples: np.ndarray) -> ToneResult:
    """Find the tone frame by frame (its amplitude at TONE_HZ) and measure what surrounds it."""
    frames, present = _tone_frames(samples)
    if not len(frames):
        return ToneResult(False, -120.0, None)
    arrived = len(present) >= MIN_TONE_FRAMES
    tone_db = _db(float(np.median(_amplitude(frames[present]))) / np.sqrt(2)) if arrived \
        else -120.0
    if arrived:  # the frames on either side of the tone, two frames clear of its fades
        outside = np.r_[frames[:max(0, present[0] - 2)], frames[present[-1] + 3:]]
    else:
        outside = frames
    other_db = (_db(float(np.sqrt(np.mean(np.square(outside)))))
                if len(outside) >= QUIET_FRAMES else None)
    return ToneResult(arrived, tone_db, other_db)


def _tone_frames(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The recording in 10 ms frames, and the indices of those that hold the tone."""
    frames = samples[:len(samples) // FRAME * FRAME].reshape(-1, FRAME).astype(np.float64)
    return frames, np.flatnonzero(_amplitude(frames) > AMPLITUDE / 2)


def _amplitude(frames: np.ndarray) -> np.ndarray:
    """Each frame's amplitude at TONE_HZ. The Hann window keeps other sound (a voice, another
    tone) from leaking into the tone's bin."""
    window = np.hanning(FRAME)
    phase = 2 * np.pi * TONE_HZ * np.arange(FRAME) / RATE
    return 2.0 / window.sum() * np.hypot(frames @ (window * np.cos(phase)),
                                         frames @ (window * np.sin(phase)))


def _db(rms: float) -> float:
    return round(max(-120.0, 20.0 * np.log10(rms + 1e-12)), 1)
