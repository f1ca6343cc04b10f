"""``persona bench session``: a scripted therapy session in real time, listening for leaks.

The whole app as ``persona run`` builds it (default scenes, 320x180, synthetic camera, a scripted
face lost 5 s of every 15 s) with the live voice engine playing into a PulseAudio null sink, the
virtual microphone. A thread speaks into the engine at a microphone's pace; a script presses the
clinician's switches (scene changes, into the privacy scene too; the card; mute; panic and its
lift; the real voice asked for with and without confirmation); the sink's monitor is recorded,
as the other side of the call would hear it.

Afterwards every stretch in which the card, the mute or the panic was on (from the state the app
had after each frame) is shifted by the output latency measured on the speech itself, trimmed by
the guards below, and searched for its loudest 50 ms: ``leak_max_dbfs`` must stay under
``LEAK_LIMIT_DBFS``. The stretches in between must be clearly audible (``speaking_median_dbfs``).
Each scripted command also says what the switches must be after it (``state_mismatches``) and
whether the shutter must refuse it (``refused`` counts what it refused).

The default run is 600 s; the test runs one script cycle. A PulseAudio server is started for the
run when none is running (``engine.voice.pulse``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from engine.errors import EngineError
from engine.status import CONFIRM, LIFT, RELEASE, Command

log = logging.getLogger(__name__)

RATE = 48000
CELL_S = 0.005  # levels are kept as the power of 5 ms cells
WINDOW_S = 0.05  # what a listener hears as one sound: RMS over 50 ms
LEAK_LIMIT_DBFS = -60.0
SINK = "persona_session"
# Speech only at the start: PulseAudio takes a second or two to start pulling the output and
# the recording, the voice's output queue fills meanwhile and is trimmed back within seconds.
CALIBRATION_S = 8.0
# Timing jitter the intervals allow for on top of the measured latency: the worker picks a
# switch up at its next hop (15 ms) and may run late on a loaded machine, the frame timestamp
# is taken just before the controls stage, and the lag estimate is good to a few ms.
JITTER_S = 0.03
LAG_WINDOW_S = 3.0  # speech the latency is measured on: two phrases or more
MIN_MATCH = 0.7  # envelope correlation below which a latency estimate is not trusted


def mute_fade_s(depth_db: float = -LEAK_LIMIT_DBFS) -> float:
    """How long the voice's mute ramp takes to bring a full-scale signal down by ``depth_db``:
    the ramp is one-pole (``engine.voice.stream.SMOOTHING_S``), and the limiter keeps the
    output under 0 dBFS, so after this nothing is left above the leak limit."""
    from engine.voice.stream import SMOOTHING_S

    return SMOOTHING_S * math.log(10.0 ** (depth_db / 20.0))


# -- the clinician's script ------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    at: float  # seconds into the cycle
    command: Command
    expect: dict[str, bool]  # switches after it: blank, panic, muted, real_voice
    refused: bool = False  # the shutter must refuse it


def _step(at: float, name: str, argument: str | None = None, on: bool | None = None, *,
          refused: bool = False, **expect: bool) -> Step:
    return Step(at, Command(name, argument, on), expect, refused)


SPEAKING = {"blank": False, "panic": False, "muted": False}
# One cycle of a session; hotkey presses (on=None) and the control page's requests (on given).
# Every hidden stretch lasts at least a second, so the guards leave most of it to measure.
CYCLE: tuple[Step, ...] = (
    _step(0.0, "scene", "1", **SPEAKING, real_voice=False),
    _step(3.0, "blank", blank=True, muted=True),  # B: be right back
    _step(6.0, "blank", **SPEAKING),
    _step(8.0, "mute", blank=False, muted=True),  # M
    _step(10.0, "blank", blank=True, muted=True),  # the card over a mute...
    _step(12.0, "blank", blank=False, muted=True),  # ...gives the mute back
    _step(13.0, "mute", **SPEAKING),
    _step(15.0, "voice", refused=True, real_voice=False),  # V once: asks for confirmation
    _step(16.5, "scene", "2", real_voice=False),
    _step(19.0, "voice", refused=True, real_voice=False),  # 4 s later: asks again
    _step(20.0, "voice", **SPEAKING, real_voice=True),  # V again within 3 s: the real voice
    _step(23.0, "scene", "4", **SPEAKING, real_voice=False),  # anonymous: the morph comes back
    _step(25.0, "voice", refused=True, real_voice=False),
    _step(25.5, "voice", refused=True, real_voice=False),  # even twice
    _step(27.0, "panic", blank=True, panic=True, muted=True),  # P
    _step(27.2, "panic", RELEASE, panic=True),  # letting go of the press that started it
    _step(29.0, "blank", refused=True, blank=True, panic=True, muted=True),
    _step(29.2, "mute", refused=True, blank=True, panic=True, muted=True),
    _step(29.4, "voice", refused=True, panic=True, real_voice=False),
    _step(31.0, "panic", refused=True, panic=True),  # held for 1 s: not enough
    _step(32.0, "panic", RELEASE, refused=True, panic=True),
    _step(33.0, "panic", refused=True, panic=True),  # held for 3 s: lifted...
    _step(36.0, "panic", RELEASE, refused=True, blank=True, panic=False, muted=True),
    _step(38.0, "blank", blank=False, muted=True),  # ...the voice stays muted until M
    _step(40.0, "mute", **SPEAKING),
    _step(42.0, "scene", "1", **SPEAKING),
    _step(42.5, "panic", on=True, blank=True, panic=True, muted=True),  # the page's button
    _step(44.5, "panic", LIFT, refused=True, blank=True, panic=False, muted=True),  # confirmed
    _step(45.5, "mute", on=False, blank=True, muted=True),  # card up: it gives back unmuted
    _step(46.5, "blank", on=False, **SPEAKING),
    _step(48.0, "voice", CONFIRM, on=False, **SPEAKING, real_voice=True),  # the page confirmed
    _step(50.0, "voice", on=True, **SPEAKING, real_voice=False),  # the morph needs no asking
)
CYCLE_S = 52.0
# The lift's answer ("panic lifted: the card stays up...") goes out as a refusal would, so that
# the clinician sees it; it counts among ``refused`` in the script above for the same reason.


def script(seconds: float) -> Iterator[tuple[float, Step]]:
    """The cycle repeated after the calibration stretch, as (seconds into the session, step)."""
    cycle = 0
    while True:
        for item in CYCLE:
            at = CALIBRATION_S + cycle * CYCLE_S + item.at
            if at >= seconds:
                return
            yield at, item
        cycle += 1


def said(app) -> tuple[str | None, float]:
    """What the app last told the clinician (a refusal, or the lift's reminder) and when, on
    the app's clock (to 10 ms: the status rounds the message's age)."""
    status = app.status()
    return status.message, app.clock.now() - status.message_age_s


def answered(before: tuple[str | None, float], after: tuple[str | None, float]) -> bool:
    """Whether the app said something new between two ``said`` readings: another text, or the
    same one said again (a frame apart at least, far more than the rounding)."""
    return after[0] is not None and (after[0] != before[0] or abs(after[1] - before[1]) > 0.02)


# -- the microphone and the listener ----------------------------------------------------------


def cell_power(samples: np.ndarray) -> np.ndarray:
    """Mean power of each whole 5 ms cell of ``samples`` (at ``RATE``)."""
    cell = int(RATE * CELL_S)
    whole = len(samples) // cell * cell
    return np.mean(np.square(samples[:whole].reshape(-1, cell), dtype=np.float64), axis=1)


@dataclass(frozen=True)
class Levels:
    """The power of consecutive 5 ms cells of a signal and when each began (perf_counter)."""

    times: np.ndarray
    power: np.ndarray


class Microphone(threading.Thread):
    """Speaks ``speech`` (looped) into a voice engine started with ``input=False``, one hop at a
    time as the hop's last sample is "spoken", the way a sound card delivers a microphone."""

    def __init__(self, voice, speech: np.ndarray) -> None:
        super().__init__(name="session-microphone", daemon=True)
        cell = int(RATE * CELL_S)
        self.voice = voice
        self.speech = np.asarray(speech[:len(speech) // cell * cell], np.float32)
        self.pushed = 0
        # When sample 0 was spoken: the least delayed push, less the samples pushed by then (a
        # late push is followed by a quicker one; none is ever early).
        self.t0 = math.inf
        self._halt = threading.Event()

    def run(self) -> None:
        block = self.voice.hop
        started = time.perf_counter()
        while not self._halt.is_set():
            end = self.pushed + block
            wait = started + end / RATE - time.perf_counter()
            if wait > 0 and self._halt.wait(wait):
                return
            self.voice.push_input(self.speech[np.arange(self.pushed, end) % len(self.speech)])
            self.pushed = end
            self.t0 = min(self.t0, time.perf_counter() - end / RATE)

    def stop(self) -> None:
        self._halt.set()
        self.join(5.0)

    def spoken(self, start: float, count: int) -> np.ndarray:
        """The ``count`` samples spoken from time ``start`` on."""
        first = round((start - self.t0) * RATE)
        return self.speech[(first + np.arange(count)) % len(self.speech)]

    def levels(self) -> Levels:
        """Every 5 ms cell spoken so far."""
        clip = cell_power(self.speech)
        cells = np.arange(self.pushed // int(RATE * CELL_S))
        return Levels(self.t0 + CELL_S * cells, clip[cells % len(clip)])


class MonitorRecorder:
    """Records the default PulseAudio source (the null sink's monitor) as 5 ms power cells on
    the ``time.perf_counter`` clock, so that they line up with the app's frames; with
    ``keep_samples`` the samples too (a test compares waveforms).

    A block's samples arrived by the time its callback ran, and a callback is late by a
    varying amount, so the least delayed callback dates the stream. A stream that loses
    samples (an overflow on a busy machine) is dated afresh from there on: each block takes the
    least delay among the callbacks of the second that follows it.
    """

    def __init__(self, device: str = "pulse", keep_samples: bool = False) -> None:
        self.device = device
        self.keep_samples = keep_samples
        self.overflows = 0
        self._cells: list[np.ndarray] = []
        self._blocks: list[np.ndarray] = []
        self._carry = np.zeros(0, np.float32)
        self._received = 0
        self._arrivals: list[tuple[float, int]] = []  # (callback time, samples received by then)
        self._stream = None

    def start(self) -> None:
        import sounddevice as sd

        self._stream = sd.InputStream(device=self.device, samplerate=RATE, channels=1,
                                      dtype="float32", callback=self._callback)
        self._stream.start()

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def _callback(self, data, frames, time_info, status) -> None:
        self._received += frames
        self._arrivals.append((time.perf_counter(), self._received))
        self.overflows += bool(status.input_overflow)
        if self.keep_samples:
            self._blocks.append(data[:, 0].copy())
        samples = np.concatenate([self._carry, data[:, 0]])
        power = cell_power(samples)
        self._cells.append(power)
        self._carry = samples[len(power) * int(RATE * CELL_S):].copy()

    def sample_times(self, samples: np.ndarray) -> np.ndarray:
        """When each of the recorded samples numbered ``samples`` arrived."""
        arrivals = np.array(self._arrivals)
        received = arrivals[:, 1]
        # Sample 0's time by each callback, then the least of each callback's next second.
        offsets = arrivals[:, 0] - received / RATE
        span = max(1, int(np.searchsorted(arrivals[:, 0], arrivals[0, 0] + 1.0)))
        padded = np.concatenate([offsets, np.full(span - 1, np.inf)])
        least = np.lib.stride_tricks.sliding_window_view(padded, span).min(axis=1)
        block = np.minimum(np.searchsorted(received, samples, side="right"), len(received) - 1)
        return least[block] + samples / RATE

    def levels(self) -> Levels:
        """Every 5 ms cell recorded so far."""
        power = np.concatenate(self._cells) if self._cells else np.zeros(0)
        return Levels(self.sample_times(np.arange(len(power)) * int(RATE * CELL_S)), power)

    def heard(self, start: float, count: int) -> np.ndarray:
        """``count`` samples heard from time ``start`` on (with ``keep_samples``)."""
        samples = np.concatenate(self._blocks)
        first = int(np.searchsorted(self.sample_times(np.arange(len(samples))), start))
        return samples[first:first + count]


# -- what was heard ---------------------------------------------------------------------------


def window_levels(levels: Levels, start: float, stop: float) -> tuple[np.ndarray, np.ndarray]:
    """(start time, dBFS) of every 50 ms window of cells lying wholly inside [start, stop),
    one per cell."""
    inside = (levels.times >= start) & (levels.times + CELL_S <= stop)
    width = int(round(WINDOW_S / CELL_S))
    if inside.sum() < width:
        return np.zeros(0), np.zeros(0)
    total = np.concatenate([[0.0], np.cumsum(levels.power[inside])])
    mean = (total[width:] - total[:-width]) / width
    return (levels.times[inside][:len(mean)],
            np.maximum(-120.0, 10.0 * np.log10(mean + 1e-12)))


def speech_lag(spoken: Levels, heard: Levels, start: float, stop: float,
               max_lag_s: float = 0.6) -> tuple[float, float]:
    """How far (s) what was heard lags what was spoken over [start, stop), and how well the two
    match there (correlation of their 5 ms amplitude envelopes at that lag, 1 = perfectly).

    The morph changes the voice but not when it speaks: phrase onsets and pauses come out as
    they went in, so the envelopes line up to within a few milliseconds."""
    grid = np.arange(start, stop, CELL_S)

    def envelope(levels: Levels, times: np.ndarray) -> np.ndarray:
        centred = np.interp(times, levels.times, np.sqrt(levels.power))
        return centred - centred.mean()

    reference = envelope(spoken, grid)
    lags = np.arange(0.0, max_lag_s, 0.001)
    scores = np.zeros(len(lags))
    for n, lag in enumerate(lags):
        candidate = envelope(heard, grid + lag)
        scale = np.linalg.norm(reference) * np.linalg.norm(candidate)
        scores[n] = float(reference @ candidate / scale) if scale > 0 else 0.0
    best = int(np.argmax(scores))
    return float(lags[best]), float(scores[best])


@dataclass
class Interval:
    start: float  # perf_counter time of the frame that changed the state
    stop: float
    hidden: bool


def intervals(times: np.ndarray, hidden: np.ndarray, period: float) -> list[Interval]:
    """Stretches of constant hidden state from the per-frame log, alternating hidden/speaking."""
    edges = [0, *(np.flatnonzero(np.diff(hidden.astype(np.int8))) + 1), len(times)]
    stops = [*times[1:], times[-1] + period]
    return [Interval(float(times[a]), float(stops[b - 1]), bool(hidden[a]))
            for a, b in zip(edges[:-1], edges[1:])]


@dataclass
class Heard:
    """What the far end heard, split by the app's state."""

    latencies: list[float] = field(default_factory=list)  # speech in → out, each estimate
    leak_max_dbfs: float = -120.0
    hidden_s: float = 0.0
    hidden_intervals: int = 0
    hidden_measured_s: float = 0.0  # what was left of the hidden stretches inside the guards
    speaking_s: float = 0.0
    speaking_median_dbfs: float = -120.0
    speaking_levels: list[float] = field(default_factory=list)  # median of each stretch
    # Windows over the limit: (when the stretch began, how far into it, its dBFS)
    leaks: list[tuple[float, float, float]] = field(default_factory=list)


def listen(spoken: Levels, heard: Levels, stretches: list[Interval], voice) -> Heard:
    """Line what was heard up with the app's states and measure each stretch.

    Speech spoken at t comes out at t + latency: the morph's own delay (``morph.latency_ms``),
    the wait for a hop to fill, the worker and the device queues. The latency is measured on
    the speech itself, at the end of the speaking stretch before each hidden one and at the
    start of the one after (the device queues settle for a few seconds after the streams open,
    and may grow after an underrun). A mute lands on the next hop the worker finishes, whose
    output goes out after the same queues but not the morph's delay: it takes effect between
    latency − morph delay − one hop and latency − morph delay after the frame that set it. A
    hidden stretch is listened to from its start plus the longest of those plus the mute's fade,
    to its end plus the shortest, with ``JITTER_S`` on both sides.
    """
    morph_s = voice.morph.latency_ms / 1000.0
    hop_s = voice.hop / RATE
    result = Heard()

    def lag(start: float, stop: float) -> float | None:
        # A second at least, and recorded: a window has to hold a phrase's start or end to be
        # lined up (the recording itself starts a second or two late).
        start = max(start, float(heard.times[0]) if len(heard.times) else math.inf)
        if stop - start < 1.0:
            return None
        found, match = speech_lag(spoken, heard, start, stop)
        if match < MIN_MATCH:
            return None
        result.latencies.append(found)
        return found

    # Speech spoken in a speaking stretch's last morph delay is cut by the mute that ends it.
    heads = {n: lag(s.start, min(s.start + LAG_WINDOW_S, s.stop - morph_s - hop_s))
             for n, s in enumerate(stretches) if not s.hidden}
    tails = {n: lag(max(s.start, s.stop - LAG_WINDOW_S), s.stop - morph_s - hop_s)
             for n, s in enumerate(stretches) if not s.hidden}
    if not result.latencies:
        raise EngineError("the speech could not be lined up with what the null sink heard")
    longest, shortest = max(result.latencies), min(result.latencies)
    speaking = []
    for n, stretch in enumerate(stretches):
        before = tails.get(n - 1) if stretch.hidden else heads[n]
        after = heads.get(n + 1) if stretch.hidden else tails[n]
        before = longest if before is None else before
        after = shortest if after is None else after
        stop = stretch.stop + after - morph_s - hop_s - JITTER_S
        if stretch.hidden:
            start = stretch.start + before - morph_s + mute_fade_s() + JITTER_S
            times, levels = window_levels(heard, start, stop)
            result.hidden_s += stretch.stop - stretch.start
            result.hidden_intervals += 1
            if len(levels):
                result.hidden_measured_s += stop - start
                loudest = int(np.argmax(levels))
                result.leak_max_dbfs = max(result.leak_max_dbfs, float(levels[loudest]))
                if levels[loudest] >= LEAK_LIMIT_DBFS:
                    result.leaks.append((stretch.start, round(times[loudest] - stretch.start, 3),
                                         round(float(levels[loudest]), 1)))
        else:
            # Speech comes back a latency after the unmute; the fade-in is short.
            _, levels = window_levels(heard, stretch.start + before + JITTER_S, stop)
            result.speaking_s += stretch.stop - stretch.start
            if len(levels):
                speaking.append(levels)
                result.speaking_levels.append(round(float(np.median(levels)), 1))
    if speaking:
        result.speaking_median_dbfs = float(np.median(np.concatenate(speaking)))
    return result


# -- the session ------------------------------------------------------------------------------


def switch_state(app) -> dict[str, bool]:
    """The switches the far end's privacy depends on, after a frame."""
    voice = app.voice.status()
    return {"blank": app.shutter.blank, "panic": app.shutter.panic, "muted": voice.muted,
            "real_voice": voice.bypass, "anonymous": app.director.current.scene.anonymous}


@dataclass
class Run:
    """The per-frame log of a scripted run and what the script found."""

    times: list[float] = field(default_factory=list)  # perf_counter before each frame
    hidden: list[bool] = field(default_factory=list)  # card, mute or panic on after it
    commands: int = 0
    refused: int = 0
    mismatches: int = 0
    anonymous_real: int = 0  # frames with the real voice on in an anonymous scene


def run_script(app, steps: Iterator[tuple[float, Step]], seconds: float) -> Run:
    """Run ``app`` in real time for ``seconds``, putting each step's command on its queue when
    due, and check what each step expects once it has applied (a scene switch: once it is on)."""
    run = Run()
    pending = list(steps)
    due: list[Step] = []
    last_answer = said(app)
    started = time.perf_counter()
    while (now := time.perf_counter()) - started < seconds:
        while pending and pending[0][0] <= now - started:
            step = pending.pop(0)[1]
            app.commands.put(step.command)
            due.append(step)
            run.commands += 1
        run.times.append(time.perf_counter())
        app.step()
        state = switch_state(app)
        run.hidden.append(state["blank"] or state["panic"] or state["muted"])
        run.anonymous_real += state["anonymous"] and state["real_voice"]
        if not due or app.director.loading is not None:
            continue
        answer = said(app)
        expected = {key: value for step in due for key, value in step.expect.items()}
        wrong = {key: state[key] for key, value in expected.items() if state[key] != value}
        refused = answered(last_answer, answer)
        run.refused += refused
        if wrong or refused != any(step.refused for step in due):
            run.mismatches += 1
            log.error("after %s: %s%s", ", ".join(_text(step.command) for step in due),
                      wrong or "the switches as expected",
                      f"; answered {answer[0]!r}" if refused else "; no answer")
        last_answer, due = answer, []
    return run


def _text(command: Command) -> str:
    on = "" if command.on is None else f" on={command.on}"
    return f"{command.name.value}{':' + command.argument if command.argument else ''}{on}"


def bench_session(seconds: float | None) -> dict[str, float]:
    from engine.capture.synthetic import SyntheticSource
    from engine.config import Settings
    from engine.output.null import NullSink
    from engine.performer import ScriptedPerformer
    from engine.session import build_app
    from engine.soak import DroppingTracker
    from engine.voice.live import VoiceEngine
    from engine.voice.pulse import null_sinks
    from engine.voice.synthetic import speech_like

    seconds = 600.0 if seconds is None else float(seconds)
    settings = Settings(width=320, height=180, source="synthetic", sinks=[], use="demo")
    speech = speech_like(30.0, RATE, seed=7)
    with null_sinks(SINK, default_sink=SINK, default_source=f"{SINK}.monitor"):
        voice = VoiceEngine(sample_rate=RATE)
        session = build_app(settings, source=SyntheticSource(settings.size, settings.fps),
                            tracker=DroppingTracker(ScriptedPerformer()), sinks=[NullSink()],
                            voice=voice)
        app = session.app
        recorder = MonitorRecorder()
        microphone = Microphone(voice, speech)
        try:
            recorder.start()
            voice.start(input=False, output="pulse")
            microphone.start()
            run = run_script(app, script(seconds), seconds)
            time.sleep(0.5)  # the last frames' audio reaches the monitor
        finally:
            microphone.stop()
            voice_state = voice.state()
            voice.stop()
            recorder.stop()
            session.close()
    stretches = intervals(np.array(run.times), np.array(run.hidden), 1.0 / settings.fps)
    heard = listen(microphone.levels(), recorder.levels(), stretches, voice)
    for at, into, level in heard.leaks:
        log.error("leak: %.1f dBFS %.2f s into the stretch hidden at %.1f s (for %.1f s)", level,
                  into, at - run.times[0],
                  next(s.stop - s.start for s in stretches if s.start == at))
    figures = app.stats.summary()
    return {
        "seconds": seconds,
        "frames": float(len(run.times)),
        "commands": float(run.commands),
        "refused": float(run.refused),
        "state_mismatches": float(run.mismatches),
        "real_voice_in_anonymous_frames": float(run.anonymous_real),
        "hidden_s": round(heard.hidden_s, 1),
        "hidden_measured_s": round(heard.hidden_measured_s, 1),
        "hidden_intervals": float(heard.hidden_intervals),
        "leak_max_dbfs": round(heard.leak_max_dbfs, 1),
        "leaks": float(len(heard.leaks)),
        "speaking_s": round(heard.speaking_s, 1),
        "speaking_median_dbfs": round(heard.speaking_median_dbfs, 1),
        "speaking_quietest_stretch_dbfs": min(heard.speaking_levels, default=-120.0),
        "latency_ms_min": round(1000.0 * min(heard.latencies), 1),
        "latency_ms_median": round(1000.0 * float(np.median(heard.latencies)), 1),
        "latency_ms_max": round(1000.0 * max(heard.latencies), 1),
        "latency_estimates": float(len(heard.latencies)),
        "morph_latency_ms": round(voice.morph.latency_ms, 1),
        "stage_errors": float(sum(app.stage_errors.values())),
        "fps": figures["fps"],
        "on_time_pct": figures["on_time_pct"],
        "voice_problems_caused_by_us": float(voice_state["problems_caused_by_us"]),
    }
