"""The director: which scene is on, and switching between scenes with a crossfade.

A switch is requested by name or hotkey (``request``) and loads on a worker: the scene file is
read again (so an edit made during a session takes effect, and a file broken during a session is
caught), then the ``SceneLoader`` reads and decodes what the scene shows. The loop keeps drawing
the current scene meanwhile and, at a frame boundary once the load is ready (``poll``), makes its
GL resources and switches — or, if the load failed or took longer than ``LOAD_TIMEOUT_S``,
refuses it with a message and the current scene stays on. Nothing that hides the person waits
for a load: those commands never pass through here. During the crossfade both scenes are live,
each in its own layer, and the compositor blends them.

Whoever follows the scene (the badge, the voice preset) listens with ``listen``; the director
knows nothing about them.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import EngineError
from engine.gl.compositor import SceneLayer
from engine.scene_loader import LiveScene, PreparedScene, SceneLoader
from engine.scenes import Scene, load_scene
from engine.status import Refusal, SceneEntry
from engine.worker import LatestWorker

log = logging.getLogger(__name__)

# Called with the scene now on and how long its crossfade takes (0 for the first scene).
SwitchListener = Callable[[LiveScene, float], None]
LOAD_TIMEOUT_S = 10.0  # a scene that takes longer to load is refused


@dataclass(frozen=True)
class _Request:
    number: int
    listed: Scene  # as the scene list has it
    cached: frozenset[str]  # avatars the loader need not read again


@dataclass(frozen=True)
class _Loaded:
    number: int
    listed: Scene
    prepared: PreparedScene | None
    error: str | None = None


@dataclass(frozen=True)
class _Pending:
    number: int
    name: str
    since: float  # time.monotonic()


@dataclass(frozen=True)
class Refused:
    """The last scene that could not be switched to, and why (shown on the HUD)."""

    scene: str
    reason: str
    at: float  # time.monotonic()

    def status(self) -> Refusal:
        return Refusal(self.scene, self.reason, round(time.monotonic() - self.at, 1))


class Director:
    """Holds the scene list, the live scene and the outgoing one during a crossfade."""

    def __init__(self, scenes: list[Scene], layers: tuple[SceneLayer, SceneLayer],
                 loader: SceneLoader, crossfade_s: float = 0.4, initial: str | None = None,
                 audit=None, load_timeout_s: float = LOAD_TIMEOUT_S,
                 fallback: bool = True) -> None:
        if not scenes:
            raise EngineError("no scenes to show; add a scene file to scenes/")
        self.scenes = list(scenes)
        self.layers = layers
        self.loader = loader
        self.crossfade_s = crossfade_s
        self.audit = audit
        self.load_timeout_s = load_timeout_s
        self.refused: Refused | None = None
        self._listeners: list[SwitchListener] = []
        self._free_layer = 1
        self._loads: LatestWorker[_Request, _Loaded] = LatestWorker(self._prepare, "scene-loader")
        self._requests = 0
        self._pending: _Pending | None = None
        try:
            self.current = self._start(self.find(initial) if initial else self.scenes[0],
                                       fallback)
        except BaseException:
            self._loads.close()
            loader.close()
            raise
        self.outgoing: LiveScene | None = None
        self._switch_started: float | None = None
        self._progress = 1.0
        self._notify(self.current, 0.0)

    def _start(self, wanted: Scene, fallback: bool) -> LiveScene:
        """The first scene: the one asked for. If it cannot load, a render (``fallback``
        False) fails; a live session starts on the first scene in hotkey order that loads —
        with ``refused`` saying why, so the session can keep the card up until the clinician
        has seen it — rather than not at all."""
        try:
            return self.loader.load(wanted, self.layers[0])
        except Exception as error:
            if not fallback:
                raise EngineError(f"scene {wanted.name!r} cannot load: {error}") from error
            log.error("scene %r cannot start: %s", wanted.name, error)
            self.refused = Refused(wanted.name, str(error), time.monotonic())
            reasons = [f"{wanted.name}: {error}"]
        for scene in (s for s in self.scenes if s is not wanted):
            try:
                return self.loader.load(scene, self.layers[0])
            except Exception as error:
                log.error("scene %r cannot start: %s", scene.name, error)
                reasons.append(f"{scene.name}: {error}")
        raise EngineError("no scene could be loaded; " + "; ".join(reasons))

    def listen(self, listener: SwitchListener) -> None:
        """Call ``listener`` on every switch, and once now for the current scene."""
        self._listeners.append(listener)
        listener(self.current, 0.0)

    def find(self, key: str) -> Scene:
        """A scene by hotkey, list position (1-based), name, file stem or file path."""
        path = Path(key).resolve() if key.endswith(".toml") else None
        for scene in self.scenes:
            if key in (scene.hotkey, scene.name) or (scene.path and scene.path.stem == key):
                return scene
            if path is not None and scene.path is not None and scene.path.resolve() == path:
                return scene
        if key.isdigit() and 1 <= int(key) <= len(self.scenes):
            return self.scenes[int(key) - 1]
        names = ", ".join(scene.name for scene in self.scenes)
        raise EngineError(f"no scene {key!r}; scenes: {names}")

    def request(self, key: str) -> bool | None:
        """Ask for a scene. False: refused at once (``refused`` says why); True: it is already
        on; None: loading — ``poll`` switches when it is ready. A newer request replaces one
        not yet finished."""
        try:
            scene = self.find(key)
        except EngineError as error:
            self._refuse(key, str(error))
            return False
        if scene is self.current.scene:
            self._pending = None  # asking for the scene that is on cancels a pending switch
            return True
        self._requests += 1
        self._pending = _Pending(self._requests, scene.name, time.monotonic())
        self._loads.submit(_Request(self._requests, scene, self.loader.cached()))
        return None

    def poll(self, wait_s: float = 0.0) -> bool | None:
        """Switch to the requested scene if its load is ready, waiting at most ``wait_s``
        (0 live: the loop never waits; an offline render waits so its frames are exact).
        True: switched; False: refused; None: nothing pending, or still loading."""
        pending = self._pending
        if pending is None:
            return None
        loaded = self._loads.wait_for(lambda done: done.number == pending.number, wait_s)
        if loaded is None:
            if time.monotonic() - pending.since <= self.load_timeout_s:
                return None
            self._pending = None
            # The worker is stuck on that load: leave it behind (its thread is a daemon).
            self._loads.close(timeout=0.0)
            self._loads = LatestWorker(self._prepare, "scene-loader")
            self._refuse(pending.name, f"loading took longer than {self.load_timeout_s:g} s")
            return False
        self._pending = None
        if loaded.error is not None:
            self._refuse(loaded.listed.name, loaded.error)
            return False
        scene = self._relist(loaded.listed, loaded.prepared.scene)
        try:
            incoming = self.loader.make_live(loaded.prepared, self.layers[self._free_layer])
        except Exception as error:  # a broken scene never stops the session
            self._refuse(scene.name, str(error))
            return False
        if self.outgoing is not None:
            self.outgoing.release()
        self.outgoing, self.current = self.current, incoming
        self._free_layer = 1 - self._free_layer
        self._switch_started = None  # stamped by the first finish of the new scene
        self._progress = 0.0
        self.refused = None
        self._notify(incoming, self.crossfade_s)
        return True

    def switch(self, key: str) -> bool:
        """Request a scene and wait for it: True when it is on, False if refused (the current
        scene stays on and ``refused`` says why)."""
        answer = self.request(key)
        while answer is None:
            answer = self.poll(wait_s=self.load_timeout_s)
        return answer

    @property
    def loading(self) -> str | None:
        """The scene being loaded, if any."""
        return self._pending.name if self._pending is not None else None

    def _prepare(self, request: _Request) -> _Loaded:
        """On the loading worker: the scene file again, then its files."""
        try:
            listed = request.listed
            scene = listed
            if listed.path is not None:
                # Hotkeys were settled when the list was made (duplicates resolved); keep them.
                scene = dataclasses.replace(load_scene(listed.path), hotkey=listed.hotkey)
            return _Loaded(request.number, listed, self.loader.prepare(scene, request.cached))
        except Exception as error:
            return _Loaded(request.number, request.listed, None, str(error))

    def preload(self) -> list[str]:
        """Every scene's avatar, loaded now; the problems found (``SceneLoader.preload``)."""
        return self.loader.preload(self.scenes)

    def _relist(self, listed: Scene, fresh: Scene) -> Scene:
        """Put the scene as its file says now into the list, so the HUD shows edits too."""
        if fresh != listed:
            for index, scene in enumerate(self.scenes):
                if scene is listed:
                    self.scenes[index] = fresh
        return fresh

    def _refuse(self, name: str, reason: str) -> None:
        log.error("scene %r refused, staying on %r: %s", name, self.current.scene.name, reason)
        self.refused = Refused(name, reason, time.monotonic())
        if self.audit is not None:
            self.audit.record("scene_refused", scene=name)

    def _notify(self, live: LiveScene, crossfade_s: float) -> None:
        log.info("scene: %s", live.scene.name)
        if self.audit is not None:
            self.audit.record("scene_switch", scene=live.scene.name)
        for listener in self._listeners:
            listener(live, crossfade_s)

    @property
    def live(self) -> tuple[LiveScene, ...]:
        """The scenes to draw this frame: the current one, and the outgoing one while fading."""
        return (self.current,) if self.outgoing is None else (self.current, self.outgoing)

    def layers_for_finish(self, t: float) -> tuple[SceneLayer, SceneLayer | None, float]:
        """(current layer, outgoing layer or None, how much of the outgoing still shows)."""
        if self.outgoing is None:
            return self.current.layer, None, 0.0
        if self._switch_started is None:
            self._switch_started = t
        progress = (t - self._switch_started) / self.crossfade_s if self.crossfade_s > 0 else 1.0
        self._progress = min(progress, 1.0)
        if progress >= 1.0:
            self.outgoing.release()
            self.outgoing = None
            return self.current.layer, None, 0.0
        return self.current.layer, self.outgoing.layer, 1.0 - progress

    @property
    def progress(self) -> float:
        """How far the running crossfade is, 1.0 when none runs."""
        return self._progress

    def entries(self) -> tuple[SceneEntry, ...]:
        return tuple(SceneEntry(scene.name, scene.hotkey,
                                scene.path.stem if scene.path else scene.name, scene.badge)
                     for scene in self.scenes)

    def close(self) -> None:
        """Release the live scenes and the avatars; safe to call more than once."""
        self._loads.close()
        self._pending = None
        for live in (self.current, self.outgoing):
            if live is not None:
                live.release()
        self.outgoing = None
        self.loader.close()


def voice_follower(voice) -> SwitchListener:
    """A listener that crossfades ``voice`` (anything with ``set_preset(preset, crossfade_s)``)
    to each scene's preset over the picture's crossfade; the identity preset when a scene names
    none."""
    from engine.voice.presets import VoicePreset

    def follow(live: LiveScene, crossfade_s: float) -> None:
        voice.set_preset(live.voice_preset or VoicePreset(), crossfade_s)

    return follow
