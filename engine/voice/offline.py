"""Files through the live voice chain: ``persona voice convert`` and the recorder's helpers.

``convert`` feeds the file through ``VoiceMorph`` in the same hop-sized blocks the live worker
uses, then drops the chain's latency, so a converted file is sample for sample what a listener
would have heard live (up to the noise generator's seed).
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from engine.errors import AssetError, ConfigError
from engine.safety import regular_file
from engine.voice.presets import VoicePreset
from engine.voice.stream import VoiceMorph

MAX_WAV_SECONDS = 3600.0
# An hour of 48 kHz stereo 16-bit is 691 MB; the whole file is read before it is decoded.
MAX_WAV_BYTES = 768 * 1024 * 1024
MIN_RATE, MAX_RATE = 8000, 192000


def convert(samples: np.ndarray, sample_rate: int, preset: VoicePreset, seed: int = 0,
            block: int | None = None) -> np.ndarray:
    """``samples`` (mono float) morphed with ``preset``, same length, no added delay."""
    morph = VoiceMorph(sample_rate, preset, seed=seed)
    block = block or live_block_size(morph)
    x = np.concatenate([np.asarray(samples, np.float32),
                        np.zeros(morph.latency_samples, np.float32)])
    out = [morph.process(x[i:i + block]) for i in range(0, len(x), block)]
    return np.concatenate(out)[morph.latency_samples:morph.latency_samples + len(samples)]


def live_block_size(morph: VoiceMorph) -> int:
    """The device-rate block the live worker hands to ``process``: one hop."""
    return int(round(morph.hop * morph.sample_rate / morph.internal_rate))


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] and the sample rate from a PCM or float WAV file: the one
    reader of audio files. AssetError naming the file when it is not a regular file, too large
    or long, empty, at a rate outside 8–192 kHz, or not a WAV file."""
    from scipy.io import wavfile

    path = Path(path)
    raw = regular_file.read_bytes(path, MAX_WAV_BYTES,
                                  lambda reason: AssetError(f"{path}: audio file: {reason}"))
    try:
        rate, data = wavfile.read(io.BytesIO(raw), mmap=False)
    except (ValueError, OSError, EOFError) as error:
        raise AssetError(f"{path}: not a readable WAV file ({error})") from error
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AssetError(f"{path}: sample rate {rate} Hz is outside 8–192 kHz")
    if data.ndim == 2:
        data = data.mean(axis=1) if data.dtype.kind == "f" else data.astype(np.float64).mean(1)
    if len(data) == 0:
        raise AssetError(f"{path}: holds no audio (0 samples)")
    if len(data) > MAX_WAV_SECONDS * rate:
        raise AssetError(f"{path}: longer than {MAX_WAV_SECONDS:.0f} s")
    if data.dtype == np.uint8:
        samples = (data.astype(np.float32) - 128.0) / 128.0
    elif data.dtype.kind in "iu":
        samples = data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
    else:
        samples = np.asarray(data, np.float32)
    return np.nan_to_num(samples), int(rate)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM mono WAV (what every player and video editor opens)."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    try:
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(int(sample_rate))
            out.writeframes(pcm.tobytes())
    except OSError as error:
        raise ConfigError(f"{path}: cannot write audio file ({error})") from error
