"""The doctor's end-to-end voice check: a quiet test tone played on the output device the voice
morph would open, recorded back with ``parec`` from the source a meeting app would record.

It proves what configuration alone cannot: that the sound Persona produces reaches the virtual
microphone (environment variables, stream moves remembered by the server, PipeWire's routing
all take part). What the recording holds around the tone tells whether something else plays
into the microphone too. (A remap source delivers nothing while its sink is idle, so the
recording may start with the tone; the quiet after it is measured as well.)
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass

import numpy as np

from engine.doctor_findings import within
from engine.errors import DeviceError

RATE = 48000
TONE_HZ = 1000.0  # exactly 10 periods per 10 ms analysis frame
TONE_S = 0.5
AMPLITUDE = 0.05  # -26 dBFS: quiet, in case someone is already listening
FRAME = RATE // 100
SETTLE_S = 0.4  # parec connects and starts delivering before the tone is played
PLAY_TIMEOUT_S = 5.0


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


def round_trip(output_device: int | None, source: str) -> ToneResult:
    """Play the tone on ``output_device`` (None: the default) and record ``source``."""
    import sounddevice as sd

    recorder = subprocess.Popen(
        ["parec", f"--device={source}", "--raw", "--format=float32le", f"--rate={RATE}",
         "--channels=1", "--latency-msec=20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(SETTLE_S)
        within(PLAY_TIMEOUT_S, lambda: sd.play(tone(), RATE, device=output_device,
                                               blocking=True), "the audio output")
        time.sleep(SETTLE_S)
    except sd.PortAudioError as error:
        raise DeviceError(f"the audio output would not play: {error}") from error
    finally:
        recorder.terminate()
        try:
            recorded, errors = recorder.communicate(timeout=2.0)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorded, errors = recorder.communicate()
    samples = np.frombuffer(recorded[:len(recorded) // 4 * 4], np.float32)
    if not len(samples) and errors:
        raise DeviceError(f"parec could not record {source}: {errors.decode().strip()}")
    return analyse(samples)


def analyse(samples: np.ndarray) -> ToneResult:
    """Find the tone frame by frame (its amplitude at TONE_HZ) and measure what surrounds it."""
    frames = samples[:len(samples) // FRAME * FRAME].reshape(-1, FRAME).astype(np.float64)
    if not len(frames):
        return ToneResult(False, -120.0, None)
    # A Hann window keeps other sound (a voice, another tone) from leaking into the tone's bin.
    window = np.hanning(FRAME)
    phase = 2 * np.pi * TONE_HZ * np.arange(FRAME) / RATE
    amplitude = 2.0 / window.sum() * np.hypot(frames @ (window * np.cos(phase)),
                                              frames @ (window * np.sin(phase)))
    present = np.flatnonzero(amplitude > AMPLITUDE / 2)
    # Most of the tone's frames must be there: a click or a stray burst is not the tone.
    arrived = len(present) >= 0.6 * TONE_S * 100
    tone_db = _db(float(np.median(amplitude[present])) / np.sqrt(2)) if arrived else -120.0
    if arrived:  # the frames on either side of the tone, two frames clear of its fades
        outside = np.r_[frames[:max(0, present[0] - 2)], frames[present[-1] + 3:]]
    else:
        outside = frames
    other_db = _db(float(np.sqrt(np.mean(np.square(outside))))) if len(outside) >= 10 else None
    return ToneResult(arrived, tone_db, other_db)


def _db(rms: float) -> float:
    return round(max(-120.0, 20.0 * np.log10(rms + 1e-12)), 1)
