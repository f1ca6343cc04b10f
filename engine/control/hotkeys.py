"""Global hotkeys: key combos that reach Persona while another window (Zoom) has focus.

X11 only, through passive grabs on the root window (``XGrabKey``): the X server hands a grabbed
combo to us whichever window has focus, and every other key goes where it always went. The
grabs and the event wait run on a thread of their own with their own X connection; a press
becomes an ``engine.status.Command`` on the app's command queue, the same queue the preview
window and the control server use, applied at the next frame boundary.

Nothing here may stop a session: a combo another program holds, a missing X display, a Wayland
session or another platform is reported once, in plain words, and the rest goes on. Windows
(``RegisterHotKey``) and macOS (an event tap) are described in docs/control-api.md and not
implemented.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import select
import sys
import threading
from collections.abc import Mapping

from engine.keycombo import Combo, parse_bindings
from engine.status import Command

log = logging.getLogger(__name__)


class GlobalHotkeys:
    """Grabs ``bindings`` (the ``global_keys`` setting) and queues their commands."""

    def __init__(self, bindings: Mapping[str, str], commands: queue.SimpleQueue,
                 display: str | None = None) -> None:
        self.bindings: dict[Combo, Command] = parse_bindings(bindings)
        self.commands = commands
        self.display_name = display  # None: $DISPLAY
        self.problems: list[str] = []  # each reported once, in plain words
        self.grabbed: list[Combo] = []
        self._thread: threading.Thread | None = None
        self._wake_read, self._wake_write = -1, -1

    def start(self, timeout: float = 5.0) -> None:
        """Grab every combo that can be had; returns once they are grabbed (or refused)."""
        if not self.bindings:
            return
        reason = _unsupported()
        if reason:
            self._report(reason)
            return
        self._wake_read, self._wake_write = os.pipe()  # stop() wakes the event wait through it
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,),
                                        name="persona-hotkeys", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            self._report("global keys: the X server did not answer; they are off this session")

    def stop(self) -> None:
        """Release the grabs and the X connection; safe to call more than once."""
        if self._thread is None:
            return
        os.write(self._wake_write, b"x")
        self._thread.join(timeout=5.0)
        self._thread = None
        for end in (self._wake_read, self._wake_write):
            os.close(end)

    def _report(self, problem: str) -> None:
        self.problems.append(problem)
        log.warning("%s", problem)

    # -- on the thread ------------------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        from Xlib import error as xerror
        from Xlib.display import Display

        try:
            display = Display(self.display_name)
        except (xerror.DisplayError, xerror.XauthError, OSError) as failure:
            self._report(f"global keys are off: no X display to grab them on ({failure}); "
                         "the preview window's keys and the control page still work")
            ready.set()
            return
        try:
            masks = _modifier_masks(display)
            keys = self._grab(display, masks)
            ready.set()
            self._listen(display, keys, masks)
            display.close()
        except xerror.ConnectionClosedError:
            self._report("global keys stopped: the X server closed the connection")
        finally:
            ready.set()

    def _grab(self, display, masks: dict[str, int]) -> dict[tuple[int, int], Command]:
        """Grab each combo (with and without Caps Lock and Num Lock, which X counts as
        modifiers); returns (keycode, modifier mask) → command for what was grabbed."""
        from Xlib import X, XK
        from Xlib.error import CatchError

        ignored = (X.LockMask, masks["numlock"])
        root = display.screen().root
        keys: dict[tuple[int, int], Command] = {}
        for combo, command in self.bindings.items():
            keycode = display.keysym_to_keycode(XK.string_to_keysym(combo.keysym_name))
            if not keycode:
                self._report(f"global key {combo}: this keyboard has no such key; not grabbed")
                continue
            mask = 0
            for name in combo.modifiers:
                mask |= masks[name]
            catch = CatchError()
            for extra in _subsets(ignored):
                root.grab_key(keycode, mask | extra, True, X.GrabModeAsync, X.GrabModeAsync,
                              onerror=catch)
            display.sync()  # grab errors arrive asynchronously: wait for the server's answer
            if catch.get_error() is not None:
                for extra in _subsets(ignored):  # no half-held combo
                    root.ungrab_key(keycode, mask | extra)
                display.sync()
                self._report(f"global key {combo} ({command.name.value}) is taken by another "
                             "program; it is off this session — choose another combo in "
                             "global_keys, or use the preview window or the control page")
                continue
            keys[(keycode, mask)] = command
            self.grabbed.append(combo)
        return keys

    def _listen(self, display, keys: dict[tuple[int, int], Command],
                masks: dict[str, int]) -> None:
        from Xlib import X

        relevant = masks["ctrl"] | masks["alt"] | masks["shift"] | masks["super"]
        released_at: dict[int, int] = {}
        while True:
            # Events the library already read (while grabbing, say) first, then wait for more.
            for _ in range(display.pending_events()):
                event = display.next_event()
                if event.type == X.KeyRelease:
                    released_at[event.detail] = event.time
                elif event.type == X.KeyPress:
                    # X's auto-repeat sends release + press with one timestamp: a held key
                    # is one press, or a toggle would flicker.
                    if released_at.get(event.detail) == event.time:
                        continue
                    command = keys.get((event.detail, event.state & relevant))
                    if command is not None:
                        self.commands.put(command)
            readable, _, _ = select.select([display.fileno(), self._wake_read], [], [])
            if self._wake_read in readable:
                return


def _unsupported() -> str | None:
    """Why global keys cannot work here, or None."""
    if sys.platform == "win32" or sys.platform == "darwin":
        return ("global keys are not available on this system yet (X11 only; see "
                "docs/control-api.md); the preview window's keys and the control page work")
    if os.environ.get("XDG_SESSION_TYPE") == "wayland" or (
            os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY")):
        return ("global keys are off: this is a Wayland session, where programs may not take "
                "keys from each other; use the preview window's keys or the control page")
    return None


def _modifier_masks(display) -> dict[str, int]:
    """The X modifier bit of each modifier name, from the server's modifier map (Alt is
    Mod1 and Super Mod4 on most keyboards, but not on all)."""
    from Xlib import X, XK

    found = {"ctrl": X.ControlMask, "shift": X.ShiftMask}
    wanted = {"alt": ("Alt_L", "Alt_R"), "super": ("Super_L", "Super_R"),
              "numlock": ("Num_Lock",)}
    defaults = {"alt": X.Mod1Mask, "super": X.Mod4Mask, "numlock": X.Mod2Mask}
    codes = {name: {display.keysym_to_keycode(XK.string_to_keysym(sym)) for sym in syms} - {0}
             for name, syms in wanted.items()}
    for index, keycodes in enumerate(display.get_modifier_mapping()):
        for name, wanted_codes in codes.items():
            if name not in found and wanted_codes & set(keycodes) and index >= 3:
                found[name] = 1 << index  # rows 3..7 are Mod1..Mod5
    return {**defaults, **found}


def _subsets(masks: tuple[int, ...]) -> list[int]:
    return [sum(chosen) for size in range(len(masks) + 1)
            for chosen in itertools.combinations(masks, size)]
