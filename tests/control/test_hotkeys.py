"""Global hotkeys under Xvfb: a combo pressed while ANOTHER window has focus reaches the command
queue; a plain key still goes to that window; a combo another client holds is reported and the
rest keep working. Key presses are real XTEST events (``xdotool key``), which go through the
X server's grabs exactly as a keyboard's do."""

from __future__ import annotations

import os
import queue
import subprocess
import time

import pytest

from engine.config import Settings
from engine.control.hotkeys import GlobalHotkeys
from engine.errors import ConfigError
from engine.keycombo import parse_combo
from engine.status import Command, CommandName
from tests.conftest import xvfb


@pytest.fixture
def display(monkeypatch):
    with xvfb(monkeypatch, "320x240x24", range(140, 190)) as name:
        yield name


class OtherWindow:
    """Another program's window (Zoom, in real life): it has the keyboard focus and records
    the keys it receives."""

    def __init__(self, name: str) -> None:
        from Xlib import X
        from Xlib.display import Display

        self.display = Display(name)
        root = self.display.screen().root
        self.window = root.create_window(0, 0, 100, 100, 0, self.display.screen().root_depth,
                                         event_mask=X.KeyPressMask | X.ExposureMask)
        self.window.map()
        self.display.sync()
        self.window.set_input_focus(X.RevertToParent, X.CurrentTime)
        self.display.sync()

    def has_focus(self) -> bool:
        return self.display.get_input_focus().focus.id == self.window.id

    def keys(self, wait_s: float = 1.0) -> list[str]:
        """The keys other than modifiers this window received (waiting up to ``wait_s`` for
        the first)."""
        from Xlib import X, XK

        deadline = time.monotonic() + wait_s
        names = []
        while time.monotonic() < deadline and not names:
            while self.display.pending_events():
                event = self.display.next_event()
                if event.type == X.KeyPress:
                    keysym = self.display.keycode_to_keysym(event.detail, 0)
                    name = XK.keysym_to_string(keysym)
                    if name is not None:  # modifiers (ctrl, alt) have none: they still arrive
                        names.append(name)
            time.sleep(0.02)
        return names

    def close(self) -> None:
        self.display.close()


def press(combo: str) -> None:
    subprocess.run(["xdotool", "key", combo], check=True, timeout=10, env=os.environ)


def next_command(commands: queue.SimpleQueue, timeout: float = 3.0) -> Command | None:
    try:
        return commands.get(timeout=timeout)
    except queue.Empty:
        return None


@pytest.fixture
def other(display):
    window = OtherWindow(display)
    yield window
    window.close()


def test_a_combo_reaches_the_queue_while_another_window_has_focus(display, other):
    commands: queue.SimpleQueue = queue.SimpleQueue()
    hotkeys = GlobalHotkeys({"ctrl+alt+b": "blank", "ctrl+alt+shift+2": "scene:2"}, commands)
    hotkeys.start()
    try:
        assert hotkeys.problems == []
        assert other.has_focus()
        press("ctrl+alt+b")
        assert next_command(commands) == Command(CommandName.BLANK)
        press("ctrl+alt+shift+2")
        assert next_command(commands) == Command(CommandName.SCENE, "2")
        assert other.keys(wait_s=0.3) == [], "a grabbed combo does not reach the focused window"
        # A plain key is never grabbed: it goes to the window with focus, as before.
        press("b")
        assert other.keys() == ["b"]
        assert next_command(commands, timeout=0.3) is None
        # Caps Lock on must not turn the combo off (X counts it as a modifier).
        press("Caps_Lock")
        press("ctrl+alt+b")
        press("Caps_Lock")
        assert next_command(commands) == Command(CommandName.BLANK)
    finally:
        hotkeys.stop()
    press("ctrl+alt+b")  # released: the combo goes back to the window with focus
    assert next_command(commands, timeout=0.3) is None
    assert other.keys() == ["b"]


def test_a_combo_held_by_another_program_is_reported_and_the_rest_work(display, other):
    from Xlib import X, XK

    held = other.display.keysym_to_keycode(XK.string_to_keysym("m"))
    other.display.screen().root.grab_key(held, X.ControlMask | X.Mod1Mask, True,
                                         X.GrabModeAsync, X.GrabModeAsync)
    other.display.sync()
    commands: queue.SimpleQueue = queue.SimpleQueue()
    hotkeys = GlobalHotkeys({"ctrl+alt+m": "mute", "ctrl+alt+f": "freeze"}, commands)
    hotkeys.start()
    try:
        assert len(hotkeys.problems) == 1
        assert "ctrl+alt+m" in hotkeys.problems[0] and "taken by another program" in \
            hotkeys.problems[0]
        assert [str(combo) for combo in hotkeys.grabbed] == ["ctrl+alt+f"]
        press("ctrl+alt+f")
        assert next_command(commands) == Command(CommandName.FREEZE)
        press("ctrl+alt+m")
        assert next_command(commands, timeout=0.3) is None  # the other program's, still
    finally:
        hotkeys.stop()


def test_no_display_is_reported_once_and_nothing_stops(monkeypatch, tmp_path):
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    commands: queue.SimpleQueue = queue.SimpleQueue()
    hotkeys = GlobalHotkeys({"ctrl+alt+b": "blank"}, commands, display=":239")
    hotkeys.start()
    hotkeys.stop()
    assert len(hotkeys.problems) == 1 and "no X display" in hotkeys.problems[0]
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    wayland = GlobalHotkeys({"ctrl+alt+b": "blank"}, commands)
    wayland.start()
    wayland.stop()
    assert len(wayland.problems) == 1 and "Wayland" in wayland.problems[0]


def test_combos_are_checked_when_the_settings_are_read():
    assert Settings().global_keys == {}, "no key is taken from other programs unless asked"
    settings = Settings().updated({"global_keys": {"Alt+Ctrl+B": "blank",
                                                   "ctrl+alt+p": "panic"}}, "settings.toml")
    assert {str(parse_combo(combo)) for combo in settings.global_keys} == {"ctrl+alt+b",
                                                                           "ctrl+alt+p"}
    refused = {
        "b": "at least 2 modifiers",  # a plain letter would break typing everywhere
        "ctrl+b": "at least 2 modifiers",
        "ctrl+alt+enter!": "unknown key",
        "hyper+alt+b": "not a modifier",
    }
    for combo, reason in refused.items():
        with pytest.raises(ConfigError, match=reason):
            Settings().updated({"global_keys": {combo: "blank"}}, "settings.toml")
    with pytest.raises(ConfigError, match="unknown command 'blnak'"):
        Settings().updated({"global_keys": {"ctrl+alt+b": "blnak"}}, "settings.toml")
    with pytest.raises(ConfigError, match="quit"):
        Settings().updated({"global_keys": {"ctrl+alt+q": "quit"}}, "settings.toml")
    with pytest.raises(ConfigError, match="bound twice"):
        Settings().updated({"global_keys": {"ctrl+alt+b": "blank", "alt+ctrl+b": "mute"}},
                           "settings.toml")
