"""``persona avatar view MODEL``: look at an avatar in the preview window and play with it.

The mouse orbits (drag left/right), tilts (drag up/down, within ``PITCH_LIMIT``) and zooms
(wheel); the arrow keys orbit and tilt by ``ARROW_STEP``; keys 1-9 show the contact sheet's
expression groups (``engine.avatar.preview.EXPRESSION_GROUPS``, the same names the scripts
use), W/S make the shown group stronger or weaker, 0 goes back to neutral, B switches between
the head and the upper-body shot (``[framing] shot``), R resets the view, Esc quits. With
``--source`` the face comes from our tracker instead, from a video file or the camera, and the
expression keys are ignored; ``--upper-body`` also follows the arms there, as a scene with
``upper_body = true`` does, in the upper-body shot. When the model file (or anything in the
avatar's folder) is saved the avatar is opened again, as ``avatar preview --watch`` redraws its
sheet; a save that does not load leaves the last good one on screen.

The state the input changes (``ViewState``) is plain data, so what a drag or a key does is
tested without a window; ``AvatarViewer`` connects it to glfw and the renderer. Orbiting and
tilting turn the renderer's camera about the framed head (``ModelRenderer.yaw``, ``pitch``),
zooming its framing (``zoom``); kinds without a 3D camera (photo avatars) show their picture
unturned.
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine.errors import ConfigError
from engine.types import Expression, Frame

log = logging.getLogger(__name__)

ORBIT_PER_PIXEL = math.radians(0.5)  # drag 180 px for a quarter turn
PITCH_LIMIT = math.radians(75.0)  # from above or below, never over the top (the camera's up is +y)
ARROW_STEP = math.radians(10.0)  # one arrow key press
ZOOM_STEP = 1.15  # one wheel notch
ZOOM_RANGE = (0.5, 4.0)
INTENSITY_STEP = 0.25
RELOAD_CHECK_S = 0.5
KEYMAP = {**{str(k): f"group:{k}" for k in range(1, 10)}, "0": "neutral", "W": "stronger",
          "S": "weaker", "B": "shot", "R": "reset", "ESCAPE": "quit"}
VIEW_COMMANDS = ("shot", "reset", "quit")  # what the keys still do while a video drives the face


@functools.cache
def groups() -> tuple[tuple[str, Expression], ...]:
    """The groups on keys 1-9: the contact sheet's, after its neutral tile. Imported when first
    used, so registering the command costs nothing."""
    from engine.avatar.preview import EXPRESSION_GROUPS

    return EXPRESSION_GROUPS[1:10]


@dataclass
class ViewState:
    """What the viewer shows: camera orbit and zoom, the chosen group and its strength."""

    yaw: float = 0.0  # radians; pi looks from behind
    pitch: float = 0.0  # radians; positive looks down from above
    zoom: float = 1.0
    group: int | None = None  # index into GROUPS
    intensity: float = 1.0  # 0..1, scales the group's channels
    shot: str = "head"  # or "upper_body" (engine.scenes.SHOTS)
    quit: bool = False

    def drag(self, dx_pixels: float, dy_pixels: float = 0.0) -> None:
        """Orbit by a drag to the right (+x) and tilt by a drag down (+y, screen rows): as if
        the head were turned by the hand, its top comes towards the viewer."""
        self.yaw = (self.yaw + dx_pixels * ORBIT_PER_PIXEL + math.pi) % (2 * math.pi) - math.pi
        self.pitch = float(np.clip(self.pitch + dy_pixels * ORBIT_PER_PIXEL, -PITCH_LIMIT, PITCH_LIMIT))

    def arrow(self, direction: str) -> None:
        """One arrow key: LEFT/RIGHT orbit as a drag that way, UP/DOWN look from higher/lower."""
        dx, dy = {"LEFT": (-1, 0), "RIGHT": (1, 0), "UP": (0, 1), "DOWN": (0, -1)}[direction]
        self.drag(dx * ARROW_STEP / ORBIT_PER_PIXEL, dy * ARROW_STEP / ORBIT_PER_PIXEL)

    def scroll(self, notches: float) -> None:
        self.zoom = float(np.clip(self.zoom * ZOOM_STEP ** notches, *ZOOM_RANGE))

    def command(self, name: str) -> None:
        """Apply one of KEYMAP's commands."""
        if name.startswith("group:"):
            self.group, self.intensity = int(name.partition(":")[2]) - 1, 1.0
        elif name == "neutral":
            self.group = None
        elif name in ("stronger", "weaker"):
            step = INTENSITY_STEP if name == "stronger" else -INTENSITY_STEP
            self.intensity = float(np.clip(self.intensity + step, 0.0, 1.0))
        elif name == "shot":
            from engine.scenes import SHOTS

            self.shot = SHOTS[(SHOTS.index(self.shot) + 1) % len(SHOTS)]
        elif name == "reset":
            self.yaw, self.pitch, self.zoom = 0.0, 0.0, 1.0
        elif name == "quit":
            self.quit = True

    def label(self) -> str:
        shown = "neutral" if self.group is None else f"{groups()[self.group][0]} {self.intensity:.0%}"
        return (f"{shown} | yaw {math.degrees(self.yaw):.0f}° pitch {math.degrees(self.pitch):.0f}° "
                f"zoom {self.zoom:.2f} | {self.shot.replace('_', ' ')} shot")

    def expression(self) -> Expression:
        if self.group is None:
            return Expression()
        chosen = groups()[self.group][1]
        return replace(chosen, blendshapes=(chosen.blendshapes * self.intensity).astype(np.float32))


