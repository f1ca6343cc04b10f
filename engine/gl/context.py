"""The one OpenGL context the engine renders with.

With a preview window the context belongs to a glfw window (the window sink draws into it);
without one it is a headless EGL context, which on machines without a GPU runs on Mesa's
llvmpipe. Either way the engine renders into its own framebuffers and reads back once per frame.
glfw is imported only when a window is asked for, so headless use needs no display libraries.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import moderngl

from engine.errors import DeviceError

log = logging.getLogger(__name__)

GL_VERSION = 330


@dataclass
class GLContext:
    """A moderngl context and, when there is one, the glfw window that owns it."""

    ctx: moderngl.Context
    window: Any = None  # glfw window handle, or None when headless

    @classmethod
    def headless(cls) -> GLContext:
        """An EGL context with no window; needs no display."""
        try:
            ctx = moderngl.create_standalone_context(require=GL_VERSION, backend="egl")
        except Exception as error:  # moderngl raises plain Exception when EGL is missing
            raise DeviceError(
                f"could not create a headless OpenGL {GL_VERSION // 100}.{GL_VERSION % 100 // 10} "
                f"context through EGL ({error}); install Mesa's EGL (apt install libegl1 "
                "libgl1-mesa-dri) or run with a display"
            ) from error
        log.info("headless GL: %s", ctx.info.get("GL_RENDERER", "?"))
        return cls(ctx)

    @classmethod
    def windowed(cls, width: int, height: int, title: str = "Persona") -> GLContext:
        """A context owned by a new glfw window of the given size."""
        try:
            import glfw
        except ImportError as error:  # the wheel bundles libglfw; this means a broken install
            raise DeviceError(f"glfw is not importable ({error}); pip install glfw") from error
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            raise DeviceError(
                "no display for the preview window (DISPLAY is not set); run without --preview, "
                "or start a virtual display with Xvfb"
            )
        if not glfw.init():
            raise DeviceError("glfw could not initialise the display; is the X server running?")
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        window = glfw.create_window(width, height, title, None, None)
        if not window:
            glfw.terminate()
            raise DeviceError("glfw could not open an OpenGL 3.3 core window on this display")
        glfw.make_context_current(window)
        glfw.swap_interval(0)  # the engine's clock paces frames, not the monitor
        ctx = moderngl.create_context(require=GL_VERSION)
        log.info("windowed GL: %s", ctx.info.get("GL_RENDERER", "?"))
        return cls(ctx, window)

    @classmethod
    def create(cls, window_size: tuple[int, int] | None = None) -> GLContext:
        """A windowed context when ``window_size`` is given, else a headless one."""
        return cls.windowed(*window_size) if window_size else cls.headless()

    def close(self) -> None:
        """Release the context and the window; safe to call more than once."""
        if self.ctx is not None:
            self.ctx.release()
            self.ctx = None
        if self.window is not None:
            import glfw

            glfw.destroy_window(self.window)
            glfw.terminate()
            self.window = None

    def __enter__(self) -> GLContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
