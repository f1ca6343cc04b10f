"""The session commands: ``persona run``, ``persona demo`` and ``persona render``."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from engine.config import Settings, settings_path
from engine.errors import ConfigError

log = logging.getLogger(__name__)

DEMO_SECONDS = 10.0
RENDER_SCENE = "expressive"
DEFAULT_SCRIPT = "neutral@1,smile@1.5,surprise@1.5"


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, got {text!r}") from None
    if not (64 <= width <= 3840 and 64 <= height <= 2160):
        raise argparse.ArgumentTypeError(f"size {text} is outside 64x64..3840x2160")
    return width, height


def _within(name: str, low: float, high: float):
    """An argument type: a number from ``low`` to ``high``, as a scene's [style] takes it."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not low <= value <= high:  # False for nan too
            raise argparse.ArgumentTypeError(f"{name} {text} is outside {low:g}..{high:g}")
        return value

    return parse


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.load(args.config or settings_path())
    overrides = {name: getattr(args, name) for name in ("source", "scene", "fps", "use")
                 if getattr(args, name, None) is not None}
    if getattr(args, "size", None):
        overrides["width"], overrides["height"] = args.size
    if getattr(args, "sink", None):
        overrides["sinks"] = args.sink
    if getattr(args, "no_badge", False):
        overrides["badge"] = False
    settings = settings.updated(overrides, "command line")
    return settings


def run(args: argparse.Namespace) -> int:
    """The live session: camera → tracker → avatar → virtual camera (+ preview, voice)."""
    from engine.app import explain
    from engine.session import build_app

    if args.explain:
        print(explain())
        return 0
    settings = _settings(args)
    if args.preview:
        settings = settings.updated({"preview": True}, "command line")
    if args.voice:
        settings = settings.updated({"voice": True}, "command line")
    if args.record_track:
        settings = settings.updated({"record_track": args.record_track}, "command line")
    devices = {f"audio_{role}": getattr(args, role) for role in ("input", "output", "monitor")
               if getattr(args, role) is not None}
    if devices:
        settings = settings.updated(devices, "command line")
    if args.control is not None:
        settings = settings.updated({"control": True, "control_port": args.control},
                                    "command line")
    if args.control_lan is not None:
        settings = settings.updated({"control": True, "control_lan": args.control_lan},
                                    "command line")
    if args.control_new_token:
        from engine.control.identity import renew_token

        renew_token()
        print("made a new control token: tablets paired before must pair again", flush=True)
    if args.unencrypted:
        settings = settings.updated({"unencrypted": True}, "command line")
    if args.dev:
        settings = settings.updated({"dev": True}, "command line")
    # Live sessions keep an audit log (names and times only, chained by a keyed hash) unless the
    # settings say audit_log = "" (docs/safety.md); `persona audit verify` finds it the same way.
    from engine.safety.audit import audit_log_path

    audit_log = audit_log_path(settings.audit_log)
    settings = settings.updated({"audit_log": str(audit_log) if audit_log else None}, "default")
    voice = _start_voice(settings) if settings.voice else None
    session = build_app(settings, voice=voice)
    log.info("running; stages:\n%s", explain())
    if session.control_url:
        print(f"control page: {session.control_url}", flush=True)
    try:
        session.app.run(max_frames=int(args.seconds * settings.fps) if args.seconds else None)
    except KeyboardInterrupt:
        pass
    finally:
        if voice is not None:
            voice.stop()
        session.close()
    if args.stats:  # asked for: a figure like on_time_pct 0.0 alone reads as "broken"
        print(json.dumps(session.app.stats.summary()))
    return 0


def _start_voice(settings: Settings):
    """The live voice morph, or None when the audio devices cannot be opened: the picture must
    go on without it (and the user is told why)."""
    from engine.errors import DeviceError
    from engine.voice.live import VoiceEngine

    voice = VoiceEngine()
    try:
        voice.start(input=settings.audio_input, output=settings.audio_output,
                    monitor=settings.audio_monitor or False)
    except DeviceError as error:
        log.error("voice morph off: %s (video continues; `persona devices` lists devices)", error)
        return None
    return voice


