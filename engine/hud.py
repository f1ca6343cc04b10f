"""The HUD: what the clinician sees over the preview, and nobody else.

``Hud.render(status)`` returns a premultiplied RGBA image the size of the frame; the preview
window (``engine.output.window``) lays it over the finished frame on screen. It is never drawn
into the frame the virtual camera, recorder or pipe receive.

What it shows, by how much a clinician needs it:

- **Flags**, top right, filled red or amber, one per state that changes what the other side gets:
  PANIC, REAL VOICE (the morph is off: a leak if unintended), MUTED, BLANK (the card is up),
  FROZEN, NO AUDIO (the audio device stopped). They show even with the HUD hidden (``status.hud``
  off leaves only them, the window's notice and short messages): hiding the HUD is exactly when
  a forgotten real voice would go unnoticed.
- **The status panel**, top left: scene and hotkey, fps and latency, the face (or "paused" while
  the card is up: nothing is tracked then), the voice's state, and two level meters — what the
  microphone gives (Mic) and what the virtual microphone receives (Out) — so a muted voice shows
  as a live Mic over a silent Out.
- **Messages** (``Status.message`` from ``App.say``: calibration done, a command refused) for
  ``MESSAGE_SHOWN_S``, and a refused scene's reason for ``REFUSAL_SHOWN_S``.
- **The detail view** (``Hud.detail``): the frame watchdog (on-time rate, dropped frames, time
  over budget, the longest stall, a stage that keeps overrunning) and the warnings the terminal
  held back (``engine.logs``).
- **The scene list** with hotkeys, bottom right (the bottom left is the badge's).

Text is set in DejaVu Sans through Pillow's FreeType binding. Cost: panels are redrawn at most
``redraw_hz`` times a second, or at once when something discrete changes (scene, a flag, a
message); between redraws only the two meters (numpy fills of a few hundred pixels) change, so a
frame's HUD costs microseconds.

``status`` is the loop's ``engine.status.Status`` snapshot; ``notice`` is the window's own
one-line message (e.g. "press Esc again to quit").
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from engine.blank import FONT_PATHS, font
from engine.status import SceneEntry, Status, VoiceStatus

_PANEL = (16, 19, 26, 200)  # RGBA, unpremultiplied
_TEXT = (236, 239, 244, 255)
_DIM = (160, 168, 182, 255)
_GOOD = (92, 200, 120, 255)
_WARN = (240, 180, 60, 255)
_ALERT = (232, 80, 80, 255)
_TRACK = (60, 66, 78, 255)  # an empty bar or meter
_RED_FLAG = ((200, 36, 36, 240), (255, 255, 255, 255), (255, 222, 222, 255))  # fill, word, note
_AMBER_FLAG = ((240, 168, 32, 240), (24, 20, 12, 255), (60, 44, 10, 255))
_MESSAGE = (36, 84, 140, 230)
REFUSAL_SHOWN_S = 8.0
MESSAGE_SHOWN_S = 4.0
STALL_SHOWN_S = 0.5  # a longest stall from here on is drawn in amber: the picture froze visibly
_METER_FLOOR_DB = -60.0
_PATH = re.compile(r"(/[^\s:'\"]*/)([^/\s:'\"]+)")  # an absolute path: its folder, its name


@dataclass(frozen=True)
class Flag:
    """A state that changes what the other side gets, as the HUD shows it."""

    word: str
    note: str
    red: bool  # red: the other side hears or may hear something unexpected; amber: it sees less


def flags(status: Status) -> tuple[Flag, ...]:
    """The flags for ``status``, most urgent first."""
    voice = status.voice
    shown = []
    if status.panic:
        shown.append(Flag("PANIC", "card up, voice muted · hold P to lift", True))
    if voice is not None and voice.bypass:
        shown.append(Flag("REAL VOICE", "morph off: your own voice is heard", True))
    if status.blank and not status.panic:
        shown.append(Flag("BLANK", "“be right back” card is up", False))
    if voice is not None and voice.muted and not status.panic:
        shown.append(Flag("MUTED", "while the card is up" if status.blank else "nobody hears you",
                          True))
    if status.freeze:
        shown.append(Flag("FROZEN", "the avatar holds still", False))
    if voice is not None and not voice.running:
        shown.append(Flag("NO AUDIO", "the audio device stopped; retrying", False))
    return tuple(shown)


def meter_fill(db: float) -> float:
    """A level meter's fill, 0..1, from a level in dBFS (silence below -60 dB)."""
    if not math.isfinite(db):
        return 0.0
    return float(min(max((db - _METER_FLOOR_DB) / -_METER_FLOOR_DB, 0.0), 1.0))


