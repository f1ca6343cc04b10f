"""``persona bench session``: a scripted therapy session in real time, listening for leaks.

The whole app as ``persona run`` builds it (default scenes, 320x180, synthetic camera, a scripted
face lost 5 s of every 15 s) with the live voice engine playing into a PulseAudio null sink, the
virtual microphone. A thread speaks into the engine at a microphone's pace; a script presses the
clinician's switches (scene changes, into the privacy scene too; the card; mute; panic and its
lift; the real voice asked for with and without confirmation); the sink's monitor is recorded,
as the other side of the call would hear it, and so is what the app hands its recorder.

Afterwards every stretch in which the card, the mute or the panic was on (from the state the app
had after each frame) is listened to, less the mute's fade, for its loudest 50 ms:
``leak_max_dbfs`` at the far end and ``recorder_leak_max_dbfs`` in what the recorder was given
must stay under ``LEAK_LIMIT_DBFS``. The stretches in between must be clearly audible
(``speaking_median_dbfs``). Each scripted command also says what the switches must be after it
(``state_mismatches``) and whether the shutter must refuse it (``refused`` counts what it did).

Where a stretch begins and ends at the far end is measured, not assumed: the output latency
moves (PulseAudio starts slowly, and a stall on a busy machine grows its queue by a couple of
hundred milliseconds for a while), so the speech just before and just after each hidden stretch
is found, sample for sample, in the recording (``heard_at``), and the stretch is shifted by
what was measured there.

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

from engine.output.base import BaseSink
from engine.status import CONFIRM, LIFT, RELEASE, Command
from engine.types import AudioBlock, Frame

log = logging.getLogger(__name__)

RATE = 48000
WINDOW_S = 0.05  # what a listener hears as one sound: RMS over 50 ms...
STEP_S = 0.005  # ...every 5 ms
LEAK_LIMIT_DBFS = -60.0
SINK = "persona_session"
# Speech only at the start: PulseAudio takes a second or two to start pulling the output and
# the recording, the voice's output queue fills meanwhile and is trimmed back within seconds.
CALIBRATION_S = 8.0
PIECE_S = 0.25  # speech found in the recording to line an edge up: a syllable or two
SPEECH_DBFS = -45.0  # a piece that loud is speech, not a pause (the voice sits near −23 dBFS)
MIN_MATCH = 0.9  # the far end hears the very samples the recorder was given: they correlate ~1
# Slack at either end of a hidden stretch at the far end, for a trim of the output queue or an
# underrun between the piece of speech it was lined up on and the edge, where the piece nearest
# the edge was a pause or arrived split and the next one had to do.
SLACK_S = 0.02


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
# Every hidden stretch lasts a second or more, so the mute's fade leaves most of it to measure.
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
# The shutter's answers that refuse nothing (P pressed during a panic: "keep holding P"; the
# lift: "the card stays up until B") reach the clinician as a refusal does, and count among
# ``refused`` in the script above for that reason.


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


# -- the microphone, the recorder tap and the far end ----------------------------------------


class Microphone(threading.Thread):
    """Speaks ``speech`` (looped) into a voice engine started with ``input=False``, one hop at a
    time as the hop's last sample is "spoken", the way a sound card delivers a microphone."""

    def __init__(self, voice, speech: np.ndarray) -> None:
        super().__init__(name="session-microphone", daemon=True)
        self.voice = voice
        self.speech = np.asarray(speech, np.float32)
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


class Tap(BaseSink):
    """A sink that keeps what the app hands its recorder each frame (the voice's drained
    samples, as float16: ten minutes in 55 MB) and how many it had been handed by when."""

    def __init__(self) -> None:
        super().__init__()
        self._blocks: list[np.ndarray] = []
        self._handed: list[tuple[float, int]] = []  # (perf_counter, samples so far)
        self._total = 0

    def _open(self, width: int, height: int, fps: float) -> None:
        """Pictures are not kept."""

    def _write(self, frame: Frame) -> None:
        """Pictures are not kept."""

    def _close(self) -> None:
        """Nothing to release."""

    def write_audio(self, block: AudioBlock) -> None:
        self._blocks.append(np.asarray(block.samples).astype(np.float16))
        self._total += len(block.samples)
        self._handed.append((time.perf_counter(), self._total))

    def samples(self) -> np.ndarray:
        return np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.float16)

    def handed_by(self, times: np.ndarray) -> np.ndarray:
        """How many samples had been handed over by each of ``times``."""
        if not self._handed:
            return np.zeros(len(times), int)
        handed = np.array(self._handed)
        found = np.searchsorted(handed[:, 0], times, side="right")
        return np.where(found > 0, handed[np.maximum(found - 1, 0), 1], 0).astype(int)

    def time_of(self, index: int) -> float:
        """When sample ``index`` was handed over."""
        times, totals = zip(*self._handed)
        return times[min(int(np.searchsorted(totals, index, side="right")), len(times) - 1)]


