"""Offline rendering: the live loop driven by a script and an offline clock.

``persona demo`` and ``persona render`` build the same ``App`` a live session uses, with a
``ScriptedPerformer`` in place of the camera tracker (or, for ``render --drive VIDEO``, the
video as the camera and the live tracker on it) and a clock that advances one frame per frame
without sleeping. Audio (the morphed voice) is computed ahead through the same streaming morph
as live and handed to the recorder frame by frame, so picture and sound stay in step.

A render replaces its output only once it is complete (``engine.safe_write``): a render that
fails or is killed leaves the previous file as it was. Its frames are anti-aliased (4x MSAA for
avatars that do not choose, ``engine.avatar.antialias.offline``): offline, a frame's time
matters less than its look.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.avatar import antialias
from engine.capture.synthetic import SyntheticSource
from engine.config import Settings
from engine.errors import AssetError, ConfigError, SinkError
from engine.output.recorder import RecorderSink, recording_kind
from engine.performer import ScriptedPerformer
from engine.safe_write import replace_on_success
from engine.safety.strict_toml import nearest
from engine.scenes import Scene, SceneError, load_scene, load_scenes, resolve_avatar
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

    def record_delay_s(self) -> float:
        """The track is laid out by when it was said: nothing to take off."""
        return 0.0

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


def morphed_voice(speech: np.ndarray, rate: int, preset_name: str | None) -> np.ndarray:
    """``speech`` (mono float at ``rate``) morphed with the scene's preset (if any)."""
    if not preset_name:
        return speech.astype(np.float32)
    from engine.voice.offline import convert
    from engine.voice.presets import load_preset

    return convert(speech, rate, load_preset(preset_name)).astype(np.float32)


def morphed_demo_voice(seconds: float, preset_name: str | None, rate: int = 48000) -> np.ndarray:
    """The built-in speech-like signal, morphed with the scene's preset (if any)."""
    from engine.voice.synthetic import speech_like

    return morphed_voice(speech_like(seconds, rate), rate, preset_name)


# -- what a render shows: the scene, its avatar and style ------------------------------------------

def render_scene(settings: Settings, avatar: str | None = None,
                 style: dict[str, float | bool] | None = None) -> Scene:
    """The scene ``settings.scene`` names (name, file stem, hotkey or ``.toml`` path), showing
    ``avatar`` (a name in avatars/, a folder or a model file) instead of its own when given, with
    ``style`` fields (intensity, exaggeration, mirror) replacing the scene's own."""
    wanted = settings.scene
    if wanted.endswith(".toml") and Path(wanted).is_file():
        scene = load_scene(wanted)
    else:
        scenes = load_scenes(settings.scenes_dir)
        found = [s for s in scenes if wanted in (s.name, s.hotkey)
                 or (s.path is not None and s.path.stem == wanted)]
        if not found:
            names = [s.path.stem if s.path is not None else s.name for s in scenes]
            raise ConfigError(f"--scene: no scene {wanted!r}{nearest(wanted, names)} "
                              f"(scenes: {', '.join(names)})")
        scene = found[0]
    if avatar is not None:
        where = Path(avatar).expanduser()
        # A path is given as it is (a scene resolves its own relative to the scene file).
        scene = dataclasses.replace(scene, avatar=str(where.resolve()) if where.exists()
                                    else avatar)
        try:
            resolve_avatar(scene)  # an unknown name fails now, with the known ones listed
        except SceneError as error:
            raise ConfigError(f"--avatar: {error.message}") from None
    if style:
        scene = dataclasses.replace(scene, style=dataclasses.replace(scene.style, **style))
    return scene


# -- driving from a recorded video -----------------------------------------------------------------

MAX_DRIVE_SECONDS = 600.0  # ten minutes; the audio and the render are held whole


@dataclass(frozen=True)
class DriveVideo:
    """What a render driven by a video needs to know of it before it starts."""

    path: Path
    fps: float
    frames: int
    speech: np.ndarray | None  # (n,) float32 mono at DEMO_AUDIO_RATE, or None: no audio track


def read_drive_video(path: str | Path, max_seconds: float | None = None) -> DriveVideo:
    """The frame rate, frame count (capped at ``max_seconds``) and mono audio of a video."""
    from engine.tracking.media import open_video

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--drive {path}: no such file")
    with open_video(path, f"--drive {path}") as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 30.0
        seconds = float(stream.duration * stream.time_base) if stream.duration \
            else float(container.duration or 0) / 1e6
        frames = stream.frames or int(round(seconds * fps))
        limit = min(MAX_DRIVE_SECONDS, max_seconds or MAX_DRIVE_SECONDS)
        if not 1.0 <= fps <= 240.0 or frames < 1:
            raise AssetError(f"--drive {path}: {frames} frames at {fps:g} fps is not a video "
                             "to drive from")
        frames = min(frames, int(limit * fps))
        speech = _mono_audio(container, path, frames / fps) if container.streams.audio else None
    return DriveVideo(path, fps, frames, speech)


