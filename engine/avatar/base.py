"""The ``Avatar`` protocol every avatar kind implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import moderngl

from engine.types import Expression


@runtime_checkable
class Avatar(Protocol):
    """Draws a face showing an ``Expression`` into a framebuffer the compositor owns.

    GL resources are created once, when the avatar is made; ``render`` only updates uniforms and
    draws. The target is cleared to transparent (alpha 0) by the caller: the avatar writes
    premultiplied colour with alpha where it covers, so the compositor can lay it over any
    background.
    """

    def render(self, expression: Expression, target: moderngl.Framebuffer) -> None:
        """Draw the avatar into ``target`` (its viewport is already set)."""

    def release(self) -> None:
        """Free GL resources; safe to call more than once."""