class MonitorRecorder:
    """Records the default PulseAudio source (the null sink's monitor): what the far end hears.

    Samples are kept as float16 (ten minutes in 55 MB) with when each callback ran, so that a
    moment can be found in them: a block's samples arrived by the time its callback ran, and a
    callback is late by a varying amount, so the least delayed callback dates the stream; a
    stream that loses samples (an overflow on a busy machine) is dated afresh from there on,
    each block taking the least delay among the callbacks of the second after it.
    """

    def __init__(self, device: str = "pulse") -> None:
        self.device = device
        self.overflows = 0
        self._blocks: list[np.ndarray] = []
        self._arrivals: list[tuple[float, int]] = []  # (callback time, samples received by then)
        self._received = 0
        self._dated: tuple[np.ndarray, np.ndarray] | None = None
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
        self._blocks.append(data[:, 0].astype(np.float16))

    def samples(self) -> np.ndarray:
        return np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.float16)

    def _block_starts(self) -> tuple[np.ndarray, np.ndarray]:
        """(time of each block's first sample, its number), worked out once per recording."""
        if self._dated is None or len(self._dated[0]) != len(self._arrivals):
            self._dated = self._date_blocks()
        return self._dated

    def _date_blocks(self) -> tuple[np.ndarray, np.ndarray]:
        arrivals = np.array(self._arrivals)
        received = arrivals[:, 1]
        first = np.concatenate([[0.0], received[:-1]])
        offsets = arrivals[:, 0] - received / RATE  # sample 0's time, by each callback
        span = max(1, int(np.searchsorted(arrivals[:, 0], arrivals[0, 0] + 1.0)))
        padded = np.concatenate([offsets, np.full(span - 1, np.inf)])
        least = np.lib.stride_tricks.sliding_window_view(padded, span).min(axis=1)
        return least + first / RATE, first

    def index_at(self, when: float) -> int:
        """The number of the sample heard at ``when``."""
        starts, first = self._block_starts()
        block = max(0, int(np.searchsorted(starts, when, side="right")) - 1)
        return int(first[block] + round((when - starts[block]) * RATE))

    def time_of(self, index: int) -> float:
        """When sample ``index`` was heard."""
        starts, first = self._block_starts()
        block = max(0, int(np.searchsorted(first, index, side="right")) - 1)
        return float(starts[block] + (index - first[block]) / RATE)


# -- what was heard ---------------------------------------------------------------------------


def window_levels(samples: np.ndarray, start: int, stop: int) -> np.ndarray:
    """dBFS of every 50 ms window of ``samples[start:stop]``, one every 5 ms."""
    start, stop = max(0, start), min(len(samples), stop)
    width, step = int(RATE * WINDOW_S), int(RATE * STEP_S)
    if stop - start < width:
        return np.zeros(0)
    total = np.concatenate([[0.0], np.cumsum(np.square(samples[start:stop], dtype=np.float64))])
    begins = np.arange(0, stop - start - width + 1, step)
    return np.maximum(-120.0, 10.0 * np.log10((total[begins + width] - total[begins]) / width
                                              + 1e-12))


def locate(piece: np.ndarray, samples: np.ndarray, lo: int, hi: int) -> tuple[int, float]:
    """Where ``piece`` begins in ``samples[lo:hi]`` and how well it matches there (normalised
    correlation, 1 = the very same samples)."""
    from scipy.signal import correlate

    lo, hi = max(0, lo), min(len(samples), hi)
    region = samples[lo:hi].astype(np.float64)
    piece = piece.astype(np.float64)
    if len(region) < len(piece) or not piece.any():
        return -1, 0.0
    scores = correlate(region, piece, mode="valid", method="fft")
    total = np.concatenate([[0.0], np.cumsum(region ** 2)])
    energy = np.sqrt(np.maximum(total[len(piece):] - total[:-len(piece)], 0.0))
    match = scores / (np.linalg.norm(piece) * energy + 1e-12)
    best = int(np.argmax(match))
    return lo + best, float(match[best])


