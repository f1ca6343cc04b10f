"""The doctor's picture checks: the camera, the virtual camera and the display for the preview."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from engine.config import Settings
from engine.doctor.findings import MISSING, OK, WARNING, Finding, within
from engine.errors import DeviceError, EngineError

VIDEO4LINUX = Path("/sys/class/video4linux")
V4L2LOOPBACK_MODULE = Path("/sys/module/v4l2loopback")
CAMERA_TIMEOUT_S = 8.0  # the webcam source itself waits 5 s for a first picture
VIRTUALCAM_TIMEOUT_S = 5.0
DISPLAY_TIMEOUT_S = 10.0
ZOOM_CAMERA = "Persona Camera"  # the card_label the modprobe line gives the virtual camera


@dataclass(frozen=True)
class VideoDevice:
    index: int
    name: str
    loopback: bool  # a v4l2loopback device (a virtual camera), not a real camera


def video_devices(root: Path = VIDEO4LINUX) -> list[VideoDevice]:
    """The V4L2 devices Linux lists. v4l2loopback devices have no hardware parent, so sysfs
    places them under /sys/devices/virtual — that is how a virtual camera is told apart."""
    devices = []
    for entry in sorted(root.glob("video*")):
        try:
            index = int(entry.name[5:])
            name = (entry / "name").read_text().strip()
        except (OSError, ValueError):
            continue
        devices.append(VideoDevice(index, name, "/virtual/" in str(entry.resolve())))
    return sorted(devices, key=lambda device: device.index)


def camera_spec(requested: str | None, settings: Settings) -> str:
    """The source to check: ``--camera`` or the configured source. ``--camera`` takes what
    ``persona run --source`` takes, and a bare index or name for a webcam."""
    if requested is None:
        return settings.source
    as_source = (requested.startswith("webcam") or requested == "synthetic"
                 or Path(requested).suffix or Path(requested).exists())
    return requested if as_source else f"webcam:{requested}"


def check_camera(spec: str, settings: Settings) -> Finding:
    """Open the source the session would open and wait for one picture."""
    from engine.capture import open_source

    def probe() -> tuple[int, int]:
        source = open_source(spec, size=settings.size, fps=settings.fps)
        source.start()
        try:
            frame = source.latest()
            if frame is None:
                raise DeviceError(f"{spec} opened, but sent no picture")
            height, width = frame.image.shape[:2]
            return width, height
        finally:
            source.close()

    try:
        width, height = within(CAMERA_TIMEOUT_S, probe, f"camera {spec}")
    except EngineError as error:
        return Finding("camera", MISSING, "camera", f"{error}{_cameras_seen()}",
                       "plug in the webcam and quit programs using it (Zoom's own video too); "
                       "try another with persona doctor --camera N, then use it with persona "
                       "run --source webcam:N")
    kind = "camera" if spec.startswith("webcam") else "source (not a camera)"
    return Finding("camera", OK, "camera", f"{kind} {spec} sends pictures ({width}x{height})")


def _cameras_seen() -> str:
    if platform.system() != "Linux" or not VIDEO4LINUX.is_dir():
        return ""
    devices = video_devices()
    real = [f"{d.index}: {d.name}" for d in devices if not d.loopback]
    virtual = [f"{d.index}: {d.name}" for d in devices if d.loopback]
    seen = f" (cameras: {', '.join(real) or 'none'}"
    return seen + (f"; virtual cameras, not yours to pick: {', '.join(virtual)})" if virtual
                   else ")")


def check_virtual_camera(settings: Settings) -> Finding:
    """The virtual camera the session's sinks name opens (and, on Linux, v4l2loopback is in)."""
    from engine.output.factory import parse_sinks
    from engine.output.virtualcam import install_hint

    specs = [spec for text in settings.sinks for spec in parse_sinks(text)
             if spec.kind == "virtualcam"]
    if not specs:
        return Finding("virtualcam", WARNING, "virtual camera",
                       f"not among the outputs ({', '.join(settings.sinks)}): Zoom will not "
                       "see Persona", "add virtualcam to sinks in settings.toml, or run "
                       "persona run --sink virtualcam")
    if platform.system() == "Linux":
        if not V4L2LOOPBACK_MODULE.is_dir():
            return Finding("virtualcam", MISSING, "virtual camera",
                           "the v4l2loopback kernel module is not loaded (no virtual camera "
                           "in /dev/video*)", install_hint("Linux"))
        if not any(device.loopback for device in video_devices()):
            return Finding("virtualcam", MISSING, "virtual camera",
                           "v4l2loopback is loaded but made no device",
                           "sudo modprobe -r v4l2loopback, then " + install_hint("Linux"))
    spec = specs[0]
    try:
        device, backend = within(VIRTUALCAM_TIMEOUT_S, lambda: _open_virtual_camera(
            spec.backend, spec.device, settings), "virtual camera")
    except EngineError as error:
        return Finding("virtualcam", MISSING, "virtual camera", str(error),
                       "close other programs writing to it (another Persona?); "
                       + install_hint())
    label = _label(device)
    detail = f"{device} ({backend}) opens at {settings.width}x{settings.height}"
    if label:
        detail += f"; Zoom lists it as {label!r}"
    if label and label != ZOOM_CAMERA:
        return Finding("virtualcam", OK, "virtual camera",
                       detail + f" (the docs call it {ZOOM_CAMERA!r}: choose {label!r})")
    return Finding("virtualcam", OK, "virtual camera", detail)


def _open_virtual_camera(backend: str | None, device: str | None,
                         settings: Settings) -> tuple[str, str]:
    from engine.output.virtualcam import VirtualCameraSink

    sink = VirtualCameraSink(backend, device)
    sink.open(settings.width, settings.height, settings.fps)
    try:
        return str(sink.camera.device), str(sink.camera.backend)
    finally:
        sink.close()


def _label(device: str) -> str:
    """The name a v4l2 device shows in Zoom (its card label), when it is one."""
    if not device.startswith("/dev/video"):
        return ""
    try:
        return (VIDEO4LINUX / Path(device).name / "name").read_text().strip()
    except OSError:
        return ""


def check_display() -> Finding:
    """A display the preview window (glfw) can open; asked in a child process, because glfw
    initialised in the doctor would stay bound to that display and can block on a dead one."""
    fix = ("start Persona from your desktop session, or run without --preview and use the "
           "control page (persona run --control)")
    if platform.system() == "Linux" and not (os.environ.get("DISPLAY")
                                             or os.environ.get("WAYLAND_DISPLAY")):
        return Finding("display", MISSING, "display", "neither DISPLAY nor WAYLAND_DISPLAY is "
                       "set: the preview window with the HUD and hotkeys cannot open", fix)
    where = os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY") or "desktop"
    probe = "import sys, glfw; sys.exit(0 if glfw.init() else 1)"
    try:
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                timeout=DISPLAY_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return Finding("display", MISSING, "display",
                       f"{where} did not answer within {DISPLAY_TIMEOUT_S:g} s", fix)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["glfw could not initialise"])[-1]
        return Finding("display", MISSING, "display", f"{where}: {reason}", fix)
    return Finding("display", OK, "display", f"{where} opens windows (preview and HUD)")
