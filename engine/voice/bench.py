"""``persona bench voice`` and ``persona bench voice-soak``.

``voice`` runs the identity preset through the streaming chain at 16 and 48 kHz device rates
and reports, per rate: real-time factor on one core (CPU time of the chain pinned to one CPU;
best and median of ``--seconds`` / 6 repeats, since other processes on a shared machine
inflate single runs), algorithmic latency and its parts, and identity quality — PESQ-WB (at
16 kHz) and mel-cepstral distortion — against the input and against offline whole-file WORLD
with the same analysis settings.

``voice-soak`` runs the live engine on real PortAudio streams against PulseAudio null sinks for
``--seconds`` (default 20; the release check is 600), switching presets every few seconds, and
counts the callback problems the engine caused.
"""

from __future__ import annotations

import os
import time

import numpy as np

from engine.resources import SHARED_ASSETS
from engine.voice.offline import live_block_size, read_wav
from engine.voice.presets import VoicePreset
from engine.voice.stream import VoiceMorph
from engine.voice.world import F0_CEIL, F0_FLOOR, FRAME_PERIOD_MS, pyworld

SPEECH = SHARED_ASSETS / "speech"
WARM_UP_S = 3.0
CLIPS = ("librispeech_198-209-0000_first5.6s_16k.wav", "vaiueo2d.wav")


