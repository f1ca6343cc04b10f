"""Offline rendering: the live loop driven by a script and an offline clock.

``persona demo`` and ``persona render`` build the same ``App`` a live session uses, with a
``ScriptedPerformer`` in place of the camera tracker and a clock that advances one frame per frame
without sleeping. Audio (the morphed voice) is computed ahead through the same streaming morph
as live and handed to the recorder frame by frame, so picture and sound stay in step.

A render replaces its output only once it is complete (``engine.safe_write``): a render that
fails or is killed leaves the previous file as it was.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.capture.synthetic import SyntheticSource
from engine.config import Settings
from engine.errors import ConfigError, SinkError
from engine.output.recorder import RecorderSink
from engine.performer import ScriptedPerformer
from engine.safe_write import replace_on_success
from engine.session import build_app, offline_clock
from engine.status import VoiceStatus

log = logging.getLogger(__name__)

DEMO_AUDIO_RATE = 48000


@dataclass
class PrecomputedVoice:
    """Stands where the live voice engine stands in the app, but plays a morphed track that was
    computed ahead: each frame drains one frame's worth of samples for the recorder. Mute and
    the levels behave as live: the output level is measured on what the recorder receives."""

    samples: np.ndarray  # (n,) float32 at sample_rate
    sample_rate: int
    fps: float
    preset: str | None = None
    _position: float = field(default=0.0, init=False)
    _muted: bool = field(default=False, init=False)
    _bypass: bool = field(default=False, init=False)
    _input_db: float = field(default=-120.0, init=False)
    _output_db: float = field(default=-120.0, init=False)

    def drain_recorded(self) -> np.ndarray:
        from engine.voice.effects import rms_db

        start = int(self._position)
        self._position += self.sample_rate / self.fps
        chunk = self.samples[start:int(self._position)]
        out = np.zeros_like(chunk) if self._muted else chunk
        if len(chunk):
            self._input_db = rms_db(chunk)
            self._output_db = rms_db(out)
        return out

    def set_mute(self, muted: bool) -> None:
        self._muted = muted

    def set_bypass(self, bypass: bool) -> None:
        """The track is already morphed and plays on as it is (offline there is no real voice
        to pass); the switch is kept and reported, so the HUD and the shutter see what was
        asked, as with the live engine."""
        self._bypass = bypass

    def set_preset(self, preset, crossfade_s: float = 0.3) -> None:
        """Presets were applied when the track was computed."""

    def status(self) -> VoiceStatus:
        return VoiceStatus(muted=self._muted, bypass=self._bypass, preset=self.preset,
                           input_db=round(self._input_db, 1), output_db=round(self._output_db, 1),
                           sample_rate=self.sample_rate)


def morphed_demo_voice(seconds: float, preset_name: str | None, rate: int = 48000) -> np.ndarray:
    """The built-in speech-like signal, morphed with the scene's preset (if any)."""
    from engine.voice.synthetic import speech_like

    speech = speech_like(seconds, rate)
    if not preset_name:
        return speech.astype(np.float32)
    from engine.voice.offline import convert
    from engine.voice.presets import load_preset

    return convert(speech, rate, load_preset(preset_name)).astype(np.float32)


def render_video(settings: Settings, performer: ScriptedPerformer, output: Path,
                 seconds: float, with_voice: bool = True) -> dict[str, float]:
    """Render ``seconds`` of the scene driven by ``performer`` into an MP4 at ``output``, put in
    place once complete; returns frame stats (wall-clock frame work time, not the offline
    clock's)."""
    frames = int(round(seconds * settings.fps))
    if frames < 1:
        raise ConfigError(f"{output}: nothing to render ({seconds:g} s is less than one frame)")
    with replace_on_success(output) as staged:
        recorder = RecorderSink(staged.path, audio_rate=DEMO_AUDIO_RATE if with_voice else None)
        session = build_app(settings,
                            source=SyntheticSource(settings.size, settings.fps, realtime=False),
                            tracker=performer, sinks=[recorder], clock=offline_clock(settings.fps),
                            realtime=False)
        try:
            app = session.app
            if with_voice:
                voice_name = app.director.current.scene.voice
                track = morphed_demo_voice(seconds + 1.0, voice_name, DEMO_AUDIO_RATE)
                app.voice = PrecomputedVoice(track, DEMO_AUDIO_RATE, settings.fps, voice_name)
            started = time.perf_counter()
            app.run(max_frames=frames)
            elapsed = time.perf_counter() - started
            figures = app.stats.summary()
            # Closed here, not by the session, which would log a failure instead of raising it.
            recorder.close()
        finally:
            session.close()
        # The loop outlives a failing sink; a render must not: an incomplete file is not kept.
        if recorder.failure is not None:
            raise SinkError(f"render {output} failed: {recorder.failure}")
        if recorder.frames_written == 0:
            raise SinkError(f"render {output}: no frame was rendered")
    return {
        "frames": float(frames),
        "render_fps": round(frames / elapsed, 2),
        "frame_ms_p50": figures["frame_ms_p50"],
        "frame_ms_p99": figures["frame_ms_p99"],
    }


def render_stills(settings: Settings, performer: ScriptedPerformer, output: Path) -> None:
    """One frame per pose, taken at the end of its hold, tiled into a labelled contact sheet at
    ``output`` (PNG or JPEG by its suffix), put in place once complete."""
    from PIL import Image

    from engine.output.null import NullSink

    fps = settings.fps
    ends = np.cumsum([pose.hold_s for pose in performer.script])
    wanted = {max(0, int(round(end * fps)) - 1): n for n, end in enumerate(ends)}
    stills: dict[int, np.ndarray] = {}

    def keep(app, work) -> None:
        if work.frame is not None and work.frame.index in wanted and work.image is not None:
            stills[wanted[work.frame.index]] = work.image.copy()

    image_format = Image.registered_extensions().get(output.suffix.lower())
    if image_format is None:
        raise ConfigError(f"{output}: not an image file name (.png, .jpg)")
    with replace_on_success(output) as staged:
        session = build_app(settings, source=SyntheticSource(settings.size, fps, realtime=False),
                            tracker=performer, sinks=[NullSink()],
                            clock=offline_clock(fps), realtime=False)
        try:
            session.app.on_frame = keep
            session.app.run(max_frames=max(wanted) + 1)
        finally:
            session.close()
        if not stills:
            raise SinkError(f"render {output}: no frame was rendered")
        tiles = [Image.fromarray(stills[n]) for n in sorted(stills)]
        sheet = tiles[0] if len(tiles) == 1 else _contact_sheet(tiles, performer)
        sheet.save(staged.file, format=image_format)


def _contact_sheet(tiles: list, performer: ScriptedPerformer):
    """The stills side by side, four to a row, each labelled with its pose."""
    from PIL import Image, ImageDraw

    columns = min(4, len(tiles))
    rows = -(-len(tiles) // columns)
    width, height = tiles[0].size
    sheet = Image.new("RGB", (columns * width, rows * height), (20, 20, 24))
    draw = ImageDraw.Draw(sheet)
    for n, (tile, pose) in enumerate(zip(tiles, performer.script)):
        x, y = (n % columns) * width, (n // columns) * height
        sheet.paste(tile, (x, y))
        draw.text((x + 12, y + 12), f"{pose.expression} {pose.intensity:g}", fill=(255, 255, 255))
    return sheet
