"""The one loop. Read ``STAGES`` to see how a frame flows; ``persona run --explain`` prints it.

Each frame the app runs the stages in order over a fresh ``FrameWork`` record, then sleeps until
the next deadline. The live session (``persona run``), the demo and the offline renderer
(``persona demo`` / ``render``) are this same loop with a different clock and source, so a frame
rendered offline is the frame a viewer would see live.

Failure policy: a stage that raises loses that frame's result for that stage only — capture
reuses the last good frame, tracking reports the face as lost (the avatar eases to neutral), a
sink that fails is reported and skipped — and the loop goes on. Only ``quit`` ends it.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from engine.capture.base import Source
from engine.clock import Clock, FrameStats, Tick
from engine.director import Director
from engine.gl.compositor import Compositor
from engine.output.base import AudioSink, Sink
from engine.tracking.base import Tracker
from engine.types import AudioBlock, Expression, FaceState, Frame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    """A control command: from a hotkey, the control API, or a test. Applied at the next frame
    boundary, on the loop's thread."""

    name: str  # scene, blank, freeze, mute, voice, calibrate, hud, quit
    argument: str | None = None


@dataclass
class FrameWork:
    """What one frame has produced so far; each stage reads earlier fields and fills its own."""

    tick: Tick
    frame: Frame | None = None
    face: FaceState | None = None
    expression: Expression | None = None
    image: np.ndarray | None = None  # (H, W, 3) uint8 RGB, the finished frame


@dataclass(frozen=True)
class Stage:
    name: str
    doc: str
    run: Callable[[App, FrameWork], None]


@dataclass
class Switches:
    """The clinician's live toggles."""

    blank: bool = False
    freeze: bool = False
    hud: bool = True
    quit: bool = False