def bench_voice(seconds: float | None) -> dict[str, float]:
    from scipy.signal import resample_poly

    figures: dict[str, float] = {}
    clips = _clips()
    repeats = max(1, int((seconds or 12.0) // 6.0))  # 6 s of speech per repeat
    for rate in (16000, 48000):
        for label, (speech16, _) in clips.items():
            x = resample_poly(speech16, rate, 16000).astype(np.float32) if rate != 16000 \
                else speech16
            morph, out, cpu = None, None, []
            for _ in range(repeats if label == "speech" else 1):
                morph = VoiceMorph(rate, VoicePreset())
                out, used = _run_pinned(morph, x)
                cpu.append(used / (len(x) / rate))
            key = f"{rate // 1000}k"
            if label == "speech":
                figures[f"rtf_one_core_{key}"] = round(min(cpu), 3)
                figures[f"rtf_one_core_median_{key}"] = round(float(np.median(cpu)), 3)
                figures[f"latency_ms_{key}"] = round(morph.latency_ms, 2)
                figures[f"latency_lookahead_ms_{key}"] = round(morph.lookahead_ms, 2)
                figures[f"latency_hop_ms_{key}"] = round(morph.hop_ms, 2)
                figures[f"latency_resample_ms_{key}"] = round(morph.resample_ms, 2)
            stream16 = resample_poly(out, 16000, rate) if rate != 16000 else out
            offline16 = _offline_world(speech16, morph.internal_rate)
            figures.update(_quality(f"{label}_{key}", speech16, stream16, offline16))
    return figures


def _clips() -> dict[str, tuple[np.ndarray, int]]:
    """LibriSpeech ("speech") and vaiueo2d ("vowels") at 16 kHz; a synthetic voice without them."""
    from scipy.signal import resample_poly

    clips = {}
    for label, name in zip(("speech", "vowels"), CLIPS):
        path = SPEECH / name
        if path.exists():
            samples, rate = read_wav(path)
            if rate != 16000:
                samples = resample_poly(samples, 16000, rate).astype(np.float32)
            clips[label] = (samples, 16000)
    if "speech" not in clips:
        from engine.voice.synthetic import speech_like

        clips["speech"] = (speech_like(6.0, 16000), 16000)
    return clips


def _run_pinned(morph: VoiceMorph, x: np.ndarray) -> tuple[np.ndarray, float]:
    """The morphed signal (latency removed) and the CPU seconds it took on one core."""
    block = live_block_size(morph)
    padded = np.concatenate([x, np.zeros(morph.latency_samples, np.float32)])
    previous = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if previous:
        os.sched_setaffinity(0, {min(previous)})
    try:
        started = time.thread_time()
        out = [morph.process(padded[i:i + block]) for i in range(0, len(padded), block)]
        used = time.thread_time() - started
    finally:
        if previous:
            os.sched_setaffinity(0, previous)
    return np.concatenate(out)[morph.latency_samples:morph.latency_samples + len(x)], used


def _offline_world(x16: np.ndarray, rate: int) -> np.ndarray:
    """Whole-file WORLD at the chain's internal rate with the same F0 range and frame period."""
    from scipy.signal import resample_poly

    world = pyworld()
    x = resample_poly(x16, rate, 16000).astype(np.float64) if rate != 16000 else \
        x16.astype(np.float64)
    f0, times = world.dio(x, rate, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL,
                          frame_period=FRAME_PERIOD_MS)
    f0 = world.stonemask(x, f0, times, rate)
    envelope = world.cheaptrick(x, f0, times, rate, f0_floor=F0_FLOOR)
    aperiodicity = world.d4c(x, f0, times, rate)
    y = world.synthesize(f0, envelope, aperiodicity, rate, FRAME_PERIOD_MS)[:len(x)]
    y = resample_poly(y, 16000, rate) if rate != 16000 else y
    return y[:len(x16)].astype(np.float32)


def _quality(prefix: str, reference: np.ndarray, stream: np.ndarray,
             offline: np.ndarray) -> dict[str, float]:
    from pesq import pesq

    n = min(len(reference), len(stream), len(offline))
    reference, stream, offline = reference[:n], stream[:n], offline[:n]
    return {
        f"pesq_wb_stream_vs_input_{prefix}": round(pesq(16000, reference, stream, "wb"), 3),
        f"pesq_wb_offline_vs_input_{prefix}": round(pesq(16000, reference, offline, "wb"), 3),
        f"pesq_wb_stream_vs_offline_{prefix}": round(pesq(16000, offline, stream, "wb"), 3),
        f"mcd_db_stream_vs_input_{prefix}": round(mel_cepstral_distortion(reference, stream), 2),
        f"mcd_db_offline_vs_input_{prefix}": round(mel_cepstral_distortion(reference, offline), 2),
        f"mcd_db_stream_vs_offline_{prefix}": round(mel_cepstral_distortion(offline, stream), 2),
    }


def mel_cepstral_distortion(reference: np.ndarray, test: np.ndarray, rate: int = 16000,
                            order: int = 24) -> float:
    """Mean MCD in dB over speech frames (within 40 dB of the loudest), time-aligned inputs.

    Mel cepstra of the log amplitude of a 40-band mel filterbank over 25 ms Hann frames every
    5 ms, coefficients 1..order (c0, the overall level, excluded as usual);
    MCD = 10/ln10 · sqrt(2 · Σ Δc²), the usual definition.
    """
    from scipy.fft import dct

    def mel_cepstrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        size, hop = int(0.025 * rate), int(0.005 * rate)
        count = 1 + (len(x) - size) // hop
        frames = x[np.arange(size)[None, :] + hop * np.arange(count)[:, None]] * np.hanning(size)
        power = np.abs(np.fft.rfft(frames, 512)) ** 2
        bands = power @ _mel_bank(rate, 512, 40).T
        log_amplitude = 0.5 * np.log(bands + 1e-10)
        # DCT-II scaled to the real cepstrum of the (symmetric) mel log-amplitude spectrum.
        cepstrum = dct(log_amplitude, type=2, norm=None, axis=1) / (2 * bands.shape[1])
        frame_db = 10.0 * np.log10(power.mean(axis=1) + 1e-12)
        return cepstrum, frame_db

    (a, level_db), (b, _) = mel_cepstrum(reference), mel_cepstrum(test)
    n = min(len(a), len(b))
    speech = level_db[:n] > level_db.max() - 40.0
    diff = a[:n][speech, 1:order + 1] - b[:n][speech, 1:order + 1]
    return float(np.mean(10.0 / np.log(10.0) * np.sqrt(2.0 * np.sum(diff ** 2, axis=1))))


def _mel_bank(rate: int, fft_size: int, bands: int) -> np.ndarray:
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    edges = 700.0 * (10.0 ** (np.linspace(mel(0.0), mel(rate / 2), bands + 2) / 2595.0) - 1.0)
    bins = np.arange(fft_size // 2 + 1) * rate / fft_size
    bank = np.zeros((bands, len(bins)))
    for i in range(bands):
        low, centre, high = edges[i:i + 3]
        rising, falling = (bins - low) / (centre - low), (high - bins) / (high - centre)
        bank[i] = np.clip(np.minimum(rising, falling),
                          0.0, None)
    return bank


def bench_voice_soak(seconds: float | None) -> dict[str, float]:
    """Live engine on PulseAudio null sinks with preset switches; counts our callback problems."""
    import subprocess
    import tempfile

    from engine.voice.live import VoiceEngine
    from engine.voice.offline import write_wav
    from engine.voice.presets import list_presets, load_preset
    from engine.voice.pulse import null_sinks
    from engine.voice.synthetic import speech_like

    duration = float(seconds or 20.0)
    presets = [load_preset(name) for name in list_presets()]
    with tempfile.TemporaryDirectory() as temp, \
            null_sinks("persona_mic", "persona_out", default_sink="persona_out",
                       default_source="persona_mic.monitor"):
        voice = os.path.join(temp, "voice.wav")
        write_wav(voice, speech_like(20.0, 48000, seed=3), 48000)
        # A speaker talking into the virtual microphone: paplay loops the synthetic voice.
        feeder = subprocess.Popen(
            ["sh", "-c", f"while true; do paplay -d persona_mic '{voice}' || exit 1; done"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        engine = VoiceEngine(sample_rate=48000, preset=presets[0])
        try:
            engine.start(input="pulse", output="pulse")
            # PulseAudio's ALSA plugin can take a second or two to start pulling output after
            # the streams open; problems are counted once the devices have settled.
            time.sleep(WARM_UP_S)
            engine.reset_counters()
            switches = 0
            started = time.monotonic()
            while time.monotonic() - started < duration:
                time.sleep(min(3.0, max(0.0, duration - (time.monotonic() - started))))
                switches += 1
                engine.set_preset(presets[switches % len(presets)])
                engine.drain_recorded()  # as the recorder would
            state = engine.state()
        finally:
            engine.stop()
            os.killpg(feeder.pid, 15)
            feeder.wait(timeout=5)
    counters = engine.counters
    return {
        "seconds": round(duration, 1),
        "preset_switches": float(switches),
        "hops": float(counters.hops),
        "hops_expected": round(duration * 48000 / engine.hop, 1),
        "problems_caused_by_us": float(counters.caused_by_us()),
        "output_underruns": float(counters.output_underruns),
        "input_starved": float(counters.input_starved),
        "input_dropped_samples": float(counters.input_dropped),
        "callback_errors": float(counters.callback_errors),
        "device_input_overflows": float(counters.device_input_overflows),
        "device_output_underflows": float(counters.device_output_underflows),
        "drift_trimmed_samples": float(counters.drift_trims),
        "reconnects": float(counters.reconnects),
        "worker_max_ms": round(counters.worker_max_ms, 2),
        "hop_ms": round(1000.0 * engine.hop / 48000, 2),
        "live_latency_ms": round(state["latency_ms"], 1),
    }