class AvatarViewer:
    """The viewer on a windowed GL context: ``step()`` draws one frame; ``run()`` until quit."""

    def __init__(self, target: str, gl, shaders, size: tuple[int, int] = (960, 720),
                 source: str | None = None, upper_body: bool = False) -> None:
        from engine.avatar.loader import find_avatar
        from engine.gl.compositor import Background, Compositor
        from engine.output.window import WindowSink

        self.gl, self.shaders, self.size = gl, shaders, size
        self.state = ViewState(shot="upper_body" if upper_body else "head")
        self.path = find_avatar(target, shaders.search)
        self.avatar = None
        self._stamps: dict[Path, int] | None = None
        self._checked_at = -math.inf
        self.reload_if_changed()  # the first load: a broken model fails here
        self._compositor = Compositor(gl.ctx, shaders, size)
        self._layer = self._compositor.layers[0]
        self._layer.set_background(Background(color=(0.80, 0.84, 0.88)))
        self.window = WindowSink(gl, shaders, KEYMAP, on_command=self._on_command)
        self.window.open(*size, 30.0)
        self._index = 0
        self._dragging_from: tuple[float, float] | None = None
        self._hook_mouse()
        self._driver = _Driver(source, size, upper_body) if source else None

    # -- input ----------------------------------------------------------------------------------

    def _on_command(self, name: str) -> None:
        if self._driver is not None and name not in VIEW_COMMANDS:
            return  # the face comes from the tracker
        self.state.command(name)

    def _hook_mouse(self) -> None:
        import glfw

        def button(window, which: int, action: int, mods: int) -> None:
            if which == glfw.MOUSE_BUTTON_LEFT:
                self._dragging_from = glfw.get_cursor_pos(window) if action == glfw.PRESS else None

        def moved(window, x: float, y: float) -> None:
            if self._dragging_from is not None:
                self.state.drag(x - self._dragging_from[0], y - self._dragging_from[1])
                self._dragging_from = (x, y)

        arrows = {glfw.KEY_LEFT: "LEFT", glfw.KEY_RIGHT: "RIGHT", glfw.KEY_UP: "UP",
                  glfw.KEY_DOWN: "DOWN"}

        def key(window, code: int, scancode: int, action: int, mods: int) -> None:
            # The preview window's key map has no arrows; every other key goes on to it.
            if code in arrows:
                if action in (glfw.PRESS, glfw.REPEAT):  # the camera, even while a video drives
                    self.state.arrow(arrows[code])
            elif window_keys is not None:
                window_keys(window, code, scancode, action, mods)

        glfw.set_mouse_button_callback(self.gl.window, button)
        glfw.set_cursor_pos_callback(self.gl.window, moved)
        glfw.set_scroll_callback(self.gl.window, lambda window, dx, dy: self.state.scroll(dy))
        window_keys = glfw.set_key_callback(self.gl.window, key)

    # -- the model --------------------------------------------------------------------------------

    def _watched(self) -> list[Path]:
        return [self.path] if self.path.is_file() else sorted(self.path.iterdir())

    def reload_if_changed(self) -> bool:
        """Open the avatar again when one of its files was saved since the last look (checked
        every RELOAD_CHECK_S); True when it was reloaded."""
        from engine.avatar.loader import open_avatar

        now = time.monotonic()
        if now - self._checked_at < RELOAD_CHECK_S:
            return False
        self._checked_at = now
        stamps = {p: p.stat().st_mtime_ns for p in self._watched() if p.exists()}
        if stamps == self._stamps:
            return False
        self._stamps = stamps
        try:
            fresh = open_avatar(self.path, self.gl, self.shaders).avatar
        except Exception as error:  # a half-saved file must not end the session
            if self.avatar is None:
                raise
            log.warning("%s not reloaded: %s", self.path, error)
            return False
        if self.avatar is not None:
            self.avatar.release()
            log.info("reloaded %s", self.path)
        self.avatar = fresh
        return True

    # -- per frame --------------------------------------------------------------------------------

    def step(self) -> bool:
        """Draw one frame; False once the viewer was asked to quit."""
        import glfw

        from engine.avatar.base import AvatarInput

        self.reload_if_changed()
        expression = self._driver.expression() if self._driver else self.state.expression()
        if hasattr(self.avatar, "yaw"):  # a 3D model: the camera orbits, tilts and zooms
            self.avatar.yaw, self.avatar.zoom = self.state.yaw, self.state.zoom
            self.avatar.pitch, self.avatar.shot = self.state.pitch, self.state.shot
        self.avatar.render(AvatarInput(expression), self._layer.begin())
        image = self._compositor.finish(self._layer)
        self._index += 1
        self.window.write(Frame(image, time.perf_counter(), self._index))
        glfw.set_window_title(self.gl.window, f"Persona viewer: {self.path.name} | {self.state.label()}")
        return not self.state.quit

    def run(self, fps: float = 30.0) -> None:
        while self.step():
            time.sleep(1.0 / fps)

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
        self.window.close()
        self._compositor.release()
        if self.avatar is not None:
            self.avatar.release()


