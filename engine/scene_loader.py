"""Making a scene ready to show: its avatar, background, voice preset and camera backdrop.

Everything a scene needs is loaded *before* the switch to it, so a broken scene is refused with
a message while the current one stays on. Avatars are loaded once per session and kept, so a
switch back is instant and two scenes sharing an avatar (calm and expressive) share its GPU
resources; ``preload`` loads them all at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import moderngl
import numpy as np

from engine.avatar.base import LoadedAvatar
from engine.backdrop import CameraBackdrop
from engine.errors import ConfigError
from engine.gl.compositor import Background, SceneLayer
from engine.scenes import Scene
from engine.voice.presets import VoicePreset, load_preset

log = logging.getLogger(__name__)

AvatarLoader = Callable[[Scene], LoadedAvatar]


@dataclass
class LiveScene:
    """A scene with everything loaded and the layer it draws into."""

    scene: Scene
    avatar: LoadedAvatar
    layer: SceneLayer
    backdrop: CameraBackdrop | None = None
    voice_preset: VoicePreset | None = None  # None: no morph named (the identity preset)

    def release(self) -> None:
        """Release what is this scene's own; the avatar belongs to the loader's cache."""
        if self.backdrop is not None:
            self.backdrop.release()
            self.backdrop = None


def load_background(scene: Scene) -> Background:
    background = scene.background
    image = None
    if background.image is not None:
        from PIL import Image

        with Image.open(background.image) as picture:
            picture.thumbnail((2048, 2048))  # bounded: a background never needs more
            image = np.asarray(picture.convert("RGB"))
    return Background(color=background.color, image=image, blur=background.blur)


class SceneLoader:
    """Loads scenes into layers; owns the session's avatar cache."""

    def __init__(self, ctx: moderngl.Context, load_avatar: AvatarLoader) -> None:
        self.ctx = ctx
        self.load_avatar = load_avatar
        self._avatars: dict[str, LoadedAvatar] = {}  # by the name scenes give them

    def make_live(self, scene: Scene, layer: SceneLayer) -> LiveScene:
        """Everything ``scene`` shows, loaded; raises (and changes nothing visible) if it cannot."""
        background = load_background(scene)
        # A scene naming a voice preset that is missing or broken is refused like a broken
        # avatar: switching on with the wrong voice could give away the speaker's own.
        voice_preset = load_preset(scene.voice) if scene.voice else None
        avatar = self.avatar(scene)
        if avatar.needs_camera and scene.anonymous:
            raise ConfigError(f"scene {scene.name!r} promises anonymity, but its avatar "
                              f"{avatar.name!r} needs the camera picture")
        backdrop = None
        if scene.background.camera is not None:
            backdrop = CameraBackdrop(self.ctx, scene.background.camera)
        layer.set_background(background)
        return LiveScene(scene, avatar, layer, backdrop, voice_preset)

    def avatar(self, scene: Scene) -> LoadedAvatar:
        """The scene's avatar, loaded on first use and kept for the session."""
        avatar = self._avatars.get(scene.avatar)
        if avatar is None:
            avatar = self.load_avatar(scene)
            self._avatars[scene.avatar] = avatar
        return avatar

    def preload(self, scenes: list[Scene]) -> list[str]:
        """Load every scene's avatar now (at start-up, before going live) so no switch waits
        on a model file; returns the problems found, which are also logged."""
        problems = []
        for scene in scenes:
            try:
                self.avatar(scene)
            except Exception as error:
                log.error("scene %r: avatar %r cannot load: %s", scene.name, scene.avatar, error)
                problems.append(f"{scene.name}: {error}")
        return problems

    def close(self) -> None:
        """Release every avatar; safe to call more than once."""
        for avatar in self._avatars.values():
            avatar.release()
        self._avatars.clear()
