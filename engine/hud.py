"""The HUD: what the clinician sees over the preview, and nobody else.

``Hud.render(status)`` returns a premultiplied RGBA image the size of the frame; the preview
window (``engine.output.window``) lays it over the finished frame on screen. It is never drawn
into the frame the virtual camera, recorder or pipe receive.

It shows the current scene, fps, capture→output latency, tracking confidence, the voice level
meter and morph state, the privacy switches, a refused scene's reason, and the scene list with
hotkeys. Text is set in DejaVu Sans through Pillow's FreeType binding.

Cost: the text panels are redrawn at most ``redraw_hz`` times a second, or at once when something
discrete changes (scene, switches, a refusal); between redraws only the level meter (a numpy fill
of a few hundred pixels) is updated, so a frame's HUD costs microseconds.

``status`` is the loop's ``engine.status.Status`` snapshot; ``notice`` is the window's own
one-line message (e.g. "press Esc again to quit"). The level meter shows the voice's output level
(what the virtual microphone receives).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from PIL import Image, ImageDraw

from engine.blank import font
from engine.status import SceneEntry, Status, VoiceStatus

_PANEL = (16, 19, 26, 200)  # RGBA, unpremultiplied
_TEXT = (236, 239, 244, 255)
_DIM = (160, 168, 182, 255)
_GOOD = (92, 200, 120, 255)
_WARN = (240, 180, 60, 255)
_ALERT = (232, 80, 80, 255)
_REFUSAL_SHOWN_S = 8.0
_METER_FLOOR_DB = -60.0


def _premultiplied(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture.convert("RGBa"))  # Pillow's premultiplied mode, done in C


def voice_level(voice: VoiceStatus | None) -> float:
    """The voice meter's fill, 0..1, from the output level in dBFS."""
    if voice is None or not math.isfinite(voice.output_db):
        return 0.0
    return float(min(max((voice.output_db - _METER_FLOOR_DB) / -_METER_FLOOR_DB, 0.0), 1.0))


