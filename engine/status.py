"""The one vocabulary between the loop and everything that controls or shows it.

Commands go in (hotkeys, the control API and its WebSocket, tests, the soak); a ``Status``
snapshot comes out (HUD, control page, WebSocket, ``persona run`` logs). Both are typed here and
nowhere else: the HUD and the control server read ``Status`` attributes, the page receives
``Status.to_json()`` and the vocabulary from ``/api/vocabulary``, so a name can no longer drift
between producer and reader (the voice once published ``mute`` while every reader looked for
``muted``).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass


class CommandName(str, enum.Enum):
    """Everything the loop can be told to do."""

    SCENE = "scene"  # argument: hotkey, position, name or file stem
    BLANK = "blank"  # the "be right back" card (mutes the voice while it is up)
    FREEZE = "freeze"  # hold the avatar's expression
    MUTE = "mute"
    VOICE = "voice"  # the voice morph; off means the real voice passes
    HUD = "hud"
    # Blank and mute at once; only a deliberate lift ends it (argument "lift": a held key, or a
    # confirmed button), never a plain toggle.
    PANIC = "panic"
    CALIBRATE = "calibrate"  # take the next second of faces as this person's neutral
    QUIT = "quit"


# Commands that set a state; ``Command.on`` says which (None flips it, as a hotkey does).
SWITCHES: tuple[CommandName, ...] = (CommandName.BLANK, CommandName.FREEZE, CommandName.MUTE,
                                     CommandName.VOICE, CommandName.HUD, CommandName.PANIC)
# Arguments that make a command deliberate: lifting the panic (a confirmed button), the panic
# key let go after being held (the loop times the hold), switching to the real voice.
LIFT = "lift"
RELEASE = "release"
CONFIRM = "confirm"
# Commands that need the live voice.
VOICE_COMMANDS: tuple[CommandName, ...] = (CommandName.MUTE, CommandName.VOICE)


@dataclass(frozen=True)
class Command:
    """A control command, applied at the next frame boundary on the loop's thread.

    ``name`` may be given as a string; an unknown one raises ValueError naming the known ones.
    """

    name: CommandName
    argument: str | None = None
    on: bool | None = None  # the wanted state of a switch; None: the opposite of the current

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "name", CommandName(self.name))
        except ValueError:
            known = ", ".join(name.value for name in CommandName)
            raise ValueError(f"unknown command {self.name!r}; known: {known}") from None
        if self.on is not None and not isinstance(self.on, bool):
            raise ValueError(f"{self.name.value}: 'on' must be true or false, got {self.on!r}")

    @classmethod
    def parse(cls, text: str) -> Command:
        """A command from a key binding's text: ``"blank"``, ``"scene:2"``."""
        name, _, argument = text.partition(":")
        return cls(name, argument or None)


@dataclass(frozen=True)
class VoiceStatus:
    muted: bool
    bypass: bool  # the real voice passes unmorphed
    preset: str | None = None
    input_db: float = -120.0  # recent RMS of what the microphone gives, dBFS
    output_db: float = -120.0  # ... and of what the virtual microphone receives
    sample_rate: int = 48000
    running: bool = True  # False while the devices are missing or failing


@dataclass(frozen=True)
class SceneEntry:
    name: str
    hotkey: str | None
    key: str  # what the control API's /api/scene/{key} takes: the file stem
    badge: str


@dataclass(frozen=True)
class Refusal:
    """The last scene that could not be switched to, and why."""

    scene: str
    reason: str
    age_s: float = 0.0


@dataclass(frozen=True)
class Status:
    """A snapshot of the session, plain data safe to hand to another thread."""

    scene: str
    hotkey: str | None = None
    scenes: tuple[SceneEntry, ...] = ()
    switching: bool = False
    crossfade: float = 1.0  # progress of the running crossfade, 1 when none runs
    refused: Refusal | None = None
    face: bool = False  # a face is tracked now
    confidence: float = 0.0
    fps: float = 0.0
    latency_ms: float = 0.0  # capture → output, p50
    blank: bool = False
    freeze: bool = False
    hud: bool = True
    panic: bool = False
    stage_errors: int = 0
    voice: VoiceStatus | None = None
    # The frame watchdog (engine.clock.FrameStats), over the session so far:
    on_time_pct: float = 0.0  # deadline slots that got their frame on time; dropped ones did not
    longest_stall_ms: float = 0.0  # the longest frame-to-frame gap: how long the picture froze
    dropped_frames: int = 0  # deadline slots that passed without a frame
    over_budget_s: float = 0.0  # time frames took beyond the frame budget, summed
    slow_stage: str | None = None  # a stage that alone overran the budget 3+ times in 10 s
    # Repeated warnings the terminal held back (engine.logs): how many, and the most repeated
    # as (what, times seen).
    suppressed_warnings: int = 0
    repeated_warnings: tuple[tuple[str, int], ...] = ()
    # The app's last word to the clinician (App.say): calibration done, a command refused.
    message: str | None = None
    message_age_s: float = 0.0
    # The current avatar's own figures, for kinds that run at their own rate (a neural model's
    # pictures per second and time per picture): its ``status_line()``.
    avatar_note: str | None = None

    def switch(self, name: CommandName) -> bool | None:
        """The state a switch command sets, or None where this snapshot cannot tell: no voice,
        or mute while the card is up (the card mutes; a request then changes what the card
        gives back, which only the loop knows)."""
        if name is CommandName.MUTE:
            return None if self.voice is None or self.blank else self.voice.muted
        if name is CommandName.VOICE:
            return None if self.voice is None else not self.voice.bypass
        if name in SWITCHES:
            return getattr(self, name.value)
        return None

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def vocabulary() -> dict:
    """The command names and status fields, for the control page (``/api/vocabulary``)."""

    def fields(cls) -> list[str]:
        return [item.name for item in dataclasses.fields(cls)]

    return {"commands": [name.value for name in CommandName],
            "switches": [name.value for name in SWITCHES],
            "status": fields(Status), "voice": fields(VoiceStatus),
            "scene": fields(SceneEntry), "refused": fields(Refusal)}

