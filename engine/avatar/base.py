"""The ``Avatar`` protocol every avatar kind implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import moderngl

from engine.types import Expression


@runtime_checkable
class Avatar(Protocol):
    """Draws a face showing an ``Expression`` into a framebuffer the compositor owns.

    GL resources are created once, when the avatar is made; ``render`` only updates uniforms and
    draws. The target already holds the scene's background and a cleared depth buffer: the avatar
    draws over it with ordinary alpha blending and must not clear colour. (Full-screen passes cost
    5–10 ms each at 720p on llvmpipe, so there is no separate avatar layer to composite.)
    ``render`` leaves blending/depth state as it likes; the compositor sets what it needs.
    """

    def render(self, expression: Expression, target: moderngl.Framebuffer) -> None:
        """Draw the avatar over the background already in ``target`` (bound, viewport set)."""

    def release(self) -> None:
        """Free GL resources; safe to call more than once."""