def demo(args: argparse.Namespace) -> int:
    """Ten seconds of the default scene, driven by the built-in performer, into an MP4."""
    from engine.offline import render_video
    from engine.performer import ScriptedPerformer

    settings = _settings(args).updated({"source": "synthetic", "use": "demo"}, "demo")
    fps = settings.fps
    output = _render_output(args.output)
    figures = render_video(settings, ScriptedPerformer(loop=True, frame_rate=fps), output,
                           args.seconds)
    print(f"wrote {output} ({args.seconds:g} s at {settings.width}x{settings.height}, "
          f"{fps:g} fps)")
    print(json.dumps(figures))
    return 0


def render(args: argparse.Namespace) -> int:
    """"Render this face smiling, then surprised": a scripted performance, or one taken from a
    recorded video, into MP4 or a PNG contact sheet."""
    from engine import offline
    from engine.expression_script import load_script
    from engine.performer import ScriptedPerformer

    suffix = Path(args.output).suffix.lower()
    if suffix not in (".mp4", ".webm", ".mov", ".png", ".jpg"):
        raise ConfigError(f"{args.output}: output must end in .mp4, .webm or .mov (transparent, "
                          "engine.output.alpha), .png or .jpg")
    is_video = suffix in (".mp4", ".webm", ".mov")
    overrides = {"source": "synthetic", "use": args.use or "demo"}
    if args.scene is None:
        overrides["scene"] = RENDER_SCENE  # offline renders want expressions that read clearly
    drive = None
    if args.drive:
        if args.script is not None:
            raise ConfigError("--drive takes the expressions from the video; leave out --script")
        if not is_video:
            raise ConfigError(f"{args.output}: --drive renders an MP4")
        drive = offline.read_drive_video(args.drive, args.seconds)
        overrides["fps"] = drive.fps  # one rendered frame per video frame
    settings = _settings(args).updated(overrides, "render")
    style = {name: getattr(args, name) for name in ("intensity", "exaggeration", "mirror")
             if getattr(args, name) is not None}
    scene = offline.render_scene(settings, args.avatar, style)
    output = _render_output(args.output)
    if drive is not None:
        with_voice = drive.speech is not None and not args.silent
        if drive.speech is None and not args.silent:
            print(f"{args.drive} has no audio: the render is silent")
        figures = offline.render_video(
            settings, offline.drive_tracker(), output, drive.frames / drive.fps, with_voice,
            scene=scene, source=offline.drive_source(drive, settings.size), speech=drive.speech)
        print(json.dumps(figures))
        print(f"wrote {output}")
        return 0
    performer = ScriptedPerformer(load_script(args.script or DEFAULT_SCRIPT), loop=False,
                                  frame_rate=settings.fps)
    seconds = min(performer.duration, args.seconds or performer.duration)
    if is_video:
        figures = offline.render_video(settings, performer, output, seconds,
                                       with_voice=not args.silent, scene=scene)
        print(json.dumps(figures))
    else:
        offline.render_stills(settings, performer, output, scene)
    print(f"wrote {output}")  # only now: the render functions put the file in place, or raised
    return 0


def _render_output(text: str) -> Path:
    """Where a render goes; its folder is made when missing (``out/`` in a fresh checkout)."""
    output = Path(text)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"{output}: cannot make folder {output.parent}: {error.strerror}") \
            from None
    return output


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="settings TOML (default ~/.config/persona/settings.toml)")
    parser.add_argument("--scene", help="scene name or file")
    parser.add_argument("--size", type=_size, help="output size WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--fps", type=float, help="frames per second (default 30)")
    parser.add_argument("--use", choices=("therapy", "privacy", "demo"),
                        help="what the avatar is used for (checked against its consent manifest)")
    parser.add_argument("--no-badge", action="store_true",
                        help="hide the visible 'AI avatar' badge (logged)")


