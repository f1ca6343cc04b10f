"""Drawing the live scenes: backdrop, then avatar, into each scene's layer.

Two passes per live scene, each with one job:

* ``update_backdrops`` (its own stage): the real room behind the avatar for scenes that ask for
  it — MediaPipe segmentation or the blur, ``engine.backdrop`` — as the layer's pixels;
* ``render``: the layer is filled with its background (or that backdrop, or the "be right back"
  card while the blank is on) and the avatar draws over it, given only what the privacy rule
  allows (``engine.avatar.base.frame_input``).
"""

from __future__ import annotations

import numpy as np

from engine.avatar.base import frame_input
from engine.blank import blank_card
from engine.gl.compositor import layer_pixels
from engine.scene_loader import LiveScene
from engine.types import Expression, FaceState, Frame


class SceneRenderer:
    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size
        self._card: np.ndarray | None = None

    @staticmethod
    def update_backdrops(live: tuple[LiveScene, ...], frame: Frame | None,
                         face: FaceState | None) -> None:
        for scene in live:
            if scene.backdrop is not None:
                scene.backdrop.update(frame, face)

    def render(self, live: tuple[LiveScene, ...], expression: Expression,
               face: FaceState | None, frame: Frame | None, blank: bool = False) -> None:
        """Draw each live scene into its layer; with ``blank`` the card instead, and the avatars
        are not even called (nothing of the person reaches them)."""
        for scene in live:
            if blank:
                scene.layer.begin(self._blank_card())
                continue
            picture = scene.backdrop.pixels if scene.backdrop is not None else None
            target = scene.layer.begin(picture)
            avatar = scene.avatar.avatar
            set_framing = getattr(avatar, "set_framing", None)
            if set_framing is not None:  # per frame: scenes may share one avatar
                set_framing(scene.scene.framing)
            avatar.render(frame_input(scene.avatar, expression, face, frame,
                                      scene.scene.anonymous), target)

    def _blank_card(self) -> np.ndarray:
        if self._card is None:  # made on first use: most sessions never blank
            self._card = layer_pixels(blank_card(self.size), self.size)
        return self._card

    def close(self) -> None:
        self._card = None
