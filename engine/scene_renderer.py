"""Drawing the live scenes: backdrop, then avatar, into each scene's layer.

Two passes per live scene, each with one job:

* ``update_backdrops`` (its own stage): the real room behind the avatar for scenes that ask for
  it — MediaPipe segmentation or the blur, ``engine.backdrop`` — as the layer's pixels;
* ``render``: the layer is filled with its background (or that backdrop, or the "be right back"
  card while the blank is on) and the avatar draws over it, given only what the privacy rule
  allows (``engine.avatar.base.frame_input``).
"""

from __future__ import annotations

import moderngl
import numpy as np

from engine.avatar.base import Avatar, AvatarInput, frame_input
from engine.blank import blank_card
from engine.gl.compositor import SceneLayer, layer_pixels
from engine.scene_loader import LiveScene
from engine.types import Expression, FaceState, Frame


def begin_layer(layer: SceneLayer, avatar: Avatar, given: AvatarInput,
                backdrop: np.ndarray | None = None) -> moderngl.Framebuffer:
    """Fill ``layer`` for ``avatar``'s draw of ``given`` and return the framebuffer to draw into.

    A kind that shows a picture of its own under what it draws (the face swap's camera picture,
    what of the photo avatar never moves) hands it over first, and the layer writes it instead of
    clearing; otherwise the scene's ``backdrop`` pixels, if any, or its background. A kind that
    draws without depth (``uses_depth`` false) gets the layer's colour alone."""
    layer_picture = getattr(avatar, "layer_picture", None)
    picture = layer_picture(given, layer.size) if layer_picture else None
    if picture is None:
        picture = backdrop
    return layer.begin(picture, depth=getattr(avatar, "uses_depth", True))


class SceneRenderer:
    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size
        self._card: np.ndarray | None = None

    @staticmethod
    def update_backdrops(live: tuple[LiveScene, ...], frame: Frame | None,
                         face: FaceState | None, wait_s: float = 0.0) -> None:
        """Hand the frame to each camera backdrop's worker; ``wait_s`` for its picture (0 live:
        the newest finished one shows)."""
        for scene in live:
            if scene.backdrop is not None:
                scene.backdrop.update(frame, face, wait_s)

    def render(self, live: tuple[LiveScene, ...], expression: Expression,
               face: FaceState | None, frame: Frame | None, blank: bool = False) -> None:
        """Draw each live scene into its layer; with ``blank`` the card instead, and the avatars
        are not even called (nothing of the person reaches them)."""
        for scene in live:
            if blank:
                scene.layer.begin(self._blank_card())
                continue
            avatar = scene.avatar.avatar
            given = frame_input(scene.avatar, expression, face, frame, scene.scene.anonymous)
            backdrop = scene.backdrop.pixels if scene.backdrop is not None else None
            target = begin_layer(scene.layer, avatar, given, backdrop)
            set_framing = getattr(avatar, "set_framing", None)
            if set_framing is not None:  # per frame: scenes may share one avatar
                set_framing(scene.scene.framing)
            avatar.render(given, target)

    def _blank_card(self) -> np.ndarray:
        if self._card is None:  # made on first use: most sessions never blank
            self._card = layer_pixels(blank_card(self.size), self.size)
        return self._card

    def close(self) -> None:
        self._card = None
