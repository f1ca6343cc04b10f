"""The director: which scene is on, and switching between scenes with a crossfade.

A switch is requested by name or hotkey and happens at the next frame boundary: the scene file is
read again (so an edit made during a session takes effect, and a file broken during a session is
caught), then the ``SceneLoader`` makes the new scene ready *before* anything changes, so a
broken scene is refused with a message and the current one stays on. During the crossfade both
scenes are live, each in its own layer, and the compositor blends them.

Whoever follows the scene (the badge, the voice preset) listens with ``listen``; the director
knows nothing about them.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.errors import EngineError
from engine.gl.compositor import SceneLayer
from engine.scene_loader import LiveScene, SceneLoader
from engine.scenes import Scene, load_scene
from engine.status import Refusal, SceneEntry

log = logging.getLogger(__name__)

# Called with the scene now on and how long its crossfade takes (0 for the first scene).
SwitchListener = Callable[[LiveScene, float], None]


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
                 audit=None) -> None:
        if not scenes:
            raise EngineError("no scenes to show; add a scene file to scenes/")
        self.scenes = list(scenes)
        self.layers = layers
        self.loader = loader
        self.crossfade_s = crossfade_s
        self.audit = audit
        self.refused: Refused | None = None
        self._listeners: list[SwitchListener] = []
        self._free_layer = 1
        try:
            self.current = self._start(self.find(initial) if initial else self.scenes[0])
        except BaseException:
            loader.close()
            raise
        self.outgoing: LiveScene | None = None
        self._switch_started: float | None = None
        self._progress = 1.0
        self._notify(self.current, 0.0)

    def _start(self, wanted: Scene) -> LiveScene:
        """The first scene: the one asked for, else the first in hotkey order that loads —
        a session should start on a working scene rather than not at all."""
        reasons = []
        for scene in [wanted, *(s for s in self.scenes if s is not wanted)]:
            try:
                return self.loader.make_live(scene, self.layers[0])
            except Exception as error:
                log.error("scene %r cannot start: %s", scene.name, error)
                reasons.append(f"{scene.name}: {error}")
        raise EngineError("no scene could be loaded; " + "; ".join(reasons))

    def listen(self, listener: SwitchListener) -> None:
        """Call ``listener`` on every switch, and once now for the current scene."""
        self._listeners.append(listener)
        listener(self.current, 0.0)

    def find(self, key: str) -> Scene:
        """A scene by hotkey, list position (1-based), name or file stem."""
        for scene in self.scenes:
            if key in (scene.hotkey, scene.name) or (scene.path and scene.path.stem == key):
                return scene
        if key.isdigit() and 1 <= int(key) <= len(self.scenes):
            return self.scenes[int(key) - 1]
        names = ", ".join(scene.name for scene in self.scenes)
        raise EngineError(f"no scene {key!r}; scenes: {names}")

    def switch(self, key: str) -> bool:
        """Ask for a scene; it takes effect in this frame's render. Returns False if refused,
        in which case the current scene stays on and ``refused`` says why."""
        try:
            scene = self.find(key)
        except EngineError as error:
            self._refuse(key, str(error))
            return False
        if scene is self.current.scene:
            return True
        try:
            scene = self._reread(scene)
            incoming = self.loader.make_live(scene, self.layers[self._free_layer])
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

    def preload(self) -> list[str]:
        """Every scene's avatar, loaded now; the problems found (``SceneLoader.preload``)."""
        return self.loader.preload(self.scenes)

    def _reread(self, scene: Scene) -> Scene:
        """The scene as its file says now; the list is updated so the HUD shows edits too."""
        if scene.path is None:
            return scene
        # Hotkeys were settled when the list was made (duplicates resolved); keep them.
        fresh = dataclasses.replace(load_scene(scene.path), hotkey=scene.hotkey)
        if fresh != scene:
            index = next(i for i, listed in enumerate(self.scenes) if listed is scene)
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