def speech_pieces(played: np.ndarray, start: int, stop: int, backwards: bool) -> Iterator[int]:
    """The starts of the pieces of ``played[start:stop]`` that hold speech, nearest one end
    first, 50 ms apart."""
    width, step = int(RATE * PIECE_S), int(RATE * STEP_S) * 10
    starts = range(stop - width, start - 1, -step) if backwards else range(start, stop - width + 1,
                                                                            step)
    for begin in starts:
        if window_levels(played, begin, begin + width).max(initial=-120.0) > SPEECH_DBFS:
            yield begin


@dataclass
class Heard:
    """What the recorder was given and what the far end heard, split by the app's state."""

    leak_max_dbfs: float = -120.0  # the far end, in the hidden stretches
    recorder_leak_max_dbfs: float = -120.0  # what the recorder was given, in them
    hidden_s: float = 0.0
    hidden_intervals: int = 0
    hidden_measured_s: float = 0.0  # what of the hidden stretches was listened to (far end)
    unaligned_edges: int = 0  # edges whose speech could not be found in the recording
    speaking_s: float = 0.0
    speaking_median_dbfs: float = -120.0
    speaking_levels: list[float] = field(default_factory=list)  # median of each stretch
    latencies: list[float] = field(default_factory=list)  # handed to the recorder → heard
    # Windows over the limit: ("far end" or "recorder", when the stretch began, how long
    # after that the window began, its dBFS), in seconds into the session
    leaks: list[tuple[str, float, float, float]] = field(default_factory=list)