def voice_level(voice: VoiceStatus | None) -> float:
    """The Out meter's fill: what the virtual microphone receives."""
    return 0.0 if voice is None else meter_fill(voice.output_db)


def voice_label(voice: VoiceStatus | None) -> tuple[str, tuple]:
    if voice is None:
        return "Voice: off", _DIM
    if not voice.running:
        return "Voice: stopped (device lost)", _WARN
    if voice.muted:
        return "Voice: MUTED", _ALERT
    if voice.bypass:
        return "Voice: real (morph off)", _ALERT
    return f"Voice: morph {voice.preset}" if voice.preset else "Voice: morph on", _GOOD


def face_label(status: Status) -> tuple[str, tuple]:
    if status.blank:  # nothing is tracked while the card is up: not a lost face
        return "Face: paused (card up)", _DIM
    if status.face:
        return f"Face: {status.confidence:.0%}", _TEXT
    return "Face: not seen (avatar at rest)", _WARN


def detail_lines(status: Status) -> list[tuple[str, tuple]]:
    """The detail view's lines and their colours: the frame watchdog, then held-back warnings."""
    stall = status.longest_stall_ms / 1e3
    lines = [
        ("Frame watchdog", _DIM),
        (f"On time {status.on_time_pct:.1f} %   ·   dropped {status.dropped_frames}   ·   "
         f"over budget {status.over_budget_s:.2f} s", _TEXT),
        (f"Longest stall {stall:.2f} s   ·   slow stage: {status.slow_stage or 'none'}",
         _WARN if status.slow_stage or stall >= STALL_SHOWN_S else _TEXT),
        (f"Stage errors {status.stage_errors}   ·   warnings held back "
         f"{status.suppressed_warnings}", _WARN if status.stage_errors else _TEXT),
    ]
    return lines + [(f"×{count}  {label}", _DIM) for label, count in status.repeated_warnings]


