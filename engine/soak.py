"""``persona bench soak``: a long session under the stress a real one sees, in real time.

The whole app runs paced at 30 fps on the synthetic source with the scripted performer: a scene
switch every 2 s (round the shipped scenes' hotkeys), the face lost for 5 s of every 15 s, the
HUD rendered every frame as the preview would, the control server answering a status poll every
second, and halfway through one scene file is broken on
disk (a typo'd field), so every later switch to it must be refused while the session goes on.

Figures: whether the loop survived (``crashed`` 0/1), stage errors, switches asked / made /
refused, resident memory growth after warm-up (target < 20 MB over 10 minutes), and the frame
watchdog's figures after warm-up: the longest stall (``longest_stall_ms``, the longest
frame-to-frame gap: a scene load that held the loop shows here), dropped frames, time over
budget, a stage that kept overrunning (``slow_stage``), the on-time rate counting dropped slots,
fps and frame-time percentiles. The default run is 60 s; ``--seconds 600`` is the full
ten-minute soak.

The session comes from ``engine.session.build_app``, exactly as ``persona run`` builds it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from engine.app import Command
from engine.clock import FrameStats
from engine.config import Settings
from engine.errors import EngineError
from engine.hud import Hud
from engine.resources import SHIPPED_ROOT, SearchPath
from engine.scenes import load_scenes
from engine.types import FaceState, Frame

log = logging.getLogger(__name__)

SWITCH_EVERY_S = 2.0
FACE_CYCLE_S = 15.0
FACE_LOST_S = 5.0
BROKEN_FIELD = "intesity = 1.0  # typo injected by the soak\n"


def rss_mb() -> float:
    """Resident set size of this process, MiB (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class DroppingTracker:
    """Wraps a tracker and loses the face for ``lost_s`` of every ``cycle_s`` seconds."""

    def __init__(self, inner, cycle_s: float = FACE_CYCLE_S, lost_s: float = FACE_LOST_S) -> None:
        self.inner, self.cycle_s, self.lost_s = inner, cycle_s, lost_s
        self._t0: float | None = None
        self.drops = 0
        self._was_lost = False

    def track(self, frame: Frame) -> FaceState:
        if self._t0 is None:
            self._t0 = frame.t_capture
        phase = (frame.t_capture - self._t0) % self.cycle_s
        lost = phase >= self.cycle_s - self.lost_s
        if lost and not self._was_lost:
            self.drops += 1
        self._was_lost = lost
        return FaceState.lost(frame.t_capture) if lost else self.inner.track(frame)

    def close(self) -> None:
        self.inner.close()


class _StatusPoller(threading.Thread):
    """A second screen's worth of control traffic: GET /api/status once a second."""

    def __init__(self, server) -> None:
        super().__init__(name="soak-poller", daemon=True)
        self.server = server
        self.ok = self.failed = 0
        self._halt = threading.Event()

    def run(self) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{self.server.port}/api/status",
                                         headers={"Authorization": f"Bearer {self.server.token}"})
        while not self._halt.wait(1.0):
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    json.loads(response.read())
                self.ok += 1
            except (OSError, ValueError):
                self.failed += 1

    def stop(self) -> None:
        self._halt.set()
        self.join(5.0)


def _copy_scenes(folder: Path) -> list:
    """The shipped scenes, copied so the soak can break one without touching the project."""
    (folder / "scenes").mkdir()
    for path in SearchPath([SHIPPED_ROOT]).list("scenes", "*.toml"):
        shutil.copy(path, folder / "scenes" / path.name)
    voices = SHIPPED_ROOT / "scenes" / "voices"
    if voices.is_dir():
        shutil.copytree(voices, folder / "scenes" / "voices")
    return load_scenes(SearchPath([folder]))


