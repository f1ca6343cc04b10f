"""Pixel checks shared by the avatar tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import moderngl
import numpy as np


def changed(a: np.ndarray, b: np.ndarray, threshold: int = 24) -> np.ndarray:
    """(H, W) bool: pixels that differ clearly between two frames."""
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).sum(axis=2) > threshold


def foreground(frame: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels that are not the blue background."""
    return np.abs(frame.astype(np.int16) - (0, 0, 255)).sum(axis=2) > 24


class _DepthTestKept:
    """A GL context as an avatar sees it, except that the depth test stays on."""

    def __init__(self, ctx: moderngl.Context) -> None:
        object.__setattr__(self, "_ctx", ctx)

    def __getattr__(self, name: str):
        return getattr(self._ctx, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._ctx, name, value)

    def disable(self, flags: int) -> None:
        self._ctx.disable(flags & ~moderngl.DEPTH_TEST)


@contextlib.contextmanager
def depth_test_kept(avatar, ctx: moderngl.Context) -> Iterator[None]:
    """Inside, ``avatar`` (one that draws without depth, in the painter's order) draws through a
    depth test whatever it asks of its context: the reference that order is checked against.
    Draw into a target with a depth buffer."""
    avatar.ctx = _DepthTestKept(ctx)
    ctx.enable(moderngl.DEPTH_TEST)
    try:
        yield
    finally:
        avatar.ctx = ctx
        ctx.disable(moderngl.DEPTH_TEST)


def drawn_without_depth(avatar, compositor, given) -> np.ndarray:
    """The frame as the scene renderer draws it (``begin_layer``), for a kind that declares
    ``uses_depth = False`` and so must be handed a target without a depth buffer."""
    from engine.scene_renderer import begin_layer

    layer = compositor.layers[0]
    target = begin_layer(layer, avatar, given)
    assert target.depth_attachment is None
    avatar.render(given, target)
    return compositor.finish(layer).copy()


def drawn_depth_tested(avatar, compositor, ctx: moderngl.Context, given) -> np.ndarray:
    """The same avatar's frame through a depth test (``depth_test_kept``), its whole mesh over
    a cleared depth buffer: what its painter's order should show."""
    layer = compositor.layers[0]
    with depth_test_kept(avatar, ctx):
        avatar.render(given, layer.begin())
    return compositor.finish(layer).copy()
