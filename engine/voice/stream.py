"""``VoiceMorph``: the whole voice chain as one streaming processor, live and offline alike.

Block scheme (numbers for 48 kHz device audio; see docs/voice.md for the latency budget)::

    48 kHz block ─► polyphase ÷2 ─► 24 kHz hops of 15 ms (360 samples, 3 WORLD frames)
        ─► StreamAnalyzer: history window 100 ms; DIO over the window, StoneMask / CheapTrick /
           D4C only at the frames that became final (20 ms look-ahead behind the newest sample)
        ─► FrameShaper: preset applied per 5 ms frame (pitch, range, formants, breath, tilt/EQ,
           gate, denoise), crossfading between presets frame by frame
        ─► PulseSynthesizer: continuous pulse train, per-pulse WORLD responses overlap-added
        ─► polyphase ×2 ─► output gain, limiter, bypass / mute ramps ─► 48 kHz block

``process`` accepts blocks of any length and always returns as many samples as it was given:
the output is the morphed input delayed by exactly ``latency_samples``. It does real work (tens
of milliseconds of pyworld per 100 ms of audio), so live use calls it from a worker thread, never
from the audio callback (see ``engine.voice.live``).
"""

from __future__ import annotations

import math

import numpy as np

from engine.voice.analysis import StreamAnalyzer
from engine.voice.effects import Limiter, db_to_amplitude
from engine.voice.presets import VoicePreset
from engine.voice.resample import StreamResampler
from engine.voice.shaping import FrameShaper
from engine.voice.synthesis import PulseSynthesizer
from engine.voice.world import FRAME_PERIOD_MS

HOP_MS = 15.0  # 3 frames; 10 ms hops cost ~35 % more CPU (DIO and D4C run once per hop)
LOOKAHEAD_FRAMES = 4  # 20 ms: CheapTrick's window reaches 1.5 periods ahead (21 ms at 71 Hz)
WINDOW_MS = 100.0  # DIO's history: a few periods of the lowest F0 plus its contour smoothing
SMOOTHING_S = 0.02  # time constant of output gain, bypass and mute changes


def internal_rate_for(sample_rate: int) -> int:
    """WORLD's working rate: 24 kHz keeps the 1024-point CheapTrick FFT of 16 kHz while covering
    speech to 10 kHz; 48 kHz would double every FFT and let D4C alone overrun a 10 ms hop."""
    return 16000 if sample_rate <= 16000 else 24000


