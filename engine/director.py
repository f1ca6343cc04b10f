"""The director: which scene is on, switching between scenes, and what each scene draws.

A switch is requested by name or hotkey and happens at the next frame boundary: the scene file is
read again (so an edit made during a session takes effect, and a file broken during a session is
caught), then the new scene is loaded (avatar, background, voice preset) *before* anything
changes, so a broken scene is refused with a message and the current one stays on. Avatars are
loaded once per session and kept (``preload`` loads them all up front), so a switch back is
instant. During the crossfade both scenes
are rendered, each into its own layer, and the compositor blends them.

The voice follows the picture: with a ``voice`` given, each switch crossfades it to the new
scene's preset (the identity preset when a scene names none) over the same time as the video.

The retargeter's rest pose is ``IdleLife``'s: when the face is lost (or the privacy blank pauses
tracking) the avatar eases to a breathing, blinking neutral instead of freezing, and eases back
when the face returns. While the blank is on, every layer shows the
"be right back" card instead of background and avatar.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import moderngl
import numpy as np

from engine.avatar.base import Avatar
from engine.backdrop import CameraBackdrop
from engine.blank import blank_card
from engine.errors import EngineError
from engine.gl.compositor import Background, Compositor, SceneLayer, texture_from_image
from engine.idle import IdleLife
from engine.scenes import Scene, load_scene, stylize
from engine.types import Expression, FaceState, Frame
from engine.voice.presets import VoicePreset, load_preset

log = logging.getLogger(__name__)

AvatarLoader = Callable[[Scene], Avatar]


@dataclass
class LiveScene:
    """A scene with its avatar loaded and the layer it draws into."""

    scene: Scene
    avatar: Avatar
    layer: SceneLayer
    backdrop: CameraBackdrop | None = None
    voice_preset: VoicePreset | None = None  # None: no morph named (the identity preset)

    def release(self) -> None:
        """Release what is this scene's own; the avatar belongs to the director's cache."""
        if self.backdrop is not None:
            self.backdrop.release()
            self.backdrop = None


@dataclass(frozen=True)
class Refusal:
    """The last scene that could not be switched to, and why (shown on the HUD)."""

    scene: str
    reason: str
    at: float  # time.monotonic()


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
                 audit=None, on_switch: Callable[[Scene], None] | None = None,
                 idle: IdleLife | None = None,
                 voice=None) -> None:
        if not scenes:
            raise EngineError("no scenes to show; add a scene file to scenes/")
        self.scenes = list(scenes)
        self.compositor = compositor
        self.load_avatar = load_avatar
        self.retargeter = retargeter
        self._closed = False
        self.crossfade_s = crossfade_s
        self.audit = audit
        self.on_switch = on_switch
        self.idle = idle or IdleLife()
        self.voice = voice  # anything with set_preset(preset, crossfade_s), e.g. VoiceMorph
        # The retargeter eases to this rest pose when the face is lost: a living neutral.
        retargeter.rest_pose = self.idle.rest_pose
        self.face: FaceState | None = None  # the last face given to retarget
        self.refused: Refusal | None = None
        self._card: moderngl.Texture | None = None
        self._avatars: dict[str, Avatar] = {}  # loaded avatars by the name scenes give them
        self._free_layer = 1
        try:
            self.current = self._start(self.find(initial) if initial else self.scenes[0])
        except BaseException:
            for avatar in self._avatars.values():
                avatar.release()
            self._release_gl()
            raise
        first = self.current.scene
        self.outgoing: LiveScene | None = None
        self._switch_started: float | None = None
        self._progress = 1.0
        self._follow_voice(crossfade_s=0.0)
        self._notify(first)

    def _start(self, wanted: Scene) -> LiveScene:
        """The first scene: the one asked for, else the first in hotkey order that loads —
        a session should start on a working scene rather than not at all."""
        reasons = []
        for scene in [wanted, *(s for s in self.scenes if s is not wanted)]:
            try:
                return self._make_live(scene, self.compositor.layers[0])
            except Exception as error:
                log.error("scene %r cannot start: %s", scene.name, error)
                reasons.append(f"{scene.name}: {error}")
        raise EngineError("no scene could be loaded; " + "; ".join(reasons))

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
        layer = self.compositor.layers[self._free_layer]
        try:
            scene = self._reread(scene)
            incoming = self._make_live(scene, layer)
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
        self._follow_voice(self.crossfade_s)
        self._notify(scene)
        return True

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
        self.refused = Refusal(name, reason, time.monotonic())
        if self.audit is not None:
            self.audit.record("scene_refused", scene=name)

    def _follow_voice(self, crossfade_s: float) -> None:
        """Crossfade the voice to the current scene's preset over the picture's crossfade."""
        if self.voice is not None:
            self.voice.set_preset(self.current.voice_preset or VoicePreset(), crossfade_s)

    def _make_live(self, scene: Scene, layer: SceneLayer) -> LiveScene:
        background = load_background(scene)
        # A scene naming a voice preset that is missing or broken is refused like a broken
        # avatar: switching on with the wrong voice could give away the speaker's own.
        voice_preset = load_preset(scene.voice) if scene.voice else None
        avatar = self._avatar(scene)
        backdrop = None
        if scene.background.camera is not None:
            backdrop = CameraBackdrop(self.compositor.ctx, scene.background.camera)
        layer.set_background(background)
        return LiveScene(scene, avatar, layer, backdrop, voice_preset)

    def _avatar(self, scene: Scene) -> Avatar:
        """The scene's avatar, loaded once per session: switching back to a scene is instant,
        and two scenes sharing an avatar (calm and expressive) share its GPU resources."""
        avatar = self._avatars.get(scene.avatar)
        if avatar is None:
            avatar = self.load_avatar(scene)
            self._avatars[scene.avatar] = avatar
        return avatar

    def preload(self) -> list[str]:
        """Load every scene's avatar now (at start-up, before going live) so no switch waits
        on a model file; returns the problems found, which are also logged."""
        problems = []
        for scene in self.scenes:
            try:
                self._avatar(scene)
            except Exception as error:
                log.error("scene %r: avatar %r cannot load: %s", scene.name, scene.avatar, error)
                problems.append(f"{scene.name}: {error}")
        return problems

    def _notify(self, scene: Scene) -> None:
        log.info("scene: %s", scene.name)
        if self.audit is not None:
            self.audit.record("scene_switch", scene=scene.name)
        if self.on_switch is not None:
            self.on_switch(scene)

    def retarget(self, face: FaceState, t: float) -> Expression:
        self.face = face
        return stylize(self.retargeter.update(face, t), self.current.scene.style)

    def render(self, expression: Expression, frame: Frame | None, blank: bool = False) -> None:
        """Draw the current scene (and the outgoing one while crossfading); with ``blank`` the
        "be right back" card instead."""
        live = [self.current] if self.outgoing is None else [self.current, self.outgoing]
        for scene in live:
            if blank:
                scene.layer.begin(self._blank_card())
                continue
            picture = None
            if scene.backdrop is not None:
                scene.backdrop.update(frame, self.face)
                picture = scene.backdrop.texture
            target = scene.layer.begin(picture)
            set_framing = getattr(scene.avatar, "set_framing", None)
            if set_framing is not None:  # per frame: scenes may share one avatar
                set_framing(scene.scene.framing)
            scene.avatar.render(expression, target)

    def _blank_card(self) -> moderngl.Texture:
        if self._card is None:  # made on first use: most sessions never blank
            self._card = texture_from_image(self.compositor.ctx, blank_card(self.compositor.size))
        return self._card

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

    def status(self) -> dict:
        """The scene part of the HUD and control page status: plain data."""
        refused = None
        if self.refused is not None:
            refused = {"scene": self.refused.scene, "reason": self.refused.reason,
                       "age_s": round(time.monotonic() - self.refused.at, 1)}
        return {
            "scene": self.current.scene.name,
            "hotkey": self.current.scene.hotkey,
            "scenes": [{"name": scene.name, "hotkey": scene.hotkey,
                        "key": scene.path.stem if scene.path else scene.name,
                        "badge": scene.badge} for scene in self.scenes],
            "switching": self.outgoing is not None,
            "crossfade": round(self._progress, 3),
            "refused": refused,
            "face": bool(self.face is not None and self.face.found),
        }

    def close(self) -> None:
        """Release avatars and GL resources; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        for live in (self.current, self.outgoing):
            if live is not None:
                live.release()
        self.outgoing = None
        for avatar in self._avatars.values():
            avatar.release()
        self._avatars.clear()
        self._release_gl()

    def _release_gl(self) -> None:
        if self._card is not None:
            self._card.release()
            self._card = None
