"""Making a scene ready to show: its avatar, background, voice preset and camera backdrop.

Everything a scene needs is loaded *before* the switch to it, so a broken scene is refused with
a message while the current one stays on. Loading has two halves so that it never holds the
loop: ``prepare`` reads, checks and decodes files (on the director's loading worker), and
``make_live`` makes the GL resources (on the loop's thread). Avatars are loaded once per session
and kept, so a switch back is instant and two scenes sharing an avatar (calm and expressive)
share its GPU resources; ``preload`` loads them all at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np

from engine.avatar.base import LoadedAvatar
from engine.backdrop import CameraBackdrop
from engine.errors import ConfigError
from engine.gl.compositor import Background, SceneLayer
from engine.scenes import Scene
from engine.voice.presets import VoicePreset, load_preset

log = logging.getLogger(__name__)

# Called on the loading worker with a scene: reads and checks its avatar's files, and returns the
# function the loop's thread calls to put that avatar on the GPU.
AvatarLoader = Callable[[Scene], Callable[[], LoadedAvatar]]


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


@dataclass(frozen=True)
class PreparedScene:
    """A scene whose files are read and decoded, waiting for its GL half."""

    scene: Scene
    background: Background
    voice_preset: VoicePreset | None
    open_avatar: Callable[[], LoadedAvatar] | None  # None: the avatar is already loaded


def load_background(scene: Scene) -> Background:
    background = scene.background
    image = None
    if background.image is not None:
        from engine.images import read_image

        picture = read_image(background.image, "RGB")
        picture.thumbnail((2048, 2048))  # a background never needs more on the GPU
        image = np.asarray(picture)
    return Background(color=background.color, image=image, blur=background.blur)


class SceneLoader:
    """Loads scenes into layers; owns the session's avatar cache (used on the loop's thread)."""

    def __init__(self, load_avatar: AvatarLoader) -> None:
        self.load_avatar = load_avatar
        self._avatars: dict[str, LoadedAvatar] = {}  # by the name scenes give them

    def cached(self) -> frozenset[str]:
        """The avatar names already loaded: what ``prepare`` need not read again."""
        return frozenset(self._avatars)

    def prepare(self, scene: Scene, cached: Collection[str]) -> PreparedScene:
        """The file half of loading ``scene``; safe on any thread. Raises if it cannot load."""
        background = load_background(scene)
        # A scene naming a voice preset that is missing or broken is refused like a broken
        # avatar: switching on with the wrong voice could give away the speaker's own.
        voice_preset = load_preset(scene.voice) if scene.voice else None
        opener = None if scene.avatar in cached else self.load_avatar(scene)
        return PreparedScene(scene, background, voice_preset, opener)

    def make_live(self, prepared: PreparedScene, layer: SceneLayer) -> LiveScene:
        """The GL half: the scene ready in ``layer``; raises (and changes nothing visible) if it
        cannot."""
        scene = prepared.scene
        avatar = self._avatars.get(scene.avatar)
        if avatar is None:
            if prepared.open_avatar is None:  # released since it was prepared: read it again
                return self.load(scene, layer)
            avatar = self._avatars[scene.avatar] = prepared.open_avatar()
        if avatar.needs_camera and scene.anonymous:
            raise ConfigError(f"scene {scene.name!r} promises anonymity, but its avatar "
                              f"{avatar.name!r} needs the camera picture")
        backdrop = None
        if scene.background.camera is not None:
            backdrop = CameraBackdrop(scene.background.camera, layer.size)
        layer.set_background(prepared.background)
        return LiveScene(scene, avatar, layer, backdrop, prepared.voice_preset)

    def load(self, scene: Scene, layer: SceneLayer) -> LiveScene:
        """Both halves at once, on the loop's thread (the first scene, before going live)."""
        return self.make_live(self.prepare(scene, self.cached()), layer)

    def avatar(self, scene: Scene) -> LoadedAvatar:
        """The scene's avatar, loaded on first use and kept for the session."""
        avatar = self._avatars.get(scene.avatar)
        if avatar is None:
            avatar = self._avatars[scene.avatar] = self.load_avatar(scene)()
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