def _mono_audio(container, path: Path, seconds: float) -> np.ndarray:
    """The first audio stream as mono float32 at DEMO_AUDIO_RATE, its first ``seconds`` and a
    second of silence after (the recorder drains a frame's worth per frame to the end)."""
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=DEMO_AUDIO_RATE)
    wanted = int(seconds * DEMO_AUDIO_RATE)
    chunks, have = [], 0
    try:
        for frame in container.decode(audio=0):
            for mono in resampler.resample(frame):
                chunks.append(mono.to_ndarray().reshape(-1))
                have += chunks[-1].size
            if have >= wanted:
                break
    except av.FFmpegError as error:
        raise AssetError(f"--drive {path}: audio decoding failed ({error})") from error
    samples = np.concatenate(chunks)[:wanted] if chunks else np.zeros(0, np.float32)
    return np.pad(samples, (0, wanted + DEMO_AUDIO_RATE - samples.size)).astype(np.float32)


def drive_source(drive: DriveVideo, size: tuple[int, int]):
    """The video as the session's camera, one frame per frame (offline)."""
    from engine.capture.video import VideoFileSource

    return VideoFileSource(drive.path, size, loop=False, realtime=False)


def drive_tracker():
    """The live tracker, in video mode, run on the loop's thread. An offline render waits for
    it, so it also looks at each frame's mirror image (``MediaPipeTracker(looks="both")``)."""
    from engine.tracking.mediapipe_tracker import MediaPipeTracker

    return MediaPipeTracker(video=True, looks="both")


# -- rendering ---------------------------------------------------------------------------------------

def render_video(settings: Settings, performer, output: Path, seconds: float,
                 with_voice: bool = True, *, scene: Scene | None = None, source=None,
                 speech: np.ndarray | None = None,
                 samples: int = antialias.AUTOMATIC_SAMPLES) -> dict[str, float]:
    """Render ``seconds`` of the scene (``scene``, or the one ``settings`` names) driven by
    ``performer`` (any ``Tracker``) into an MP4 at ``output``, put in place once complete;
    returns frame stats (wall-clock frame work time, not the offline clock's).

    ``source`` is the camera (default: the synthetic one); the voice is ``speech`` (mono at
    DEMO_AUDIO_RATE; default the built-in speech-like signal) morphed with the scene's preset.
    ``samples``: MSAA for avatars that do not choose (0: none)."""
    frames = int(round(seconds * settings.fps))
    if frames < 1:
        raise ConfigError(f"{output}: nothing to render ({seconds:g} s is less than one frame)")
    with replace_on_success(output) as staged:
        # .webm/.mov: the avatar over transparency (engine.output.recorder.RECORDINGS).
        recorder = RecorderSink(staged.path, kind=recording_kind(output),
                                audio_rate=DEMO_AUDIO_RATE if with_voice else None)
        session = build_app(settings,
                            source=source or SyntheticSource(settings.size, settings.fps,
                                                             realtime=False),
                            tracker=performer, sinks=[recorder], clock=offline_clock(settings.fps),
                            scenes=[scene] if scene is not None else None, realtime=False)
        try:
            app = session.app
            if with_voice:
                voice_name = app.director.current.scene.voice
                if speech is None:
                    track = morphed_demo_voice(seconds + 1.0, voice_name, DEMO_AUDIO_RATE)
                else:
                    track = morphed_voice(speech, DEMO_AUDIO_RATE, voice_name)
                app.voice = PrecomputedVoice(track, DEMO_AUDIO_RATE, settings.fps, voice_name)
            started = time.perf_counter()
            with antialias.offline(samples):
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


def render_stills(settings: Settings, performer: ScriptedPerformer, output: Path,
                  scene: Scene | None = None, samples: int = antialias.AUTOMATIC_SAMPLES) -> None:
    """One frame per pose, taken at the end of its hold, tiled into a labelled contact sheet at
    ``output`` (PNG or JPEG by its suffix), put in place once complete. The stills are taken
    without the badge; the sheet carries it once. ``samples`` as for ``render_video``."""
    from PIL import Image

    from engine.avatar.preview import contact_sheet
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
                            clock=offline_clock(fps), realtime=False,
                            scenes=[scene] if scene is not None else None)
        try:
            app = session.app
            badge = app.director.current.scene.badge if settings.badge else None
            app.compositor.set_badge(None)  # once on the sheet, not on every tile
            app.on_frame = keep
            with antialias.offline(samples):
                app.run(max_frames=max(wanted) + 1)
        finally:
            session.close()
        if not stills:
            raise SinkError(f"render {output}: no frame was rendered")
        labels = [pose.expression if pose.intensity == 1.0
                  else f"{pose.expression} ×{pose.intensity:g}" for pose in performer.script]
        sheet = contact_sheet([stills[n] for n in sorted(stills)],
                              [labels[n] for n in sorted(stills)], badge=badge)
        Image.fromarray(sheet).save(staged.file, format=image_format)
