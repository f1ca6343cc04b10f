"""The privacy shutter: the switches that hide the person, with rules that cannot leak.

Every switch takes the wanted state (a command's ``on``; None flips it, as a hotkey does), so a
request sent twice changes nothing the second time. On top of that:

* **be right back** (blank) mutes the voice and gives back exactly the mute state from before it;
  nothing unmutes while the card is up — a mute request then changes what the card gives back;
* **panic** blanks and mutes at once, and only a deliberate act lifts it: holding its key for
  ``PANIC_HOLD_S`` (the window reports the press and the release), or the control page's
  confirmed button (argument ``lift``). A plain toggle never lifts it. While it is on, the card
  cannot be taken down, the voice cannot be unmuted and the real voice cannot be switched on.
  Lifting it leaves the card up: the clinician takes it down with B when ready;
* **the real voice** (voice morph off) needs a confirmation — the same request twice within
  ``CONFIRM_S``, or argument ``confirm`` from a page that asked — and is refused outright in a
  scene that promises anonymity.

The full table is in docs/clinician.md, "What the switches do".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from engine.status import CONFIRM, LIFT, RELEASE, CommandName, VoiceStatus

log = logging.getLogger(__name__)

PANIC_HOLD_S = 2.0
CONFIRM_S = 3.0


class Voice(Protocol):
    def set_mute(self, mute: bool) -> None: ...
    def set_bypass(self, bypass: bool) -> None: ...
    def status(self) -> VoiceStatus: ...


class Shutter:
    """The blank card, the panic and the voice switches of one session.

    ``voice`` returns the session's voice (or None): the offline renderer attaches one after the
    app is built, so it is looked up each time rather than kept.
    """

    def __init__(self, voice: Callable[[], Voice | None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._voice = voice
        self._clock = clock
        self.blank = False
        self.panic = False
        self._mute_after_blank = False  # the mute state the card gives back when it ends
        self._lift_armed_at: float | None = None  # the panic key went down while panic was on
        self._real_voice_asked_at: float | None = None

    def state(self, name: CommandName) -> bool | None:
        """The state a command compares with; None where it does not apply (no voice)."""
        voice = self._voice()
        if name is CommandName.BLANK:
            return self.blank
        if name is CommandName.PANIC:
            return self.panic
        if voice is None:
            return None
        if name is CommandName.MUTE:
            return self._mute_after_blank if self.blank else voice.status().muted
        if name is CommandName.VOICE:
            return not voice.status().bypass
        raise ValueError(f"{name.value} is not a shutter switch")

    def request(self, name: CommandName, on: bool | None, argument: str | None,
                anonymous: bool) -> str | None:
        """Apply a switch command; returns why it was not applied (for the HUD), or None."""
        current = self.state(name)
        if current is None:
            return f"{name.value}: no voice in this session (start with --voice)"
        if name is CommandName.PANIC:
            return self._panic(current, on, argument)
        wanted = (not current) if on is None else on
        if wanted == current:
            return None
        if name is CommandName.BLANK:
            if self.panic and not wanted:
                return "the card stays up during panic: lift the panic first (hold P)"
            self._set_blank(wanted)
        elif name is CommandName.MUTE:
            if self.panic and not wanted:
                return "the voice stays muted during panic: lift the panic first (hold P)"
            if self.blank:
                self._mute_after_blank = wanted
            else:
                self._voice().set_mute(wanted)
        elif name is CommandName.VOICE:
            if wanted:
                self._voice().set_bypass(False)
            else:
                return self._real_voice(argument, anonymous)
        log.info("%s %s", name.value, "on" if wanted else "off")
        return None

    def scene_changed(self, anonymous: bool) -> None:
        """A scene that promises anonymity turns the morph back on if the real voice was on."""
        voice = self._voice()
        if anonymous and voice is not None and voice.status().bypass:
            voice.set_bypass(False)
            log.warning("this scene promises anonymity: the voice morph is on again")

    def _set_blank(self, on: bool) -> None:
        voice = self._voice()
        if voice is not None:
            if on:
                self._mute_after_blank = voice.status().muted
            voice.set_mute(True if on else self._mute_after_blank)
        self.blank = on

    def _panic(self, current: bool, on: bool | None, argument: str | None) -> str | None:
        now = self._clock()
        if argument == RELEASE:  # the panic key let go: lift only after a long enough hold
            armed, self._lift_armed_at = self._lift_armed_at, None
            if armed is None or not current:  # not pressed during a panic, or lifted meanwhile
                return None
            if now - armed < PANIC_HOLD_S:
                return f"panic stays on: hold P for {PANIC_HOLD_S:.0f} s to lift it"
            return self._lift()
        if argument == LIFT and on is not True:
            return self._lift() if current else None
        if current:
            if on is None:  # the panic key pressed again: the start of a hold
                self._lift_armed_at = now
                return f"panic stays on: keep holding P for {PANIC_HOLD_S:.0f} s to lift it"
            return None if on else ("panic stays on: lift it deliberately "
                                    "(hold P, or confirm on the control page)")
        if on is False:
            return None
        self.panic = True
        self._lift_armed_at = None
        if not self.blank:
            self._set_blank(True)
        voice = self._voice()
        if voice is not None:
            voice.set_bypass(False)
            self._mute_after_blank = True  # lifting the panic must not unmute by itself
        log.warning("PANIC: picture and voice hidden")
        return None

    def _lift(self) -> str | None:
        self.panic = False
        log.warning("panic lifted; the card stays up until B")
        return "panic lifted: the card stays up until B, the voice stays muted until M"

    def _real_voice(self, argument: str | None, anonymous: bool) -> str | None:
        if anonymous:
            return "this scene promises anonymity: the real voice stays off"
        if self.panic:
            return "the real voice stays off during panic"
        now = self._clock()
        asked = self._real_voice_asked_at
        if argument != CONFIRM and (asked is None or now - asked > CONFIRM_S):
            self._real_voice_asked_at = now
            return f"press V again within {CONFIRM_S:.0f} s to use your REAL voice"
        self._real_voice_asked_at = None
        self._voice().set_bypass(True)
        log.warning("REAL VOICE: the morph is off")
        return None