class _Driver:
    """The tracked face (and with ``upper_body`` the arms) from a video file or the camera,
    through the live tracker and retargeter (tracking on its worker thread, as in a session)."""

    def __init__(self, spec: str, size: tuple[int, int], upper_body: bool = False) -> None:
        from engine.capture.factory import open_source
        from engine.retarget import Retargeter
        from engine.tracking.mediapipe_tracker import MediaPipeTracker
        from engine.tracking.threaded import ThreadedTracker

        self.source = open_source("webcam" if spec == "camera" else spec, size)
        self.source.start()
        self.tracker = ThreadedTracker(MediaPipeTracker)
        self.tracker.set_upper_body(upper_body)
        self.retargeter = Retargeter()
        self.shown = Expression()

    def expression(self) -> Expression:
        frame = self.source.latest()
        if frame is not None:
            self.shown = self.retargeter.update(self.tracker.track(frame), frame.t_capture)
        return self.shown

    def close(self) -> None:
        self.tracker.close()
        self.source.close()


def view(target: str, source: str | None = None, size: tuple[int, int] = (960, 720),
         upper_body: bool = False) -> None:
    """Open the window and run the viewer until Esc or the window is closed."""
    from engine.avatar.loader import find_avatar
    from engine.gl.context import GLContext
    from engine.gl.programs import ShaderLibrary

    target = str(find_avatar(target))  # a wrong name fails before a window opens
    gl = GLContext.windowed(*size, title="Persona viewer")
    try:
        shaders = ShaderLibrary(gl.ctx)
        viewer = AvatarViewer(target, gl, shaders, size, source, upper_body)
        try:
            viewer.run()
        finally:
            viewer.close()
    finally:
        gl.close()


def _view(args: argparse.Namespace) -> int:
    if args.upper_body and not args.source:
        raise ConfigError("avatar view: --upper-body follows the arms of --source; give one")
    view(args.file, args.source, upper_body=args.upper_body)
    return 0


def register(commands) -> None:
    parser = commands.add("view", _view, group="avatar",
                          help="look at an avatar in a window: drag (or the arrow keys) to orbit "
                               "and tilt, wheel to zoom, keys 1-9 for expressions, W/S "
                               "stronger/weaker, B the upper-body shot; reloads when saved")
    parser.add_argument("file", help="avatar name, avatar folder, or .glb/.gltf/.vrm file")
    parser.add_argument("--source", help="drive the face from a video file, or 'camera'")
    parser.add_argument("--upper-body", action="store_true",
                        help="also follow the arms of --source (MediaPipe Pose), in the "
                             "upper-body shot")