def voice_label(voice: VoiceStatus | None) -> tuple[str, tuple]:
    if voice is None:
        return "Voice: off", _DIM
    if voice.muted:
        return "Voice: MUTED", _ALERT
    if voice.bypass:
        return "Voice: real (morph off)", _WARN
    return f"Voice: morph {voice.preset}" if voice.preset else "Voice: morph on", _GOOD


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
        self._last_draw = -math.inf
        self._last_key: tuple | None = None
        self._meter: tuple[int, int, int, int] | None = None  # x, y, w, h in the image
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
        self.changed |= self._draw_meter(voice_level(status.voice))
        return self.image

    def render_if_changed(self, status: Status, notice: str | None = None) -> np.ndarray | None:
        """Like ``render`` but None when nothing changed, so a window can skip the upload."""
        image = self.render(status, notice)
        return image if self.changed else None

    @staticmethod
    def _discrete(status: Status, notice: str | None) -> tuple:
        voice = status.voice
        return (status.scene, status.blank, status.freeze, status.face,
                status.refused.scene if status.refused else None, notice,
                voice.muted if voice else None, voice.bypass if voice else None, status.scenes)

    # -- drawing ----------------------------------------------------------------------------

    def _draw(self, status: Status, notice: str | None = None) -> None:
        self.image[:] = 0
        s = self.scale
        margin = round(16 * s)
        panel = self._status_panel(status)
        self._paste(panel, margin, margin)
        flags = self._flags(status, notice)
        if flags is not None:
            self._paste(flags, self.size[0] - flags.width - margin, margin)
        y = margin + panel.height + round(8 * s)
        refused = status.refused
        refusal = self._cached("refusal", (refused and refused.scene, refused and refused.reason,
                                           refused is not None
                                           and refused.age_s > _REFUSAL_SHOWN_S,
                                           status.scene), self._refusal, status)
        if refusal is not None:
            self._paste(refusal, margin, y)
        scenes = self._cached("scenes", (status.scenes, status.scene), self._scene_list, status)
        if scenes is not None:
            # Bottom right: the bottom left is where the "AI avatar" badge sits in the frame.
            self._paste(scenes, self.size[0] - scenes.width - margin,
                        self.size[1] - scenes.height - margin)

    def _cached(self, name: str, key: tuple, make, status: Status):
        """A panel redrawn only when ``key`` changes (the scene list rarely does)."""
        cached = self._panels.get(name)
        if cached is None or cached[0] != key:
            cached = (key, make(status))
            self._panels[name] = cached
        return cached[1]

    def _paste(self, picture: Image.Image, x: int, y: int) -> None:
        height, width = self.image.shape[:2]
        w, h = min(picture.width, width - x), min(picture.height, height - y)
        if w > 0 and h > 0:
            self.image[y:y + h, x:x + w] = _premultiplied(picture)[:h, :w]

    def _panel(self, width: int, height: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        picture = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        draw = ImageDraw.Draw(picture)
        draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=round(10 * self.scale),
                               fill=_PANEL)
        return picture, draw

    def _status_panel(self, status: Status) -> Image.Image:
        s = self.scale
        width, line = round(380 * s), round(30 * s)
        pad = round(12 * s)
        picture, draw = self._panel(width, pad * 2 + round(38 * s) + line * 3 + round(10 * s))
        x, y = pad, pad
        hotkey = status.hotkey
        title = status.scene + (f"  [{hotkey}]" if hotkey else "")
        draw.text((x, y), title, font=self._big, fill=_TEXT)
        y += round(38 * s)
        figures = f"{status.fps:.1f} fps"
        if math.isfinite(status.latency_ms):
            figures += f"   ·   {status.latency_ms:.0f} ms latency"
        draw.text((x, y), figures, font=self._font, fill=_TEXT)
        y += line
        confidence = status.confidence
        if status.face:
            draw.text((x, y), f"Face: {confidence:.0%}", font=self._font, fill=_TEXT)
            bar_x, bar_w = x + round(130 * s), round(200 * s)
            bar_y, bar_h = y + round(8 * s), round(10 * s)
            draw.rectangle((bar_x, bar_y, bar_x + bar_w, bar_y + bar_h), fill=(60, 66, 78, 255))
            colour = _GOOD if confidence >= 0.6 else _WARN
            draw.rectangle((bar_x, bar_y, bar_x + round(bar_w * confidence), bar_y + bar_h),
                           fill=colour)
        else:
            draw.text((x, y), "Face: not seen (avatar at rest)", font=self._font, fill=_WARN)
        y += line
        label, colour = voice_label(status.voice)
        draw.text((x, y), label, font=self._font, fill=colour)
        meter_y = y + line - round(4 * s)
        self._meter = (round(16 * s) + x, round(16 * s) + meter_y, width - 2 * pad,
                       max(2, round(8 * s)))
        draw.rectangle((x, meter_y, width - pad, meter_y + self._meter[3]),
                       fill=(60, 66, 78, 255))
        return picture

    def _draw_meter(self, level: float) -> bool:
        if self._meter is None:
            return False
        x, y, w, h = self._meter
        region = self.image[y:y + h, x:x + w]
        if region.size == 0:
            return False
        filled = int(round(w * level))
        before = region[:, :, 1].copy()
        region[:] = (60, 66, 78, 255)
        green = min(filled, int(w * 0.8))
        region[:, :green] = (80, 190, 110, 255)
        if filled > green:  # the loud end in amber: a morph driven that hard may clip
            region[:, green:filled] = (235, 175, 60, 255)
        return not np.array_equal(before, region[:, :, 1])

    def _flags(self, status: Status, notice: str | None) -> Image.Image | None:
        flags = [text for text, on in (("BLANK", status.blank), ("FROZEN", status.freeze)) if on]
        if notice:
            flags.append(notice)
        if not flags:
            return None
        s = self.scale
        text = "   ".join(flags)
        width = round(self._big.getlength(text)) + round(28 * s)
        picture, draw = self._panel(width, round(48 * s))
        draw.text((round(14 * s), round(8 * s)), text, font=self._big, fill=_ALERT)
        return picture

    def _refusal(self, status: Status) -> Image.Image | None:
        refused = status.refused
        if refused is None or refused.age_s > _REFUSAL_SHOWN_S:
            return None
        s = self.scale
        reason = refused.reason
        if len(reason) > 90:
            reason = reason[:87] + "…"
        lines = [f"Scene “{refused.scene}” refused — still on “{status.scene}”",
                 reason]
        width = min(self.size[0] - round(32 * s),
                    max(round(self._small.getlength(text)) for text in lines) + round(24 * s))
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
                                      output_db=-20.0))
    hud = Hud((1280, 720))
    redraws, frames = [], []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        status = replace(status, fps=status.fps + 0.01)  # a figure that changes, as it does live
        started = time.perf_counter()
        hud._draw(status)
        redraws.append(time.perf_counter() - started)
        for level in range(30):
            status = replace(status, voice=replace(status.voice, output_db=-40.0 + level))
            started = time.perf_counter()
            hud.render(status)
            frames.append(time.perf_counter() - started)
    return {"redraw_ms_p50": round(statistics.median(redraws) * 1e3, 3),
            "frame_ms_p50": round(statistics.median(frames) * 1e3, 4),
            "frame_ms_p99": round(sorted(frames)[int(len(frames) * 0.99)] * 1e3, 4),
            "redraw_hz_max": 1.0 / hud.redraw_interval}