class App:
    """Owns the clock, the director (scenes), the stages and the sinks for one session."""

    def __init__(self, *, clock: Clock, source: Source, tracker: Tracker, director: Director,
                 compositor: Compositor, sinks: Iterable[Sink], fps: float,
                 voice=None, on_frame: Callable[[App, FrameWork], None] | None = None,
                 track_recorder=None) -> None:
        self.clock = clock
        self.source = source
        self.tracker = tracker
        self.director = director
        self.compositor = compositor
        self.sinks = list(sinks)
        self.fps = fps
        self.voice = voice  # engine.voice.live.VoiceEngine or None
        self.on_frame = on_frame
        self.track_recorder = track_recorder  # engine.tracking.replay.TrackRecorder, when asked
        self.commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self.switches = Switches()
        self.stats = FrameStats()
        self._last_frame: Frame | None = None
        self._last_expression = Expression.neutral()
        self._last_face: FaceState | None = None
        self._failed_sinks: set[int] = set()
        self.stage_errors: dict[str, int] = {}

    # -- the frame ---------------------------------------------------------------------------

    def step(self) -> FrameWork:
        """Run every stage once; never raises for a stage's failure."""
        work = FrameWork(self.clock.tick())
        started = time.perf_counter()
        for stage in STAGES:
            try:
                stage.run(self, work)
            except Exception:  # one bad frame never kills the loop
                self._report_stage_error(stage.name)
        finished = time.perf_counter()
        on_time = self.clock.sleep_until_next()
        t_capture = work.frame.t_capture if work.frame is not None else None
        self.stats.record(started, finished, t_capture, on_time)
        if self.on_frame is not None:
            self.on_frame(self, work)
        return work

    def run(self, max_frames: int | None = None) -> FrameStats:
        """Loop until ``quit`` (or ``max_frames``)."""
        frames = 0
        while not self.switches.quit and (max_frames is None or frames < max_frames):
            self.step()
            frames += 1
        return self.stats

    def _report_stage_error(self, name: str) -> None:
        count = self.stage_errors.get(name, 0) + 1
        self.stage_errors[name] = count
        # Full traceback the first time, then a reminder every 10 s of frames: a broken stage
        # must be visible without flooding the log at 30 lines a second.
        if count == 1:
            log.exception("stage %r failed; the loop goes on", name)
        elif count % int(10 * self.fps) == 0:
            log.warning("stage %r has failed %d times", name, count)

    # -- stages ------------------------------------------------------------------------------

    def _controls(self, work: FrameWork) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            self.apply(command)

    def apply(self, command: Command) -> None:
        """Carry out one control command (call from the loop's thread, or queue it)."""
        name = command.name
        if name == "scene":
            self.director.switch(command.argument or "")
        elif name in ("blank", "freeze", "hud"):
            setattr(self.switches, name, not getattr(self.switches, name))
            log.info("%s %s", name, "on" if getattr(self.switches, name) else "off")
            if name == "blank" and self.voice is not None:
                self.voice.set_mute(self.switches.blank)
        elif name == "quit":
            self.switches.quit = True
        elif name == "calibrate":
            # The median of the next second of faces: one frame could catch a blink.
            self.director.retargeter.calibrate_next()
            log.info("calibrating: relax and look at the screen for a second")
        elif name in ("mute", "voice") and self.voice is not None:
            state = self.voice.state()
            if name == "mute":
                self.voice.set_mute(not state["mute"])
            else:
                self.voice.set_bypass(not state["bypass"])
        else:
            log.warning("unknown or unavailable command %r", name)

    def _capture(self, work: FrameWork) -> None:
        frame = self.source.latest()
        if frame is not None:
            self._last_frame = frame
        work.frame = self._last_frame

    def _track(self, work: FrameWork) -> None:
        if work.frame is None or self.switches.blank:
            work.face = FaceState.lost(work.tick.t)
            return
        try:
            work.face = self.tracker.track(work.frame)
        except Exception:
            work.face = FaceState.lost(work.frame.t_capture)
            raise
        finally:
            self._last_face = work.face
        if self.track_recorder is not None:
            self.track_recorder.write(work.face)

    def _retarget(self, work: FrameWork) -> None:
        if self.switches.freeze:
            work.expression = self._last_expression
            return
        face = work.face or FaceState.lost(work.tick.t)
        work.expression = self.director.retarget(face, work.tick.t)
        self._last_expression = work.expression

    def _render(self, work: FrameWork) -> None:
        expression = work.expression or self._last_expression
        self.director.render(expression, work.frame, blank=self.switches.blank)

    def _finish(self, work: FrameWork) -> None:
        current, outgoing, crossfade = self.director.layers_for_finish(work.tick.t)
        work.image = self.compositor.finish(current, outgoing, crossfade)

    def _output(self, work: FrameWork) -> None:
        if work.image is None:
            return
        t_capture = work.frame.t_capture if work.frame is not None else work.tick.t
        out = Frame(work.image, t_capture, work.tick.index)
        audio = None
        if self.voice is not None:
            recorded = self.voice.drain_recorded()
            if len(recorded):
                rate = self.voice.sample_rate
                # The drained samples end about now; a live recorder places them by this time.
                audio = AudioBlock(recorded, rate, time.perf_counter() - len(recorded) / rate)
        for number, sink in enumerate(self.sinks):
            try:
                sink.write(out)
                if audio is not None and isinstance(sink, AudioSink):
                    sink.write_audio(audio)
            except Exception as error:
                if number not in self._failed_sinks:
                    self._failed_sinks.add(number)
                    log.error("output %s failed (%s); other outputs continue",
                              type(sink).__name__, error)

    def status(self) -> dict:
        """A snapshot for the HUD and the control page: the loop's figures, the switches, the
        voice and the director's scene details. Plain data, safe to hand to another thread."""
        figures = self.stats.summary()
        face = self._last_face
        status = {
            "fps": figures["fps"],
            "latency_ms": figures["latency_ms_p50"],
            "confidence": float(face.confidence) if face is not None and face.found else 0.0,
            "blank": self.switches.blank,
            "freeze": self.switches.freeze,
            "hud": self.switches.hud,
            "stage_errors": sum(self.stage_errors.values()),
            **self.director.status(),
        }
        if self.voice is not None:
            status["voice"] = self.voice.state()
        return status

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close sinks, source, tracker and scenes; each exactly once, errors logged."""
        if self.track_recorder is not None:
            self.track_recorder.flush()
        for closable in (*self.sinks, self.source, self.tracker, self.director):
            try:
                closable.close()
            except Exception:
                log.exception("closing %s failed", type(closable).__name__)
        self.sinks = []


# The frame, in order. This list is the architecture: change the flow here and nowhere else.
STAGES: tuple[Stage, ...] = (
    Stage("controls", "apply hotkeys and control-API commands at the frame boundary",
          App._controls),
    Stage("capture", "take the newest camera frame (the capture thread keeps only that one)",
          App._capture),
    Stage("track", "face landmarks, head pose, gaze and ARKit-52 blendshapes", App._track),
    Stage("retarget", "calibrate, smooth, apply the scene's style; ease to neutral when lost",
          App._retarget),
    Stage("render", "draw background and avatar for the current (and outgoing) scene",
          App._render),
    Stage("finish", "crossfade, badge, one readback, watermark", App._finish),
    Stage("output", "virtual camera, recorder, y4m, preview window", App._output),
)


def explain() -> str:
    """The stage order, one line per stage (``persona run --explain``)."""
    width = max(len(stage.name) for stage in STAGES)
    return "\n".join(f"{n + 1}. {stage.name:<{width}}  {stage.doc}"
                     for n, stage in enumerate(STAGES))