def register(commands) -> None:
    parser = commands.add("run", run, help="live session: camera to virtual camera")
    _add_common(parser)
    parser.add_argument("--source", help="webcam[:INDEX|NAME], a video or image file, synthetic")
    parser.add_argument("--sink", action="append",
                        help="output (repeatable): virtualcam, y4m:PATH, record:PATH.mp4, window, "
                             "null, or PATH.webm/.mov (the avatar over transparency, alone); "
                             "'a|b' tries a, then b")
    parser.add_argument("--preview", action="store_true", help="open the preview window with HUD")
    parser.add_argument("--voice", action="store_true", help="morph the microphone live")
    parser.add_argument("--input", help="microphone: name substring or index (persona devices)")
    parser.add_argument("--output", help="where the morphed voice goes, e.g. a virtual cable")
    parser.add_argument("--monitor", help="a second output to hear yourself on")
    parser.add_argument("--record-track", metavar="PATH",
                        help="write the tracked face to a track file (only when asked)")
    parser.add_argument("--control", type=int, nargs="?", const=0, metavar="PORT",
                        help="serve the control page on 127.0.0.1 (any free port by default)")
    parser.add_argument("--control-lan", metavar="ADDRESS|INTERFACE",
                        help="serve the control page to a tablet on this network address or "
                             "interface (e.g. 192.168.1.20, wlan0); it pairs with the code "
                             "shown in the preview")
    parser.add_argument("--control-new-token", action="store_true",
                        help="make a new token for the tablet remote (paired tablets must "
                             "pair again)")
    parser.add_argument("--unencrypted", action="store_true",
                        help="store recordings and track files unencrypted (default: encrypted "
                             "with the passphrase in PERSONA_PASSPHRASE)")
    parser.add_argument("--dev", action="store_true",
                        help="recompile shaders when their files change (for artists)")
    parser.add_argument("--seconds", type=float, help="stop after this long")
    parser.add_argument("--stats", action="store_true",
                        help="print the frame watchdog's figures as JSON at exit")
    parser.add_argument("--explain", action="store_true", help="print the frame's stages and exit")

    parser = commands.add("demo", demo, help="render the default scene to out/demo.mp4")
    _add_common(parser)
    parser.add_argument("-o", "--output", default="out/demo.mp4", help="MP4 to write")
    parser.add_argument("--seconds", type=float, default=DEMO_SECONDS, help="length")

    parser = commands.add("render", render, help="render a scripted performance to MP4 or PNG")
    _add_common(parser)
    parser.add_argument("--script", metavar="FILE.toml|NAME[:INTENSITY][@SECONDS],...",
                        help="a TOML script file, or inline: 'smile:0.8@1.5,jawOpen:0.6@1' "
                             "(names: docs/scripts.md; default '" + DEFAULT_SCRIPT + "')")
    parser.add_argument("--drive", metavar="VIDEO",
                        help="take the expressions and head motion from a recorded video "
                             "(tracked as live) instead of a script; its audio, morphed, is the "
                             "voice")
    parser.add_argument("--avatar", metavar="NAME|FOLDER|FILE",
                        help="show this avatar (any kind) in the render's scene")
    parser.add_argument("--intensity", type=_within("intensity", 0.0, 3.0),
                        help="the scene's [style] intensity: expression gain, 0-3")
    parser.add_argument("--exaggeration", type=_within("exaggeration", 0.2, 5.0),
                        help="the scene's [style] exaggeration: <1 livelier, >1 calmer")
    parser.add_argument("--mirror", action=argparse.BooleanOptionalAction,
                        help="mirror left and right, as a selfie view (the scene's [style] mirror)")
    parser.add_argument("--seconds", type=_within("seconds", 0.01, 3600.0),
                        help="stop after this long (default: the whole script or video)")
    parser.add_argument("--silent", action="store_true", help="no audio track")
    parser.add_argument("-o", "--output", required=True, help=".mp4 video or .png contact sheet")
