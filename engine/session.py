"""Assembling a session: from ``Settings`` to a ready ``App``.

This is the only place that knows which concrete source, tracker, avatar loader, sinks and safety
features a session uses; everything else talks to protocols. ``persona run``, ``demo``,
``render`` and the benchmarks all come through ``build_app`` and differ only in what they pass.

What a session writes to disk is decided here too: nothing, unless a recording or a track file is
asked for, and then encrypted (AES-256-GCM, key from the passphrase in ``PERSONA_PASSPHRASE``)
unless the user explicitly opts out.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.app import App
from engine.avatar.base import LoadedAvatar
from engine.capture.base import Source
from engine.clock import Clock
from engine.config import Settings
from engine.control.board import StatusBoard
from engine.director import LOAD_TIMEOUT_S, Director, voice_follower
from engine.errors import ConfigError
from engine.gl.compositor import Compositor, Overlay
from engine.gl.context import GLContext
from engine.gl.programs import ShaderLibrary
from engine.output.base import Sink
from engine.output.factory import (OpenedSinks, SinkSpec, open_sinks, parse_sinks, preview_spec,
                                   refuse_mixed_frames)
from engine.scene_loader import AvatarLoader, SceneLoader
from engine.scenes import Scene, load_scene, load_scenes, resolve_avatar
from engine.status import Command
from engine.tracking.base import Tracker

if TYPE_CHECKING:
    from engine.control.server import ControlServer

log = logging.getLogger(__name__)


@dataclass
class Session:
    """A built app and everything to close with it."""

    app: App
    gl: GLContext
    shaders: ShaderLibrary
    session_id: int
    board: StatusBoard
    resources: ExitStack
    control_url: str | None = None
    control: ControlServer | None = None

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


def make_tracker(settings: Settings, realtime: bool = True) -> Tracker:
    """The configured face input; live, on a worker thread so the loop never waits for it."""
    from engine.tracking.drivers import open_tracker

    if not realtime:
        return open_tracker(settings.tracker)
    from engine.tracking.threaded import ThreadedTracker

    return ThreadedTracker(lambda: open_tracker(settings.tracker))


def avatar_loader(gl: GLContext, shaders: ShaderLibrary, settings: Settings,
                  audit=None) -> AvatarLoader:
    """Loads a scene's avatar (a name, or a path relative to the scene file), refusing a real
    person's likeness without valid consent for the session's use (the check is audited). The
    files are read where it is called (the director's loading worker); the returned function
    puts the avatar on the GPU (the loop's thread)."""
    from engine.avatar.loader import prepare_avatar

    def load(scene: Scene) -> Callable[[], LoadedAvatar]:
        prepared = prepare_avatar(resolve_avatar(scene, shaders.search), shaders.search,
                                  use=settings.use, audit=audit)

        def open_on_gpu() -> LoadedAvatar:
            avatar = prepared.open(gl, shaders)
            if audit is not None:
                audit.record("avatar_load", avatar=scene.avatar, scene=scene.name)
            return avatar

        return open_on_gpu

    return load


def badge_overlay(badge, size: tuple[int, int]) -> Overlay:
    """The visible disclosure (``engine.safety.badge.BadgeSettings``) as a compositor overlay."""
    from engine.safety.badge import render_badge

    width, height = size
    rgba = render_badge(badge.text, badge.height_px(height))
    badge_h, badge_w = rgba.shape[:2]
    x, y = badge.placement(badge_w, badge_h, width, height)
    return Overlay(rgba, (x / width, y / height, badge_w / width, badge_h / height))


def build_app(settings: Settings, *, source: Source | None = None,
              tracker: Tracker | None = None, sinks: list[Sink] | None = None,
              clock: Clock | None = None, scenes: list[Scene] | None = None,
              voice=None, realtime: bool = True) -> Session:
    """Everything for one session, opened and ready to ``run``; close with ``Session.close``.

    ``sinks`` given here are opened by the session; otherwise ``settings.sinks`` are made from
    their specs. ``voice`` is a live ``VoiceEngine`` (or the offline stand-in) or None.
    """
    resources = ExitStack()
    try:
        return _build(settings, resources, source, tracker, sinks, clock, scenes, voice, realtime)
    except BaseException:
        resources.close()
        raise


def _build(settings: Settings, resources: ExitStack, source, tracker, sinks, clock, scenes,
           voice, realtime) -> Session:
    windows = [] if sinks is not None else [
        window for window in (preview_spec(parse_sinks(spec)) for spec in settings.sinks) if window]
    preview = settings.preview or bool(windows)
    if sinks is None:  # before anything opens
        refuse_mixed_frames([specs for specs in map(parse_sinks, settings.sinks)
                             if preview_spec(specs) is None], preview)
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
    # Devices first: a missing camera or virtual camera should fail in a second, not after
    # every avatar has loaded.
    source = source or make_source(settings, realtime)
    source.start()
    resources.callback(source.close)
    opened = _open_sinks(settings, sinks, voice, resources, audit)
    if any(getattr(sink, "channels", 3) == 4 for sink in opened):  # engine.output.recorder
        compositor.set_transparent(True)
    tracker = tracker or make_tracker(settings, realtime)
    resources.callback(tracker.close)
    track_recorder = None
    if settings.record_track:
        from engine.output.storage import storage_stream
        from engine.tracking.replay import record_track

        stream = storage_stream(settings.record_track, settings, "track file", audit)
        resources.callback(stream.close)
        track_recorder = record_track(stream)

    from engine.safety.watermark import Watermark

    compositor.set_watermark(Watermark(session_id, *settings.size).pattern)
    log.info("session %08x: output watermarked", session_id)

    scene_list = scenes if scenes is not None else load_scenes(settings.scenes_dir)
    scene_list = _with_scene_file(scene_list, settings.scene)
    loader = SceneLoader(avatar_loader(gl, shaders, settings, audit))
    # Live, a starting scene that cannot load gives way to one that can, behind the card (below);
    # a render must show the scene it was asked for, or fail.
    director = Director(scene_list, compositor.layers, loader, crossfade_s=settings.crossfade_s,
                        initial=settings.scene, audit=audit, fallback=realtime)
    resources.callback(director.close)
    director.preload()  # every scene's avatar now, not on the first switch mid-session
    if voice is not None:
        director.listen(voice_follower(voice))

    from engine.safety.badge import BadgeSettings, record_change

    def badge_for(scene: Scene) -> BadgeSettings:
        try:
            return BadgeSettings(enabled=settings.badge, text=scene.badge,
                                 position=settings.badge_position,
                                 height_fraction=settings.badge_height)
        except ValueError as error:
            raise ConfigError(f"settings: {error}") from None

    def show_badge(scene: Scene) -> None:
        badge = badge_for(scene)
        compositor.set_badge(badge_overlay(badge, settings.size) if badge.enabled else None)

    director.listen(lambda live, crossfade_s: show_badge(live.scene))
    follow_arms = getattr(tracker, "set_upper_body", None)  # the camera tracker's MediaPipe Pose
    if follow_arms is not None:
        director.listen(lambda live, crossfade_s: follow_arms(live.scene.upper_body))
    # Against the default (on), so that a session that starts with the badge off is logged.
    record_change(BadgeSettings(text=director.current.scene.badge),
                  badge_for(director.current.scene), audit)

    app = App(clock=clock or Clock(settings.fps), source=source, tracker=tracker,
              scene_load_wait_s=0.0 if realtime else LOAD_TIMEOUT_S,
              director=director, compositor=compositor, sinks=opened, fps=settings.fps,
              voice=voice, track_recorder=track_recorder)
    if director.refused is not None:
        # Never another avatar silently: the card stays up, with the reason on the HUD, until
        # the clinician takes it down.
        app.apply(Command("blank", on=True))
        log.error("starting on the blank card: scene %r cannot load (%s)",
                  director.refused.scene, director.refused.reason)
    for fallback in opened.fallbacks:  # the log has them already; the HUD too
        app.say(f"output fell back: {fallback}")
    board = StatusBoard()
    app.on_frame = board.on_frame
    if settings.dev:
        app.on_frame = _with_shader_reload(board.on_frame, shaders)
    board.publish(app.status())
    session = Session(app, gl, shaders, session_id, board, resources)
    if preview:
        _open_window(session, settings, opened, windows[0] if windows else SinkSpec("window"))
    if settings.control or settings.control_lan:  # a settings file may give control_lan alone
        from engine.control.server import ControlServer

        server = ControlServer.for_settings(app.commands, board, settings)
        server.start()
        resources.callback(server.stop)
        session.control_url = server.url
        session.control = server
    if settings.global_keys:
        from engine.control.hotkeys import GlobalHotkeys

        hotkeys = GlobalHotkeys(settings.global_keys, app.commands)
        hotkeys.start()  # a combo it cannot have is logged once; the session goes on
        resources.callback(hotkeys.stop)
    return session


def _with_scene_file(scenes: list[Scene], wanted: str | None) -> list[Scene]:
    """The scene list, plus the scene file ``--scene`` names when it is not on the search path
    (a broken file is an error here: the user asked for exactly that scene)."""
    if not wanted or not wanted.endswith(".toml") or not Path(wanted).is_file():
        return scenes
    path = Path(wanted).resolve()
    if any(scene.path is not None and scene.path.resolve() == path for scene in scenes):
        return scenes
    scene = load_scene(path)
    taken = {listed.hotkey for listed in scenes}
    if scene.hotkey in taken:
        scene = dataclasses.replace(scene, hotkey=None)
    return [scene, *scenes]


def _open_sinks(settings: Settings, sinks: list[Sink] | None, voice, resources: ExitStack,
                audit=None) -> OpenedSinks:
    """The given sinks, opened; or the settings' sinks, with recordings kept by the storage
    rules. Either way an ``OpenedSinks``, whose ``fallbacks`` say which alternatives were
    skipped and why."""
    from functools import partial

    from engine.output.storage import StoredRecording

    size, fps = settings.size, settings.fps
    if sinks is not None:
        for sink in sinks:
            sink.open(*size, fps)
            resources.callback(sink.close)
        return OpenedSinks(sinks)
    audio_rate = voice.sample_rate if voice is not None else None
    # The preview window owns GL, so _open_window opens it, not the factory.
    specs = [spec for spec in map(parse_sinks, settings.sinks) if preview_spec(spec) is None]
    opened = open_sinks(specs, *size, fps, audio_rate,
                        recorder=partial(StoredRecording, settings=settings, audit=audit))
    for sink in opened:
        resources.callback(sink.close)
    return opened


def _with_shader_reload(on_frame, shaders: ShaderLibrary, interval_s: float = 0.5):
    """``on_frame`` plus, twice a second, recompiling shaders whose files changed (dev mode)."""
    next_check = [0.0]

    def chained(app: App, work) -> None:
        on_frame(app, work)
        now = time.monotonic()
        if now >= next_check[0]:
            next_check[0] = now + interval_s
            shaders.reload_changed()

    return chained


def _open_window(session: Session, settings: Settings, opened: list[Sink],
                 spec: SinkSpec) -> None:
    from engine.hud import DETAIL_ACTION, Hud
    from engine.output.window import WindowSink

    app = session.app
    hud = Hud(settings.size)
    live_camera = any(type(sink).__name__ == "VirtualCameraSink" for sink in opened)

    def overlay():  # with the HUD off it still draws the privacy flags: a hidden flag is a leak
        status = session.board.latest()
        # Read each time: the server starts after the window, and its code changes on pairing.
        pairing = session.control.pairing_text if session.control is not None else None
        return None if status is None else hud.render_if_changed(
            status, notice=window.notice or pairing)

    def on_command(text: str) -> None:
        if text == DETAIL_ACTION:  # the HUD's detail view is the window's, not the loop's
            hud.detail = not hud.detail
        else:
            app.commands.put(Command.parse(text))

    window = WindowSink(session.gl, session.shaders, settings.keys, on_command=on_command,
                        overlay=overlay, confirm_quit=lambda: live_camera,
                        mirrored=spec.mirrored)
    window.open(*settings.size, settings.fps)
    session.resources.callback(window.close)
    app.sinks.append(window)
