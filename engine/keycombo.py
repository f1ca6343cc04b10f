"""Global key combos: what ``"ctrl+alt+b"`` means, and which combos may be taken system-wide.

A global key reaches Persona whatever window has focus (Zoom, during a call), which means it is
taken away from every other program. So only combos with at least two modifiers are allowed: a
plain letter or digit, or even ctrl+B, would break typing and common shortcuts elsewhere.

Pure parsing, no X: the settings check every combo when they are read (a typo fails at start,
not on the key press), and ``engine.control.hotkeys`` grabs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.status import Command, CommandName

MODIFIERS = ("ctrl", "alt", "shift", "super")  # the order combos are written in
_MODIFIER_ALIASES = {"control": "ctrl", "win": "super"}
MIN_MODIFIERS = 2
# Keys besides letters, digits and F1–F24, with their X keysym names.
NAMED_KEYS = {"space": "space", "pause": "Pause", "insert": "Insert", "delete": "Delete",
              "home": "Home", "end": "End", "pageup": "Prior", "pagedown": "Next"}
_FUNCTION_KEYS = {f"f{number}" for number in range(1, 25)}
# Quitting ends the clinician's camera; it stays the preview window's (Esc, confirmed there).
NOT_GLOBAL = (CommandName.QUIT,)


@dataclass(frozen=True)
class Combo:
    modifiers: frozenset[str]
    key: str  # lower case: "b", "7", "f5", "space"

    def __str__(self) -> str:
        return "+".join([*(name for name in MODIFIERS if name in self.modifiers), self.key])

    @property
    def keysym_name(self) -> str:
        """The key's X keysym name ("b", "7", "F5", "Pause")."""
        if self.key in _FUNCTION_KEYS:
            return self.key.upper()
        return NAMED_KEYS.get(self.key, self.key)


def parse_combo(text: str) -> Combo:
    """``"ctrl+alt+b"`` (any case and order) → ``Combo``; ValueError in plain words."""
    parts = [part.strip().lower() for part in str(text).split("+")]
    *modifiers, key = parts
    modifiers = [_MODIFIER_ALIASES.get(name, name) for name in modifiers]
    unknown = [name for name in modifiers if name not in MODIFIERS]
    if unknown:
        raise ValueError(f"global key {text!r}: {unknown[0]!r} is not a modifier; "
                         f"use {', '.join(MODIFIERS)}")
    if len(set(modifiers)) != len(modifiers):
        raise ValueError(f"global key {text!r} names a modifier twice")
    if len(modifiers) < MIN_MODIFIERS:
        raise ValueError(f"global key {text!r} needs at least {MIN_MODIFIERS} modifiers "
                         "(e.g. ctrl+alt+b): a global key is taken from every other program")
    single = len(key) == 1 and (key.isascii() and key.isalnum())
    if not (single or key in _FUNCTION_KEYS or key in NAMED_KEYS):
        raise ValueError(f"global key {text!r}: unknown key {key!r}; use a letter, a digit, "
                         f"f1–f24 or {', '.join(NAMED_KEYS)}")
    return Combo(frozenset(modifiers), key)


def global_command(text: str) -> Command:
    """The command a global key sends (``Command.parse``), refusing those that stay local."""
    command = Command.parse(str(text))
    if command.name in NOT_GLOBAL:
        raise ValueError(f"{command.name.value!r} cannot be a global key; it stays in the "
                         "preview window, where it asks for confirmation")
    return command


def parse_bindings(mapping: Mapping[str, str]) -> dict[Combo, Command]:
    """The ``global_keys`` setting checked: every combo and command, no combo twice."""
    bindings: dict[Combo, Command] = {}
    for combo_text, command_text in mapping.items():
        combo = parse_combo(combo_text)
        if combo in bindings:
            raise ValueError(f"global key {combo} is bound twice")
        bindings[combo] = global_command(command_text)
    return bindings
