"""The preview window: the finished frame plus the HUD, with hotkeys.

The window owns the engine's GL context (``GLContext.windowed``), so showing a frame is one
texture upload and one draw into the window. The HUD is drawn here and only here: it never
enters the frame the other sinks receive. The window shows the frame as a mirror by default, as
people expect to see themselves; the flip is in that one draw's texture coordinates (no copy,
no extra pass), and the HUD over it reads the right way round. Every other sink gets the frame
as the camera sees it.

Keys are turned into command names through the settings' key map ("1" → "scene:1",
"B" → "blank", "ESCAPE" → "quit") and handed to ``on_command``. While the virtual camera is
live, Esc asks once — a second Esc within three seconds quits — so a stray key press cannot drop
a clinician's call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import moderngl
import numpy as np

from engine.errors import DeviceError
from engine.gl.compositor import ScreenPass
from engine.gl.context import GLContext
from engine.gl.programs import ShaderLibrary
from engine.status import RELEASE
from engine.types import Frame

log = logging.getLogger(__name__)

QUIT_CONFIRM_S = 3.0

Overlay = Callable[[], "np.ndarray | None"]  # a new (H, W, 4) premultiplied RGBA, or None


def key_name(key: int) -> str | None:
    """glfw key code → the name used in key maps ("1", "B", "ESCAPE"), or None."""
    import glfw

    if glfw.KEY_0 <= key <= glfw.KEY_9:
        return chr(ord("0") + key - glfw.KEY_0)
    if glfw.KEY_A <= key <= glfw.KEY_Z:
        return chr(ord("A") + key - glfw.KEY_A)
    return {glfw.KEY_ESCAPE: "ESCAPE", glfw.KEY_SPACE: "SPACE", glfw.KEY_TAB: "TAB"}.get(key)


class WindowSink:
    """Shows frames in the GL context's window and reports key presses as commands."""

    def __init__(self, gl: GLContext, shaders: ShaderLibrary, keymap: dict[str, str],
                 on_command: Callable[[str], None], overlay: Overlay | None = None,
                 confirm_quit: Callable[[], bool] = lambda: False,
                 mirrored: bool = True) -> None:
        if gl.window is None:
            raise DeviceError("the preview window needs a windowed GL context")
        self.gl = gl
        self.keymap = {name.upper(): command for name, command in keymap.items()}
        self.on_command = on_command
        self.overlay = overlay
        self.confirm_quit = confirm_quit
        self.mirrored = mirrored
        self._pass = ScreenPass(gl.ctx, shaders, "present.glsl", vertices=3)
        self._image: moderngl.Texture | None = None
        self._hud: moderngl.Texture | None = None
        self._quit_asked_at: float | None = None
        self.notice: str | None = None  # what the window wants the HUD to say, e.g. Esc confirm

    def open(self, width: int, height: int, fps: float) -> None:
        import glfw

        ctx = self.gl.ctx
        self._image = ctx.texture((width, height), 3)
        self._image.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self._hud = ctx.texture((width, height), 4, np.zeros((height, width, 4), np.uint8))
        self._hud.filter = (moderngl.LINEAR, moderngl.LINEAR)
        glfw.set_key_callback(self.gl.window, self._on_key)
        glfw.set_window_size(self.gl.window, width, height)

    def _on_key(self, window, key: int, scancode: int, action: int, mods: int) -> None:
        import glfw

        if action not in (glfw.PRESS, glfw.RELEASE):
            return
        name = key_name(key)
        command = self.keymap.get(name) if name else None
        if command is None:
            return
        if action == glfw.RELEASE:
            # The panic is lifted by holding its key: the loop times press to release.
            if command == "panic":
                self.on_command(f"panic:{RELEASE}")
            return
        if command == "quit" and self.confirm_quit():
            now = time.monotonic()
            if self._quit_asked_at is None or now - self._quit_asked_at > QUIT_CONFIRM_S:
                self._quit_asked_at = now
                self.notice = "Virtual camera is live: press Esc again to quit"
                log.warning(self.notice)
                return
        self.on_command(command)

    def write(self, frame: Frame) -> None:
        import glfw

        window = self.gl.window
        if glfw.window_should_close(window):
            glfw.set_window_should_close(window, False)
            self.on_command("quit")
        if self._quit_asked_at and time.monotonic() - self._quit_asked_at > QUIT_CONFIRM_S:
            self._quit_asked_at, self.notice = None, None
        self._image.write(frame.image)  # top row first; present.glsl flips
        if self.overlay is not None:
            hud = self.overlay()
            if hud is not None:
                self._hud.write(np.ascontiguousarray(hud))
        ctx = self.gl.ctx
        ctx.screen.use()
        ctx.viewport = (0, 0, *glfw.get_framebuffer_size(window))
        ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST)
        self._image.use(0)
        self._hud.use(1)
        self._pass.draw(image=0, overlay=1, overlay_on=self.overlay is not None,
                        mirrored=self.mirrored)
        glfw.swap_buffers(window)
        glfw.poll_events()

    def close(self) -> None:
        for resource in (self._image, self._hud):
            if resource is not None:
                resource.release()
        self._image = self._hud = None
        self._pass.release()