@lru_cache(maxsize=8)
def bold_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans Bold beside the regular face, else the regular face."""
    for path in FONT_PATHS:
        bold = path.with_name("DejaVuSans-Bold.ttf")
        if bold.is_file():
            return ImageFont.truetype(str(bold), size)
    return font(size)


def _premultiplied(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture.convert("RGBa"))  # Pillow's premultiplied mode, done in C


def refusal_shown(status: Status) -> bool:
    """A refused scene's reason shows for a while, and for as long as the card is up: a session
    that could not start on its scene waits behind the card until the clinician has read why."""
    refused = status.refused
    return refused is not None and (refused.age_s <= REFUSAL_SHOWN_S or status.blank)


DETAIL_ACTION = "detail"  # the key binding that toggles the detail view (I by default)


class Hud:
    """Draws the status into a reused (H, W, 4) premultiplied RGBA image."""

    def __init__(self, size: tuple[int, int], redraw_hz: float = 4.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.redraw_interval = 1.0 / redraw_hz
        self._clock = clock
        width, height = size
        self.image = np.zeros((height, width, 4), np.uint8)
        self.scale = max(0.5, height / 720)
        self._font = font(round(20 * self.scale))
        self._big = font(round(28 * self.scale))
        self._small = font(round(16 * self.scale))
        self._flag_word = bold_font(round(30 * self.scale))
        self._flag_note = font(round(15 * self.scale))
        self.detail = False  # the detail view: watchdog figures and held-back warnings
        self._last_draw = -math.inf
        self._last_key: tuple | None = None
        # Where the level meters are in the image: (x, y, w, h, the VoiceStatus field they show).
        self.meters: list[tuple[int, int, int, int, str]] = []
        self._panels: dict[str, tuple] = {}
        self.redraws = 0  # how often the text was set (tests and benchmarks read it)
        self.changed = False  # whether the last render changed the image

    def render(self, status: Status, notice: str | None = None) -> np.ndarray:
        """The HUD for ``status``; the same array every call, updated in place."""
        now = self._clock()
        key = self._discrete(status, notice)
        self.changed = False
        if key != self._last_key or now - self._last_draw >= self.redraw_interval:
            self._draw(status, notice)
            self._last_key, self._last_draw = key, now
            self.redraws += 1
            self.changed = True
        self.changed |= self._draw_meters(status.voice)
        return self.image

    def render_if_changed(self, status: Status, notice: str | None = None) -> np.ndarray | None:
        """Like ``render`` but None when nothing changed, so a window can skip the upload."""
        image = self.render(status, notice)
        return image if self.changed else None

    def _discrete(self, status: Status, notice: str | None) -> tuple:
        voice = status.voice
        return (status.scene, status.hud, self.detail, flags(status), status.face,
                status.refused.scene if status.refused else None, notice,
                status.message if status.message_age_s < MESSAGE_SHOWN_S else None,
                voice.preset if voice else None, status.scenes)

    # -- drawing ----------------------------------------------------------------------------

    def _draw(self, status: Status, notice: str | None = None) -> None:
        self.image[:] = 0
        s = self.scale
        margin, gap = round(16 * s), round(8 * s)
        self.meters = []
        flag_panels = self._cached("flags", (flags(status), notice), self._flags, status, notice)
        y = margin
        for panel in flag_panels:
            self._paste(panel, self.size[0] - panel.width - margin, y)
            y += panel.height + gap
        left = []
        if status.hud:
            panel, meters = self._status_panel(status)
            left.append(panel)  # first in the column, at (margin, margin)
            self.meters = [(margin + x, margin + y, w, h, field) for x, y, w, h, field in meters]
            if self.detail:
                left.append(self._detail(status))
        left.append(self._cached("message", (status.message,
                                             status.message_age_s >= MESSAGE_SHOWN_S),
                                 self._message, status))
        refused = status.refused
        left.append(self._cached("refusal", (refused and refused.scene, refused and refused.reason,
                                             refusal_shown(status), status.scene),
                                 self._refusal, status))
        y = margin
        for panel in left:
            if panel is not None:
                self._paste(panel, margin, y)
                y += panel.height + gap
        if status.hud:
            scenes = self._cached("scenes", (status.scenes, status.scene), self._scene_list,
                                  status)
            if scenes is not None:
                self._paste(scenes, self.size[0] - scenes.width - margin,
                            self.size[1] - scenes.height - margin)

    def _cached(self, name: str, key: tuple, make, *args):
        """A panel redrawn only when ``key`` changes (the scene list rarely does)."""
        cached = self._panels.get(name)
        if cached is None or cached[0] != key:
            cached = (key, make(*args))
            self._panels[name] = cached
        return cached[1]

    def _paste(self, picture: Image.Image, x: int, y: int) -> None:
        height, width = self.image.shape[:2]
        w, h = min(picture.width, width - x), min(picture.height, height - y)
        if w > 0 and h > 0:
            self.image[y:y + h, x:x + w] = _premultiplied(picture)[:h, :w]

    def _panel(self, width: int, height: int,
               fill: tuple = _PANEL) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        picture = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        draw = ImageDraw.Draw(picture)
        draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=round(10 * self.scale),
                               fill=fill)
        return picture, draw

    def _status_panel(self, status: Status) -> tuple[Image.Image, list[tuple]]:
        """The panel, and where in it the meters are: (x, y, w, h, VoiceStatus field)."""
        s = self.scale
        width, line = round(380 * s), round(30 * s)
        pad = round(12 * s)
        meter_rows = ("input_db", "output_db") if status.voice is not None else ()
        meter_line = round(20 * s)
        picture, draw = self._panel(width, pad * 2 + round(38 * s) + line * 3
                                    + meter_line * len(meter_rows) + round(4 * s))
        x, y = pad, pad
        hotkey = status.hotkey
        draw.text((x, y), status.scene + (f"  [{hotkey}]" if hotkey else ""), font=self._big,
                  fill=_TEXT)
        y += round(38 * s)
        figures = f"{status.fps:.1f} fps"
        if math.isfinite(status.latency_ms):
            figures += f"   ·   {status.latency_ms:.0f} ms latency"
        if status.avatar_note:  # a model running at its own rate (neural avatar)
            figures += f"   ·   {status.avatar_note}"
        # Amber while a stage keeps overrunning: the picture is choppy (the detail view says why).
        draw.text((x, y), figures, font=self._font, fill=_WARN if status.slow_stage else _TEXT)
        y += line
        label, colour = face_label(status)
        draw.text((x, y), label, font=self._font, fill=colour)
        if status.face and not status.blank:
            bar_x, bar_w = x + round(130 * s), round(200 * s)
            bar_y, bar_h = y + round(8 * s), round(10 * s)
            draw.rectangle((bar_x, bar_y, bar_x + bar_w, bar_y + bar_h), fill=_TRACK)
            draw.rectangle((bar_x, bar_y, bar_x + round(bar_w * status.confidence),
                            bar_y + bar_h), fill=_GOOD if status.confidence >= 0.6 else _WARN)
        y += line
        label, colour = voice_label(status.voice)
        draw.text((x, y), label, font=self._font, fill=colour)
        y += line
        label_w = round(44 * s)
        meters = []
        for name, field in zip(("Mic", "Out"), meter_rows):
            draw.text((x, y), name, font=self._small, fill=_DIM)
            meter = (x + label_w, y + round(5 * s), width - pad - x - label_w,
                     max(2, round(8 * s)))
            draw.rectangle((meter[0], meter[1], meter[0] + meter[2], meter[1] + meter[3]),
                           fill=_TRACK)
            meters.append((*meter, field))
            y += meter_line
        return picture, meters

    def _draw_meters(self, voice: VoiceStatus | None) -> bool:
        changed = False
        for x, y, w, h, field in self.meters:
            region = self.image[y:y + h, x:x + w]
            if region.size == 0 or voice is None:
                continue
            filled = int(round(w * meter_fill(getattr(voice, field))))
            before = region[:, :, 1].copy()
            region[:] = _TRACK
            green = min(filled, int(w * 0.8))
            region[:, :green] = (80, 190, 110, 255)
            if filled > green:  # the loud end in amber: a morph driven that hard may clip
                region[:, green:filled] = (235, 175, 60, 255)
            changed |= not np.array_equal(before, region[:, :, 1])
        return changed

    def _flags(self, status: Status, notice: str | None) -> list[Image.Image]:
        s = self.scale
        pad = round(16 * s)
        panels = []
        for flag in flags(status):
            fill, word_colour, note_colour = _RED_FLAG if flag.red else _AMBER_FLAG
            width = round(max(self._flag_word.getlength(flag.word),
                              self._flag_note.getlength(flag.note))) + 2 * pad
            picture, draw = self._panel(width, round(66 * s), fill)
            draw.text((width - pad, round(6 * s)), flag.word, font=self._flag_word,
                      fill=word_colour, anchor="ra")
            draw.text((width - pad, round(42 * s)), flag.note, font=self._flag_note,
                      fill=note_colour, anchor="ra")
            panels.append(picture)
        if notice:
            width = round(self._font.getlength(notice)) + 2 * pad
            picture, draw = self._panel(width, round(40 * s), _AMBER_FLAG[0])
            draw.text((pad, round(8 * s)), notice, font=self._font, fill=_AMBER_FLAG[1])
            panels.append(picture)
        return panels

    def _detail(self, status: Status) -> Image.Image:
        s = self.scale
        pad, line = round(12 * s), round(22 * s)
        lines = detail_lines(status)
        width = round(600 * s)
        picture, draw = self._panel(width, 2 * pad + line * len(lines))
        for n, (text, colour) in enumerate(lines):
            draw.text((pad, pad + n * line), self._fit(text, width - 2 * pad), font=self._small,
                      fill=colour)
        return picture

    def _fit(self, text: str, width: int) -> str:
        """``text`` cut with an ellipsis to fit ``width`` pixels in the small font."""
        if self._small.getlength(text) <= width:
            return text
        while text and self._small.getlength(text + "…") > width:
            text = text[:-1]
        return text + "…"

    def _message(self, status: Status) -> Image.Image | None:
        if status.message is None or status.message_age_s >= MESSAGE_SHOWN_S:
            return None
        s = self.scale
        pad = round(14 * s)
        text = self._fit(status.message, self.size[0] // 2)
        picture, draw = self._panel(round(self._font.getlength(text)) + 2 * pad, round(40 * s),
                                    _MESSAGE)
        draw.text((pad, round(8 * s)), text, font=self._font, fill=_TEXT)
        return picture

    def _refusal(self, status: Status) -> Image.Image | None:
        refused = status.refused
        if not refusal_shown(status):
            return None
        s = self.scale
        width_max = self.size[0] - round(32 * s) - round(24 * s)
        reason = _PATH.sub(r"\2", refused.reason)  # the file name says enough, not its folder
        lines = [self._fit(f"Scene “{refused.scene}” refused — still on “{status.scene}”",
                           width_max), self._fit(reason, width_max)]
        width = max(round(self._small.getlength(text)) for text in lines) + round(24 * s)
        picture, draw = self._panel(width, round(58 * s))
        draw.text((round(12 * s), round(8 * s)), lines[0], font=self._small, fill=_ALERT)
        draw.text((round(12 * s), round(30 * s)), lines[1], font=self._small, fill=_DIM)
        return picture

    def _scene_list(self, status: Status) -> Image.Image | None:
        if not status.scenes:
            return None
        s = self.scale
        pad, gap = round(12 * s), round(22 * s)
        items = [(scene.hotkey or "·", scene.name, scene.name == status.scene)
                 for scene in status.scenes]
        widths = [round(self._font.getlength(f"{key}  {name}")) for key, name, _ in items]
        width = min(self.size[0] - round(32 * s), sum(widths) + gap * (len(items) - 1) + 2 * pad)
        picture, draw = self._panel(width, round(44 * s))
        x = pad
        for (key, name, current), item_width in zip(items, widths):
            if current:
                draw.rounded_rectangle((x - round(6 * s), round(5 * s),
                                        x + item_width + round(6 * s), round(38 * s)),
                                       radius=round(6 * s), fill=(70, 110, 170, 255))
            draw.text((x, round(10 * s)), key, font=self._font, fill=_WARN)
            draw.text((x + round(self._font.getlength(key + "  ")), round(10 * s)), name,
                      font=self._font, fill=_TEXT)
            x += item_width + gap
        return picture


def bench_hud(seconds: float | None) -> dict[str, float]:
    """``persona bench hud``: the cost of a HUD redraw and of a frame between redraws, 720p."""
    import statistics

    seconds = 3.0 if seconds is None else seconds
    names = ("Calm", "Expressive", "Character", "Privacy mask")
    status = Status(scene="Calm", hotkey="1", fps=29.9, latency_ms=42.0, face=True,
                    confidence=0.93,
                    scenes=tuple(SceneEntry(name, str(n + 1), name.lower(), "AI avatar")
                                 for n, name in enumerate(names)),
                    voice=VoiceStatus(muted=False, bypass=False, preset="calm-warm",
                                      input_db=-24.0, output_db=-20.0))
    hud = Hud((1280, 720))
    redraws, frames = [], []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        status = replace(status, fps=status.fps + 0.01)  # a figure that changes, as it does live
        started = time.perf_counter()
        hud._draw(status)
        redraws.append(time.perf_counter() - started)
        for level in range(30):
            status = replace(status, voice=replace(status.voice, input_db=-30.0 + level,
                                                   output_db=-40.0 + level))
            started = time.perf_counter()
            hud.render(status)
            frames.append(time.perf_counter() - started)
    return {"redraw_ms_p50": round(statistics.median(redraws) * 1e3, 3),
            "frame_ms_p50": round(statistics.median(frames) * 1e3, 4),
            "frame_ms_p99": round(sorted(frames)[int(len(frames) * 0.99)] * 1e3, 4),
            "redraw_hz_max": 1.0 / hud.redraw_interval}