class VoiceMorph:
    """Streaming WORLD voice morph at ``sample_rate`` in and out."""

    def __init__(self, sample_rate: int = 48000, preset: VoicePreset | None = None, *,
                 internal_rate: int | None = None, hop_ms: float = HOP_MS,
                 lookahead_frames: int = LOOKAHEAD_FRAMES, seed: int = 0) -> None:
        if sample_rate < 8000:
            raise ValueError(f"sample rate {sample_rate} Hz is too low for voice morphing")
        self.sample_rate = int(sample_rate)
        self.internal_rate = int(internal_rate or internal_rate_for(self.sample_rate))
        frame_hop = int(round(self.internal_rate * FRAME_PERIOD_MS / 1000.0))
        self.hop = max(1, int(round(hop_ms / FRAME_PERIOD_MS))) * frame_hop
        lookahead = lookahead_frames * frame_hop
        window = max(int(round(WINDOW_MS / FRAME_PERIOD_MS)) * frame_hop, lookahead + self.hop)
        self.preset = preset or VoicePreset()

        self._down = StreamResampler(self.sample_rate, self.internal_rate)
        self._up = StreamResampler(self.internal_rate, self.sample_rate)
        self._analyzer = StreamAnalyzer(self.internal_rate, lookahead, window)
        self._shaper = FrameShaper(self.internal_rate, self._analyzer.fft_size, self.preset)
        self._synth = PulseSynthesizer(self.internal_rate, self._analyzer.fft_size, frame_hop,
                                       seed)
        self._pending = np.zeros(0, np.float32)

        ratio = self.sample_rate / self.internal_rate
        # Enough queued output that a call never waits on a hop still filling (one hop at the
        # device rate, plus rounding slack for non-integer ratios such as 44.1 → 24 kHz).
        prefill = math.ceil(self.hop * ratio) + (0 if ratio.is_integer() else 2)
        # The synthesiser's stream starts ``lookahead`` samples in the past: that silence leads.
        self._queue = np.concatenate([np.zeros(prefill, np.float32),
                                      self._up.process(np.zeros(lookahead, np.float32))])
        self.lookahead_ms = 1000.0 * lookahead / self.internal_rate
        self.hop_ms = 1000.0 * self.hop / self.internal_rate
        self.resample_ms = 1000.0 * (self._down.delay_s + self._up.delay_s)
        self.latency_samples = int(round(
            prefill + lookahead * ratio + (self._down.delay_s + self._up.delay_s)
            * self.sample_rate))
        self.latency_ms = 1000.0 * self.latency_samples / self.sample_rate

        self._dry = np.zeros(self.latency_samples, np.float32)  # bypass path, time-aligned
        self._limiter = Limiter(self.sample_rate)
        self._gain = db_to_amplitude(self.preset.gain_db)
        self._ceiling = db_to_amplitude(self.preset.limit_db)
        self._bypass = self._bypass_target = 0.0
        self._mute = self._mute_target = 0.0
        self._muted = False  # what was asked; the ramp follows it (see set_mute)
        self._unmute_in = 0  # output samples still to pass before an unmute may start

    # -- controls (call from any one control thread; take effect at the next block) -----------
    def set_preset(self, preset: VoicePreset, crossfade_s: float = 0.3) -> None:
        self.preset = preset
        self._shaper.set_preset(preset, crossfade_s)

    def set_bypass(self, bypass: bool) -> None:
        """Pass the input through untouched (time-aligned, so toggling does not jump)."""
        self._bypass_target = 1.0 if bypass else 0.0

    def set_mute(self, mute: bool) -> None:
        """Mute at once; unmute only once what is still in the pipeline — spoken while muted —
        has gone out silent, so nothing said behind a mute is ever heard."""
        if mute:
            self._mute_target, self._unmute_in = 1.0, 0
        elif self._muted:
            # What goes out depends on input up to the latency back and, through the synthesis'
            # overlap and the resamplers' filters, somewhat further (63 ms at 35 ms latency,
            # measured): twice the latency covers it.
            self._unmute_in = 2 * self.latency_samples
        self._muted = mute

    @property
    def bypassed(self) -> bool:
        return self._bypass_target > 0.5

    @property
    def muted(self) -> bool:
        return self._muted

    @property
    def limiter_reduction_db(self) -> float:
        return self._limiter.reduction_db

    # -- processing -------------------------------------------------------------------------------
    def process(self, block: np.ndarray) -> np.ndarray:
        """The next ``len(block)`` output samples (float32, mono) for ``block`` of input."""
        x = np.asarray(block, np.float32)
        if x.ndim == 2:
            x = x.mean(axis=1)
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        n = len(x)
        if n == 0:
            return np.zeros(0, np.float32)

        self._pending = np.concatenate([self._pending, self._down.process(x)])
        pieces = []
        while len(self._pending) >= self.hop:
            frames = self._analyzer.push(self._pending[:self.hop].astype(np.float64))
            self._pending = self._pending[self.hop:]
            self._synth.push(self._shaper.process(frames))
            pieces.append(self._synth.pull())
        if pieces:
            self._queue = np.concatenate([self._queue, self._up.process(np.concatenate(pieces))])
        wet = self._queue[:n]
        self._queue = self._queue[n:]
        if len(wet) < n:  # cannot happen with the prefill above; never return short blocks
            wet = np.concatenate([np.zeros(n - len(wet), np.float32), wet])

        self._dry = np.concatenate([self._dry, x])
        dry = self._dry[:n]
        self._dry = self._dry[n:]
        return self._output_stage(wet, dry)

    def _output_stage(self, wet: np.ndarray, dry: np.ndarray) -> np.ndarray:
        n = len(wet)
        gain, self._gain = _ramp(self._gain, db_to_amplitude(self.preset.gain_db), n,
                                 SMOOTHING_S * self.sample_rate)
        ceiling_now, self._ceiling = _ramp(self._ceiling, db_to_amplitude(self.preset.limit_db),
                                           n, SMOOTHING_S * self.sample_rate)
        wet = self._limiter.process(wet * gain if np.ndim(gain) or gain != 1.0 else wet,
                                    float(np.min(ceiling_now)))
        if self._bypass > 0.0 or self._bypass_target > 0.0:
            mix, self._bypass = _ramp(self._bypass, self._bypass_target, n,
                                      SMOOTHING_S * self.sample_rate)
            wet = (1.0 - mix) * wet + mix * dry
        if self._unmute_in > 0:  # this block still goes out muted: late by < a block, never early
            self._unmute_in -= n
        elif self._mute_target > 0.0 and not self._muted:
            self._mute_target = 0.0  # everything in the pipeline was said after the unmute
        if self._mute > 0.0 or self._mute_target > 0.0:
            mix, self._mute = _ramp(self._mute, self._mute_target, n,
                                    SMOOTHING_S * self.sample_rate)
            wet = (1.0 - mix) * wet
        return wet.astype(np.float32)


def _ramp(current: float, target: float, n: int,
          time_constant: float) -> tuple[np.ndarray | float, float]:
    """A one-pole glide from ``current`` towards ``target`` over ``n`` samples, and its end.

    Snaps to the target once within 1e-4, and is a plain number once there, so that idle ramps
    cost nothing.
    """
    if current == target:
        return current, current
    end = target + (current - target) * math.exp(-n / time_constant)
    if abs(end - target) < 1e-4:
        end = target
    return np.linspace(current, end, n, endpoint=False, dtype=np.float32) + (end - current) / n, end
