"""``persona doctor``: is this computer ready for a session?

Checks, in plain words and each with its fix, what a session needs: the scenes' avatars may be
used (consent), the camera sends pictures, the virtual camera opens, a display exists for the
preview, the microphone and output exist, the virtual microphone exists, carries Persona's voice
and does not feed it back, and the renderer reaches the frame rate. Each check lives in a
module of this package; this one runs them in order and prints one line per finding as it
comes, then, with ``--json``, one JSON object. Exit 0 when nothing is MISSING, else 1.
"""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Callable

from engine.config import Settings, settings_path
from engine.doctor.findings import MISSING, Finding

CHECKS = ("consent", "camera", "virtualcam", "display", "audio", "virtualmic", "graphics")


def run_checks(settings: Settings, camera: str | None, wanted: tuple[str, ...],
               report: Callable[[Finding], None]) -> list[Finding]:
    """Every wanted check, cheapest first; ``report`` sees each finding as soon as it exists."""
    from engine.doctor.audio import CABLES, check_audio_devices, check_cable
    from engine.doctor.consent import check_consent
    from engine.doctor.graphics import check_graphics
    from engine.doctor.routing import check_virtual_mic
    from engine.doctor.video import (camera_spec, check_camera, check_display,
                                     check_virtual_camera)

    findings: list[Finding] = []

    def add(*new: Finding) -> None:
        for finding in new:
            findings.append(finding)
            report(finding)

    if "consent" in wanted:
        add(*check_consent(settings))
    if "camera" in wanted:
        add(check_camera(camera_spec(camera, settings), settings))
    if "virtualcam" in wanted:
        add(check_virtual_camera(settings))
    if "display" in wanted:
        add(check_display())
    if "audio" in wanted or "virtualmic" in wanted:
        audio, chosen = check_audio_devices(settings)
        if "audio" in wanted:
            add(*audio)
        if "virtualmic" in wanted:
            system = platform.system()
            if system in CABLES:
                add(*(check_cable(chosen, system) if chosen else [_no_devices()]))
            else:
                add(*check_virtual_mic(chosen))
    if "graphics" in wanted:
        add(*check_graphics(settings))
    return findings


def _no_devices() -> Finding:
    return Finding("virtualmic", MISSING, "virtual microphone", "not checked: no audio devices",
                   "see the audio lines")


def doctor(args: argparse.Namespace) -> int:
    settings = Settings.load(args.config or settings_path())
    overrides = {name: value for name, value in (("use", args.use), ("audio_input", args.input),
                                                 ("audio_output", args.output))
                 if value is not None}
    if overrides:
        settings = settings.updated(overrides, "command line")
    wanted = tuple(args.check) if args.check else CHECKS
    findings = run_checks(settings, args.camera, wanted,
                          lambda finding: print(finding.line(), flush=True))
    missing = [finding for finding in findings if finding.status == MISSING]
    if args.json:
        print(json.dumps({"ok": not missing, "checks": [f.to_json() for f in findings]}))
    return 1 if missing else 0


def register(commands) -> None:
    parser = commands.add("doctor", doctor, help="check that this computer is ready for a "
                          "session, with the fix for whatever is not")
    parser.add_argument("--config", help="settings TOML (default ~/.config/persona/settings.toml)")
    parser.add_argument("--camera", help="webcam index or name, or any --source of persona run "
                        "(default: the configured source, webcam 0)")
    parser.add_argument("--input", help="the microphone persona run --input would get")
    parser.add_argument("--output", help="the output persona run --output would get")
    parser.add_argument("--use", choices=("therapy", "privacy", "demo"),
                        help="what the avatars are used for (checked against their consent)")
    parser.add_argument("--check", action="append", choices=CHECKS,
                        help="run only this check (repeatable; default: all)")
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
