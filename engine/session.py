"""Assembling a session: from ``Settings`` to a ready ``App``.

This is the only place that knows which concrete source, tracker, avatar loader, sinks and safety
features a session uses; everything else talks to protocols. ``persona run``, ``demo``,
``render`` and the benchmarks all come through ``build_app`` and differ only in what they pass.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

from engine.app import App, Command
from engine.capture.base import Source
from engine.clock import Clock
from engine.config import Settings
from engine.director import Director
from engine.gl.compositor import Compositor, Overlay
from engine.gl.context import GLContext
from engine.gl.programs import ShaderLibrary
from engine.output.base import Sink
from engine.scenes import Scene, load_scenes
from engine.tracking.base import Tracker

log = logging.getLogger(__name__)


@dataclass
class Session:
    """A built app and everything to close with it."""

    app: App
    gl: GLContext
    shaders: ShaderLibrary
    session_id: int
    resources: ExitStack

    def close(self) -> None:
        self.app.close()
        self.resources.close()


def offline_clock(fps: float) -> Clock:
    """A clock whose time advances exactly one frame per frame and never sleeps: renders run as
    fast as the machine allows and their timestamps are the ones a live session would have."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def time_fn() -> float:
        return now[0]

    # Each frame's work takes no fake time; the wait to the next deadline moves time on.
    return Clock(fps, time_fn=time_fn, sleep_fn=sleep, spin_s=0.0)


def make_source(settings: Settings, realtime: bool = True) -> Source:
    from engine.capture import open_source

    return open_source(settings.source, size=settings.size, fps=settings.fps, loop=realtime,
                       realtime=realtime)


def make_tracker(settings: Settings) -> Tracker:
    from engine.tracking.drivers import open_tracker

    return open_tracker(settings.tracker)


def avatar_loader(gl: GLContext, shaders: ShaderLibrary, settings: Settings,
                  audit=None) -> Callable[[Scene], object]:
    """Loads a scene's avatar, refusing a real person's likeness without valid consent."""
    from engine.avatar.loader import load_avatar

    def load(scene: Scene):
        avatar = load_avatar(scene.avatar, gl, shaders, use=settings.use)
        if audit is not None:
            audit.record("avatar_load", avatar=scene.avatar, scene=scene.name)
        return avatar

    return load


def badge_overlay(text: str, size: tuple[int, int]) -> Overlay:
    """The visible "AI avatar" disclosure, bottom-left, scaled with the frame."""
    from engine.safety.badge import render_badge

    width, height = size
    rgba = render_badge(text, max(18, height // 24))
    badge_h, badge_w = rgba.shape[:2]
    margin = height / 40
    return Overlay(rgba, (margin / width, 1.0 - (badge_h + margin) / height,
                          badge_w / width, badge_h / height))


def build_app(settings: Settings, *, source: Source | None = None,
              tracker: Tracker | None = None, sinks: list[Sink] | None = None,
              clock: Clock | None = None, scenes: list[Scene] | None = None,
              voice=None, realtime: bool = True) -> Session:
    """Everything for one session, opened and ready to ``run``; close with ``Session.close``."""
    resources = ExitStack()
    try:
        return _build(settings, resources, source, tracker, sinks, clock, scenes, voice, realtime)
    except BaseException:
        resources.close()
        raise


def _build(settings, resources, source, tracker, sinks, clock, scenes, voice, realtime):
    from engine.output.factory import open_sinks

    specs = [spec for spec in settings.sinks if spec != "window"] if sinks is None else []
    preview = settings.preview or (sinks is None and "window" in settings.sinks)
    gl = GLContext.create(settings.size if preview else None)
    resources.callback(gl.close)
    shaders = ShaderLibrary(gl.ctx)
    resources.callback(shaders.release)
    compositor = Compositor(gl.ctx, shaders, settings.size)
    resources.callback(compositor.release)
    session_id = secrets.randbits(32)

    audit = None
    if settings.audit_log:
        from engine.safety.audit import AuditLog

        audit = AuditLog(settings.audit_log)
    compositor.set_watermark(_watermark(session_id, settings.size))

    from engine.retarget import Retargeter

    scene_list = scenes if scenes is not None else load_scenes(settings.scenes_dir)
    director = Director(scene_list, compositor, avatar_loader(gl, shaders, settings, audit),
                        Retargeter(), crossfade_s=settings.crossfade_s, initial=settings.scene,
                        audit=audit)

    def on_switch(scene: Scene) -> None:
        if settings.badge:
            compositor.set_badge(badge_overlay(scene.badge, settings.size))
        if voice is not None and scene.voice:
            voice.set_preset(scene.voice)

    director.on_switch = on_switch
    on_switch(director.current.scene)
    if not settings.badge:
        log.warning("the 'AI avatar' badge is off: viewers are not told this is synthetic")
        if audit is not None:
            audit.record("badge_off")

    source = source or make_source(settings, realtime)
    source.start()
    tracker = tracker or make_tracker(settings)
    audio_rate = voice.state()["sample_rate"] if voice is not None else None
    opened = list(sinks) if sinks is not None else open_sinks(specs, *settings.size, settings.fps,
                                                              audio_rate)
    for sink in opened if sinks is not None else []:
        sink.open(*settings.size, settings.fps)

    app = App(clock=clock or Clock(settings.fps), source=source, tracker=tracker,
              director=director, compositor=compositor, sinks=opened, fps=settings.fps,
              voice=voice)
    if preview:
        from engine.hud import Hud
        from engine.output.window import WindowSink

        hud = Hud(settings.size)
        window = WindowSink(
            gl, shaders, settings.keys,
            on_command=lambda name: app.commands.put(Command(*name.split(":", 1))),
            overlay=lambda: hud.render(app.status()) if app.switches.hud else None,
            confirm_quit=lambda: any(type(s).__name__ == "VirtualCameraSink" for s in opened),
        )
        window.open(*settings.size, settings.fps)
        app.sinks.append(window)
    return Session(app, gl, shaders, session_id, resources)


def _watermark(session_id: int, size: tuple[int, int]):
    from engine.safety.watermark import Watermark

    started = time.perf_counter()
    pattern = Watermark(session_id, *size).pattern
    log.debug("watermark pattern for session %08x in %.0f ms", session_id,
              (time.perf_counter() - started) * 1e3)
    return pattern
