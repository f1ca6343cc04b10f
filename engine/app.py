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

from engine.camera_lock import CameraPhaseLock
from engine.capture.base import Source
from engine.clock import Clock, FrameStats, Pace, Tick
from engine.director import Director
from engine.gl.compositor import Compositor
from engine.logs import REPEATS
from engine.output.base import AudioSink, Sink
from engine.retarget import Retargeter
from engine.scene_renderer import SceneRenderer
from engine.scenes import stylize
from engine.shutter import Shutter
from engine.status import Command, CommandName, Status
from engine.tracking.base import Tracker
from engine.types import AudioBlock, Expression, FaceState, Frame

log = logging.getLogger(__name__)

# A frame-to-frame gap this long is a stall the clinician saw (the picture froze): one log line.
STALL_WARN_S = 1.0


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
    """The clinician's live toggles that hide nothing (those are the shutter's)."""

    freeze: bool = False
    hud: bool = True
    quit: bool = False


class App:
    """Owns the clock, the director (scenes), the stages and the sinks for one session."""

    def __init__(self, *, clock: Clock, source: Source, tracker: Tracker, director: Director,
                 compositor: Compositor, sinks: Iterable[Sink], fps: float,
                 retargeter: Retargeter | None = None, voice=None,
                 scene_load_wait_s: float = 0.0,
                 on_frame: Callable[[App, FrameWork], None] | None = None,
                 track_recorder=None) -> None:
        from engine.idle import IdleLife

        self.clock = clock
        self.source = source
        self.tracker = tracker
        self.director = director
        self.compositor = compositor
        self.renderer = SceneRenderer(compositor.size)
        # A lost face eases to a breathing, blinking neutral instead of freezing.
        self.retargeter = retargeter or Retargeter(rest_pose=IdleLife().rest_pose)
        self.sinks = list(sinks)
        self.fps = fps
        # How long a frame may wait for a scene switch to load, and for its camera backdrop's
        # worker: 0 live (never wait), longer offline, where a frame's content must not depend
        # on how fast the machine is.
        self.scene_load_wait_s = scene_load_wait_s
        self.voice = voice  # engine.voice.live.VoiceEngine or None
        self.on_frame = on_frame
        self.track_recorder = track_recorder  # engine.tracking.replay.TrackRecorder, when asked
        self.commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self.switches = Switches()
        self.shutter = Shutter(lambda: self.voice)
        # A scene that promises anonymity never starts with the real voice on.
        director.listen(lambda live, crossfade_s: self.shutter.scene_changed(live.scene.anonymous))
        self.stats = FrameStats()
        self._last_frame: Frame | None = None
        self._last_expression = Expression.neutral()
        self._last_face: FaceState | None = None
        self._failed_sinks: set[int] = set()
        self.stage_errors: dict[str, int] = {}
        self._said: tuple[str, float] | None = None  # App.say's text and when (clock time)
        # With a camera and the tracker on a worker, frames are steered to start when the
        # camera's newest face is ready (engine.camera_lock).
        self.phase_lock: CameraPhaseLock | None = None
        listen = getattr(source, "listen", None)  # a camera: frames arrive on its own thread
        if listen is not None and hasattr(tracker, "submit"):  # a tracker on a worker
            listen(self._camera_frame)
            if hasattr(tracker, "recent_delays"):  # it times its faces
                self.phase_lock = CameraPhaseLock(clock.period)

    # -- the frame ---------------------------------------------------------------------------

    def step(self) -> FrameWork:
        """Run every stage once, then wait for the next frame's slot; never raises for a stage's
        failure.

        The frame reaches the outputs as soon as it is drawn and read back, and is on time when
        that happened by its deadline; the latency figure (capture to outputs) is measured
        there."""
        work = FrameWork(self.clock.tick())
        # Stages are timed on the clock's time, as the frame budget is (engine.clock): one read
        # per stage, and only a stage that alone overran the budget is recorded.
        now, budget = self.clock.now, self.clock.period
        mark = work.tick.t
        worst: tuple[float, str] | None = None
        started = time.perf_counter()
        for stage in STAGES:
            try:
                stage.run(self, work)
            except Exception:  # one bad frame never kills the loop
                self._report_stage_error(stage.name)
            done = now()
            if done - mark > budget:
                worst = max(worst or (0.0, ""), (done - mark, stage.name))
                self._report_overrun(stage.name, done - mark, done)
            mark = done
        finished = time.perf_counter()
        pace = self.clock.sleep_until_next(self._phase_shift(work))
        latency = finished - work.frame.t_capture if work.frame is not None else None
        face_latency = finished - work.face.t if work.face is not None and work.face.found else None
        self.stats.record(work.tick, pace, finished - started, latency, face_latency)
        if pace.span_s >= STALL_WARN_S:
            self._report_stall(pace, worst)
        if self.on_frame is not None:
            self.on_frame(self, work)
        return work

    def _phase_shift(self, work: FrameWork) -> float:
        if self.phase_lock is None or work.frame is None:
            return 0.0
        return self.phase_lock.shift(work.tick.t, work.frame.index, work.frame.t_capture,
                                     self.tracker.recent_delays())

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

    def _report_overrun(self, name: str, seconds: float, t: float) -> None:
        overruns = self.stats.stages
        if overruns.record(name, seconds, t):  # named now, for the first time: one line
            log.warning("stage %r took longer than a whole frame (%.0f ms) %d times in %.0f s; "
                        "longest %.0f ms", name, self.clock.period * 1e3, overruns.repeats,
                        overruns.within_s, overruns.longest_s[name] * 1e3)

    def _report_stall(self, pace: Pace, worst: tuple[float, str] | None) -> None:
        cause = f"; {worst[1]} took {worst[0] * 1e3:.0f} ms" if worst is not None else ""
        log.warning("the picture stalled for %.1f s (%d frames dropped)%s", pace.span_s,
                    pace.dropped, cause)

    def say(self, text: str) -> None:
        """Tell the clinician something on the HUD for a few seconds (and the log, with -v):
        that calibration finished, or why a command cannot apply."""
        log.info("%s", text)
        self._said = (text, self.clock.now())

    # -- stages ------------------------------------------------------------------------------

    def _controls(self, work: FrameWork) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                break
            self.apply(command)
        # Commands first: a blank asked for during a slow scene load applies this frame.
        self.director.poll(self.scene_load_wait_s)

    def apply(self, command: Command) -> None:
        """Carry out one control command (call from the loop's thread, or queue it).

        Switches take the wanted state (``command.on``; None flips the current one, as a hotkey
        does), so sending the same command twice changes nothing the second time; the rules
        that keep the person hidden are the shutter's (``engine.shutter``)."""
        name = command.name
        if name is CommandName.SCENE:
            self.director.request(command.argument or "")
        elif name is CommandName.QUIT:
            self.switches.quit = True
        elif name is CommandName.CALIBRATE:
            # The median of the next second of faces: one frame could catch a blink.
            self.retargeter.calibrate_next()
            for live in self.director.live:  # kinds that keep a neutral of their own (neural)
                calibrate = getattr(live.avatar.avatar, "calibrate", None)
                if calibrate is not None:
                    calibrate()
            self.say("calibrating: relax and look at the screen for a second")
        elif name in (CommandName.FREEZE, CommandName.HUD):
            current = getattr(self.switches, name.value)
            setattr(self.switches, name.value, (not current) if command.on is None else command.on)
        else:
            refusal = self.shutter.request(name, command.on, command.argument,
                                           self.director.current.scene.anonymous)
            if refusal is not None:
                self.say(refusal)

    def _camera_frame(self, frame: Frame) -> None:
        """On the camera's thread, as each frame arrives: the tracker's worker starts on it at
        once, so its face is often ready for the loop's frame that shows this picture (handed
        over by the loop, it waited up to a frame: 25-40 ms of the face's latency measured in
        ``bench e2e``). Nothing while the shutter is closed: then the camera is not tracked."""
        if not self.shutter.blank:
            self.tracker.submit(frame)

    def _capture(self, work: FrameWork) -> None:
        frame = self.source.latest()
        if frame is not None:
            self._last_frame = frame
        work.frame = self._last_frame

    def _track(self, work: FrameWork) -> None:
        if work.frame is None or self.shutter.blank:
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
        calibrating = self.retargeter.calibrating
        work.expression = stylize(self.retargeter.update(face, work.tick.t),
                                  self.director.current.scene.style)
        if calibrating and not self.retargeter.calibrating:
            self.say("neutral face captured")
        self._last_expression = work.expression

    def _backdrop(self, work: FrameWork) -> None:
        if not self.shutter.blank:
            self.renderer.update_backdrops(self.director.live, work.frame, work.face,
                                           self.scene_load_wait_s)

    def _render(self, work: FrameWork) -> None:
        expression = work.expression or self._last_expression
        self.renderer.render(self.director.live, expression, work.face, work.frame,
                             blank=self.shutter.blank)

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
                # The drained samples end about now, and were said record_delay_s before they
                # were produced: a live recorder places them by when they were said.
                said = time.perf_counter() - len(recorded) / rate - self.voice.record_delay_s()
                audio = AudioBlock(recorded, rate, said)
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

    def status(self) -> Status:
        """A snapshot for the HUD and the control page: the loop's figures, the switches, the
        voice and the scenes. Plain data, safe to hand to another thread."""
        figures = self.stats.summary()
        said = self._said
        face = self._last_face
        director = self.director
        return Status(
            scene=director.current.scene.name,
            hotkey=director.current.scene.hotkey,
            scenes=director.entries(),
            switching=director.outgoing is not None,
            crossfade=round(director.progress, 3),
            refused=director.refused.status() if director.refused is not None else None,
            face=bool(face is not None and face.found),
            confidence=float(face.confidence) if face is not None and face.found else 0.0,
            fps=figures["fps"],
            latency_ms=figures["latency_ms_p50"],
            blank=self.shutter.blank,
            freeze=self.switches.freeze,
            hud=self.switches.hud,
            panic=self.shutter.panic,
            stage_errors=sum(self.stage_errors.values()),
            voice=self.voice.status() if self.voice is not None else None,
            on_time_pct=figures["on_time_pct"],
            longest_stall_ms=figures["longest_stall_ms"],
            dropped_frames=int(figures["dropped_frames"]),
            over_budget_s=figures["over_budget_s"],
            slow_stage=figures["slow_stage"],
            suppressed_warnings=REPEATS.suppressed,
            repeated_warnings=REPEATS.most_repeated(),
            message=said[0] if said else None,
            message_age_s=round(self.clock.now() - said[1], 2) if said else 0.0,
            avatar_note=_avatar_note(director.current),
        )

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close sinks, source, tracker and scenes; each exactly once, errors logged."""
        if self.track_recorder is not None:
            self.track_recorder.flush()
        for closable in (*self.sinks, self.source, self.tracker, self.director, self.renderer):
            try:
                closable.close()
            except Exception:
                log.exception("closing %s failed", type(closable).__name__)
        self.sinks = []


# The frame, in order. This list is the architecture: change the flow here and nowhere else.
STAGES: tuple[Stage, ...] = (
    Stage("controls", "apply hotkeys and control-API commands; switch to a scene once loaded",
          App._controls),
    Stage("capture", "take the newest camera frame (the capture thread keeps only that one)",
          App._capture),
    Stage("track", "face landmarks, head pose, gaze and ARKit-52 blendshapes", App._track),
    Stage("retarget", "calibrate, smooth, apply the scene's style; ease to neutral when lost",
          App._retarget),
    Stage("backdrop", "the real room for scenes that show it: person cut out or blurred",
          App._backdrop),
    Stage("render", "fill each live scene's layer and draw its avatar over it",
          App._render),
    Stage("finish", "crossfade, badge; one readback (the driver's drawing waited for), "
          "watermark", App._finish),
    Stage("output", "virtual camera, recorder, y4m, preview window", App._output),
)
WAIT_DOC = "wait for the next frame's slot"


def explain() -> str:
    """The stage order, one line per stage (``persona run --explain``), and the wait."""
    width = max(len(stage.name) for stage in STAGES)
    lines = [f"{n + 1}. {stage.name:<{width}}  {stage.doc}" for n, stage in enumerate(STAGES)]
    lines.append(f"{'':>{len(str(len(STAGES))) + 1}} {'(wait)':<{width}}  {WAIT_DOC}")
    return "\n".join(lines)


def _avatar_note(live) -> str | None:
    """The live scene's avatar's own figures, when its kind reports any (``status_line``)."""
    status_line = getattr(live.avatar.avatar, "status_line", None) if live is not None else None
    return status_line() if status_line is not None else None