def _session(settings: Settings, scenes: list, tracker):
    """The app and its closer, built as a live session is."""
    from engine.capture.synthetic import SyntheticSource
    from engine.output.null import NullSink
    from engine.session import build_app

    session = build_app(settings, source=SyntheticSource(settings.size, settings.fps),
                        tracker=tracker, sinks=[NullSink()], scenes=scenes)
    return session.app, session.close


def bench_soak(seconds: float | None) -> dict[str, float]:
    from engine.performer import ScriptedPerformer

    seconds = 60.0 if seconds is None else float(seconds)
    settings = Settings(source="synthetic", sinks=[], use="demo")
    with tempfile.TemporaryDirectory(prefix="persona-soak-") as folder:
        scenes = _copy_scenes(Path(folder))
        keys = [scene.hotkey or scene.name for scene in scenes]
        if len(keys) < 2:
            raise EngineError("the soak needs at least two scenes in scenes/")
        tracker = DroppingTracker(ScriptedPerformer())
        app, close = _session(settings, scenes, tracker)
        hud = Hud(settings.size)
        from engine.control import attach

        control = attach(app)
        poller = _StatusPoller(control)
        poller.start()
        # Warm-up: every scene loaded once (first uploads, shader compiles, allocator pools).
        warm_up_s = min(max(seconds * 0.1, 1.5 * SWITCH_EVERY_S * len(keys)), seconds / 2)
        broken = scenes[1].path  # a scene that works until it is broken
        crashed = 0.0
        asked = made = refused = refused_early = 0
        rss_warm = rss_peak = 0.0
        try:
            started = time.perf_counter()
            next_switch = started + SWITCH_EVERY_S
            injected = False
            stats_reset = False
            turn = 0
            # A switch loads off the loop and lands frames later: (scene before it, refusal
            # before it) until it is made or refused.
            pending = None
            while (now := time.perf_counter()) - started < seconds:
                if now >= next_switch:
                    turn += 1
                    key = keys[turn % len(keys)]
                    pending = (app.director.current.scene.name, app.director.refused)
                    app.commands.put(Command("scene", key))
                    asked += 1
                    next_switch += SWITCH_EVERY_S
                if not injected and now - started >= seconds / 2:
                    broken.write_text(broken.read_text().replace("[style]\n",
                                                                 "[style]\n" + BROKEN_FIELD))
                    injected = True
                app.step()
                if pending is not None:
                    before, last_refusal = pending
                    if app.director.current.scene.name != before:
                        made += 1
                        pending = None
                    elif app.director.refused is not last_refusal:
                        refused += 1
                        refused_early += not injected
                        pending = None
                hud.render(control.board.latest())  # as the preview would, from the board
                if not stats_reset and now - started >= warm_up_s:
                    app.stats = FrameStats(window=int(seconds * settings.fps))
                    rss_warm = rss_peak = rss_mb()
                    stats_reset = True
                elif stats_reset and app.stats.frames % int(settings.fps) == 0:
                    rss_peak = max(rss_peak, rss_mb())
        except Exception:
            log.exception("the soak's loop crashed")
            crashed = 1.0
        finally:
            rss_end = rss_mb()
            poller.stop()
            control.stop()
            figures = app.stats.summary()
            stage_errors = float(sum(app.stage_errors.values()))
            close()
    return {
        "seconds": seconds,
        "crashed": crashed,
        "stage_errors": stage_errors,
        "switches_asked": float(asked),
        "switches_made": float(made),
        "switches_refused": float(refused),
        "switches_refused_before_injection": float(refused_early),
        "control_polls_ok": float(poller.ok),
        "control_polls_failed": float(poller.failed),
        "face_drops": float(tracker.drops),
        "broken_scene_injected_at_s": seconds / 2,
        "rss_after_warm_up_mb": round(rss_warm, 1),
        "rss_growth_mb": round(rss_end - rss_warm, 2),
        "rss_peak_growth_mb": round(max(rss_peak, rss_end) - rss_warm, 2),
        **figures,
    }
