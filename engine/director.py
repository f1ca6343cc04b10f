"""The director: which scene is on, switching between scenes, and what each scene draws.

A switch is requested by name or hotkey and happens at the next frame boundary: the new scene is
loaded (avatar, background) *before* anything changes, so a broken scene is refused with a
message and the current one stays on. During the crossfade both scenes are rendered, each into
its own layer, and the compositor blends them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.avatar.base import Avatar
from engine.errors import EngineError
from engine.gl.compositor import Background, Compositor, SceneLayer
from engine.scenes import Scene, stylize
from engine.types import Expression, FaceState, Frame

log = logging.getLogger(__name__)

AvatarLoader = Callable[[Scene], Avatar]


@dataclass
class LiveScene:
    """A scene with its avatar loaded and the layer it draws into."""

    scene: Scene
    avatar: Avatar
    layer: SceneLayer


def load_background(scene: Scene) -> Background:
    background = scene.background
    image = None
    if background.image is not None:
        from PIL import Image

        with Image.open(background.image) as picture:
            picture.thumbnail((2048, 2048))  # bounded: a background never needs more
            image = np.asarray(picture.convert("RGB"))
    return Background(color=background.color, image=image, blur=background.blur)


class Director:
    """Holds the scene list, the live scene, the outgoing scene during a crossfade, and the
    retargeter that turns tracked faces into expressions."""

    def __init__(self, scenes: list[Scene], compositor: Compositor, load_avatar: AvatarLoader,
                 retargeter, crossfade_s: float = 0.4, initial: str | None = None,
                 audit=None, on_switch: Callable[[Scene], None] | None = None) -> None:
        if not scenes:
            raise EngineError("no scenes to show; add a scene file to scenes/")
        self.scenes = scenes
        self.compositor = compositor
        self.load_avatar = load_avatar
        self.retargeter = retargeter
        self.crossfade_s = crossfade_s
        self.audit = audit
        self.on_switch = on_switch
        self._free_layer = 1
        first = self.find(initial) if initial else scenes[0]
        self.current = self._make_live(first, compositor.layers[0])
        self.outgoing: LiveScene | None = None
        self._switch_started: float | None = None
        self._pending: str | None = None
        self._notify(first)

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
        """Ask for a scene; it takes effect in this frame's render. Returns False if refused."""
        try:
            scene = self.find(key)
        except EngineError as error:
            log.warning("%s", error)
            return False
        if scene is self.current.scene:
            return True
        layer = self.compositor.layers[self._free_layer]
        try:
            incoming = self._make_live(scene, layer)
        except Exception as error:  # a broken scene never stops the session
            log.error("scene %r refused, staying on %r: %s", scene.name,
                      self.current.scene.name, error)
            return False
        if self.outgoing is not None:
            self.outgoing.avatar.release()
        self.outgoing, self.current = self.current, incoming
        self._free_layer = 1 - self._free_layer
        self._switch_started = None  # stamped by the first render of the new scene
        self._notify(scene)
        return True

    def _make_live(self, scene: Scene, layer: SceneLayer) -> LiveScene:
        background = load_background(scene)
        avatar = self.load_avatar(scene)
        layer.set_background(background)
        return LiveScene(scene, avatar, layer)

    def _notify(self, scene: Scene) -> None:
        log.info("scene: %s", scene.name)
        if self.audit is not None:
            self.audit.record("scene_switch", scene=scene.name)
        if self.on_switch is not None:
            self.on_switch(scene)

    def retarget(self, face: FaceState, t: float) -> Expression:
        expression = self.retargeter.update(face, t)
        return stylize(expression, self.current.scene.style)

    def render(self, expression: Expression, frame: Frame | None, blank: bool = False) -> None:
        """Draw the current scene (and the outgoing one while crossfading)."""
        live = [self.current] if self.outgoing is None else [self.current, self.outgoing]
        for scene in live:
            target = scene.layer.begin()
            if not blank:
                scene.avatar.render(expression, target)

    def layers_for_finish(self, t: float) -> tuple[SceneLayer, SceneLayer | None, float]:
        """(current layer, outgoing layer or None, how much of the outgoing still shows)."""
        if self.outgoing is None:
            return self.current.layer, None, 0.0
        if self._switch_started is None:
            self._switch_started = t
        progress = (t - self._switch_started) / self.crossfade_s if self.crossfade_s > 0 else 1.0
        if progress >= 1.0:
            self.outgoing.avatar.release()
            self.outgoing = None
            return self.current.layer, None, 0.0
        return self.current.layer, self.outgoing.layer, 1.0 - progress

    def close(self) -> None:
        for live in (self.current, self.outgoing):
            if live is not None:
                live.avatar.release()
        self.outgoing = None