def listen(tap: Tap, recorder: MonitorRecorder, times: np.ndarray, hidden: np.ndarray) -> Heard:
    """Split what the recorder was given and what the far end heard by the app's state.

    A frame applies its commands first and hands the recorder what the voice produced since the
    last frame at its end; the voice applies a mute at its next hop. So everything handed over
    before the frame that hid began was produced before it, everything handed over from the next
    frame on was produced after it, with the mute's fade still to run; the same holds for the
    frame that shows again. That is the hidden stretch in what the recorder was given. At the
    far end it is found by the speech just before it and just after it: the very samples
    handed to the recorder, located in the recording, give the shift at each end.
    """
    played = tap.samples()
    heard = recorder.samples()
    handed = tap.handed_by(np.append(times, math.inf))  # before each frame, and at the end
    fade = int(mute_fade_s() * RATE)
    slack = int(SLACK_S * RATE)
    result = Heard()
    edges = [0, *(np.flatnonzero(np.diff(hidden.astype(np.int8))) + 1), len(times)]

    def shift(within: tuple[int, int], backwards: bool) -> int | None:
        """Far end index − recorder index, for the speech nearest one end of ``within``: the
        first piece found whole at the far end (an underrun inside a piece splits it)."""
        for begin in speech_pieces(played, *within, backwards):
            expected = recorder.index_at(tap.time_of(begin))
            found, match = locate(played[begin:begin + int(RATE * PIECE_S)], heard,
                                  expected - RATE // 10, expected + RATE)
            if match >= MIN_MATCH:
                result.latencies.append(recorder.time_of(found) - tap.time_of(begin))
                return found - begin
        return None

    speaking: list[np.ndarray] = []
    shifts: dict[int, int | None] = {}  # frame of an edge → shift measured next to it
    # Each edge is lined up on the speech within a second of where listening starts or stops,
    # nearest first: the piece ending where the fade has run (the last of what was said before
    # it hid, and the fade itself), or the piece starting with the last samples produced before
    # it showed again (the silence, then what is said after). What the far end heard between
    # the two is what came of the hidden stretch, wherever the queues moved it.
    for edge in edges[1:-1]:
        if hidden[edge]:
            end = handed[edge + 1] + fade
            shifts[edge] = shift((end - RATE, end), backwards=True)
        else:
            shifts[edge] = shift((handed[edge], handed[edge] + RATE), backwards=False)
    result.unaligned_edges = sum(found is None for found in shifts.values())

    def loudest(where: str, first: int, samples: np.ndarray, start: int, stop: int,
                time_of) -> float:
        """The loudest 50 ms of a hidden stretch, noted as a leak when over the limit."""
        levels = window_levels(samples, start, stop)
        if not len(levels):
            return -120.0
        at = int(np.argmax(levels))
        if levels[at] >= LEAK_LIMIT_DBFS:
            began = float(times[first] - times[0])
            into = time_of(max(0, start) + at * int(RATE * STEP_S)) - float(times[first])
            result.leaks.append((where, began, round(into, 3), round(float(levels[at]), 1)))
        return float(levels[at])

    for first, last in zip(edges[:-1], edges[1:]):
        seconds = float((times[last] if last < len(times) else times[-1]) - times[first])
        # A stretch that runs to the end of the session has one edge: its shift does for both.
        before = shifts.get(first, shifts.get(last))
        after = shifts.get(last, before)
        if hidden[first]:
            result.hidden_s += seconds
            result.hidden_intervals += 1
            start, stop = handed[first + 1] + fade, handed[last]
            result.recorder_leak_max_dbfs = max(result.recorder_leak_max_dbfs, loudest(
                "recorder", first, played, start, stop, tap.time_of))
            if before is None or after is None:
                continue
            start, stop = start + before + slack, stop + after - slack
            result.hidden_measured_s += max(0, stop - start) / RATE
            result.leak_max_dbfs = max(result.leak_max_dbfs, loudest(
                "far end", first, heard, start, stop, recorder.time_of))
        else:
            result.speaking_s += seconds
            if before is None or after is None:
                continue
            start = handed[first + 1] if first > 0 else 0
            levels = window_levels(heard, start + before + slack, handed[last] + after - slack)
            if len(levels):
                result.speaking_levels.append(round(float(np.median(levels)), 1))
                speaking.append(levels)
    if speaking:
        result.speaking_median_dbfs = float(np.median(np.concatenate(speaking)))
    return result


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
        tap = Tap()
        session = build_app(settings, source=SyntheticSource(settings.size, settings.fps),
                            tracker=DroppingTracker(ScriptedPerformer()), sinks=[tap],
                            voice=voice)
        app = session.app
        recorder = MonitorRecorder()
        microphone = Microphone(voice, speech)
        try:
            recorder.start()
            voice.start(input=False, output="pulse")
            microphone.start()
            run = run_script(app, script(seconds), seconds)
            time.sleep(1.0)  # the last frames' audio reaches the far end
        finally:
            microphone.stop()
            voice_state = voice.state()
            voice.stop()
            recorder.stop()
            session.close()
    heard = listen(tap, recorder, np.array(run.times), np.array(run.hidden))
    for where, at, into, level in heard.leaks:
        log.error("leak (%s): %.1f dBFS %.2f s into the stretch hidden at %.1f s", where, level,
                  into, at)
    figures = app.stats.summary()
    latencies = heard.latencies or [math.nan]
    return {
        "seconds": seconds,
        "frames": float(len(run.times)),
        "commands": float(run.commands),
        "refused": float(run.refused),
        "state_mismatches": float(run.mismatches),
        "real_voice_in_anonymous_frames": float(run.anonymous_real),
        "hidden_s": round(heard.hidden_s, 1),
        "hidden_intervals": float(heard.hidden_intervals),
        "hidden_measured_s": round(heard.hidden_measured_s, 1),
        "leak_max_dbfs": round(heard.leak_max_dbfs, 1),
        "recorder_leak_max_dbfs": round(heard.recorder_leak_max_dbfs, 1),
        "leaks": float(len(heard.leaks)),
        "unaligned_edges": float(heard.unaligned_edges),
        "speaking_s": round(heard.speaking_s, 1),
        "speaking_median_dbfs": round(heard.speaking_median_dbfs, 1),
        "speaking_quietest_stretch_dbfs": min(heard.speaking_levels, default=-120.0),
        # Handed to the recorder (at a frame's end) → heard at the far end, at each edge: the
        # output queues, less up to a frame; below zero after a late frame, the voice having
        # played on meanwhile.
        "output_latency_ms_min": round(1000.0 * min(latencies), 1),
        "output_latency_ms_median": round(1000.0 * float(np.median(latencies)), 1),
        "output_latency_ms_max": round(1000.0 * max(latencies), 1),
        "morph_latency_ms": round(voice.morph.latency_ms, 1),
        "stage_errors": float(sum(app.stage_errors.values())),
        "fps": figures["fps"],
        "on_time_pct": figures["on_time_pct"],
        "voice_problems_caused_by_us": float(voice_state["problems_caused_by_us"]),
        "monitor_overflows": float(recorder.overflows),
    }
