"""Virtual camera output through pyvirtualcam, so Zoom, Teams and browsers see the avatar.

pyvirtualcam picks a backend (v4l2loopback on Linux, OBS Virtual Camera on Windows and macOS,
Unity Capture on Windows) or uses the one named. The pixel format is negotiated: the formats this
sink can produce are offered in order of cost — RGB (our frames as they are), BGR, I420, RGBA —
and the first one the backend accepts is used.

What conferencing apps need, and how this sink meets it:

- **Even sizes.** Chrome, Zoom and Teams read cameras as 4:2:0 video (I420, NV12, YUYV), which
  has one colour sample per 2x2 block: an odd width or height is refused at open, in one line.
- **The device by name.** ``virtualcam:v4l2loopback:Persona`` finds the loopback device whose
  card label contains "Persona" (``/sys/class/video4linux/*/name``), so the name given to
  ``modprobe v4l2loopback card_label=...`` keeps working when device numbers move; a path
  (``/dev/video9``) is taken as it is, and other backends get the name unchanged.
- **Pacing from the engine clock.** The loop's clock (``engine.clock``) already holds the frame
  rate, so the sink never sleeps (pyvirtualcam's ``sleep_until_next_frame`` would add a second,
  unsynchronised wait and halve the rate of a loop that is a little late).
- **Reconnect.** When the device goes away (the module unloaded, OBS's camera stopped) the loss
  is logged once, frames are dropped, and the device is opened again once a second until it is
  back; the session never stops for it.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path

import cv2
import numpy as np

from engine.errors import SinkError
from engine.output.base import BaseSink
from engine.output.yuv import rgb_to_i420
from engine.types import Frame

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("RGB", "BGR", "I420", "RGBA")
VIDEO4LINUX = Path("/sys/class/video4linux")
RECONNECT_S = 1.0  # how often a lost device is looked for again


def find_device(name: str, root: Path = VIDEO4LINUX) -> str:
    """The ``/dev/videoN`` whose card label contains ``name`` (case-insensitive); a path is
    returned as it is. Raises SinkError listing the labels there are."""
    if name.startswith("/dev/"):
        return name
    labels = {}
    for entry in sorted(root.glob("video*")) if root.is_dir() else ():
        try:
            labels[f"/dev/{entry.name}"] = (entry / "name").read_text(encoding="utf-8").strip()
        except OSError:
            continue
    for device, label in labels.items():
        if name.lower() in label.lower():
            return device
    found = ", ".join(f"{device} {label!r}" for device, label in labels.items()) or "none"
    raise SinkError(f"no video device is labelled {name!r} (found: {found}); load v4l2loopback "
                    f"with card_label={name!r} or give the device path")


def install_hint(system: str | None = None) -> str:
    """What to install for a virtual camera device on this operating system."""
    system = system or platform.system()
    if system == "Linux":
        return (
            "install and load v4l2loopback: sudo apt install v4l2loopback-dkms && sudo modprobe "
            "v4l2loopback devices=1 exclusive_caps=1 card_label='Persona Camera'"
        )
    if system in ("Windows", "Darwin"):
        return (
            "install OBS Studio (which provides OBS Virtual Camera), then start its Virtual "
            "Camera once so the device is registered"
        )
    return f"pyvirtualcam has no virtual camera backend for {system}; use the y4m sink instead"


class VirtualCameraSink(BaseSink):
    """Sends frames to a virtual camera device.

    ``backend``: a pyvirtualcam backend name (``v4l2loopback``, ``obs``, ``unitycapture``, or one
    registered with ``pyvirtualcam.register_backend``); None tries all. ``device``: a device path
    or name as the backend understands it; None takes the first free one. ``fmt``: force one
    pixel format from ``FORMATS`` instead of negotiating.
    """

    def __init__(
        self, backend: str | None = None, device: str | None = None, fmt: str | None = None
    ) -> None:
        super().__init__()
        if fmt is not None and fmt not in FORMATS:
            raise ValueError(f"virtual camera format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.backend = backend
        self.device = device
        self.fmt = fmt
        self.camera = None  # the pyvirtualcam.Camera while the device is there
        self.frames_dropped = 0  # frames that came while the device was gone
        self.reconnects = 0
        self._retry_at = 0  # frames_written when the device is looked for again

    def _open(self, width: int, height: int, fps: float) -> None:
        import pyvirtualcam

        if self.backend is not None and self.backend not in pyvirtualcam.camera.BACKENDS:
            known = ", ".join(pyvirtualcam.camera.BACKENDS) or "none on this system"
            raise SinkError(f"virtual camera backend {self.backend!r} is unknown (known: {known})")
        if width % 2 or height % 2:
            raise SinkError(f"virtual camera: conferencing apps take only even frame sizes "
                            f"(4:2:0 video), got {width}x{height}; use e.g. 1280x720")
        device = self.device
        if device is not None and self.backend in (None, "v4l2loopback") \
                and platform.system() == "Linux":
            device = find_device(device)
        reasons: list[tuple[str, str]] = []
        for fmt in (self.fmt,) if self.fmt else FORMATS:
            try:
                self.camera = pyvirtualcam.Camera(
                    width, height, fps, fmt=pyvirtualcam.PixelFormat[fmt],
                    device=device, backend=self.backend,
                )
            except Exception as error:  # backends raise whatever their platform gives them
                reasons.append((fmt, str(error).strip().replace("\n", "; ")))
                continue
            self.fmt = fmt
            self.device = device
            log.info(
                "virtual camera: %s on %s (%s), %dx%d @ %g fps, native format %s",
                self.camera.device, self.camera.backend, fmt, width, height, fps,
                self.camera.native_fmt,
            )
            return
        raise SinkError(
            f"no virtual camera could be opened ({_group(reasons)}); "
            f"to fix: {install_hint()}"
        )

    def _write(self, frame: Frame) -> None:
        if self.camera is None and not self._reconnect():
            self.frames_dropped += 1
            return
        image = frame.image
        if self.fmt == "BGR":
            payload = np.ascontiguousarray(image[..., ::-1])
        elif self.fmt == "I420":
            payload = rgb_to_i420(image)
        elif self.fmt == "RGBA":
            payload = cv2.cvtColor(image, cv2.COLOR_RGB2RGBA)
        else:
            payload = image
        try:
            self.camera.send(payload)
        except Exception as error:  # the device went away: drop frames until it is back
            log.warning("virtual camera %s stopped taking frames (%s); trying again every "
                        "%g s", self.device or "device", error, RECONNECT_S)
            self._release_camera()
            self._retry_at = self.frames_written + max(1, round(RECONNECT_S * self.fps))
            self.frames_dropped += 1

    def _reconnect(self) -> bool:
        """Open the device again if it is time to look; True when it is back."""
        if self.frames_written < self._retry_at:
            return False
        self._retry_at = self.frames_written + max(1, round(RECONNECT_S * self.fps))
        import pyvirtualcam

        try:
            self.camera = pyvirtualcam.Camera(
                self.width, self.height, self.fps, fmt=pyvirtualcam.PixelFormat[self.fmt],
                device=self.device, backend=self.backend)
        except Exception:  # still gone; said once when it went
            return False
        self.reconnects += 1
        log.warning("virtual camera %s is back", self.camera.device)
        return True

    def _release_camera(self) -> None:
        camera, self.camera = self.camera, None
        try:
            camera.close()
        except Exception:  # a device that vanished may fail to close too
            log.debug("closing the lost virtual camera failed", exc_info=True)

    def _close(self) -> None:
        if self.camera is not None:
            self._release_camera()

    def __repr__(self) -> str:
        return f"VirtualCameraSink(backend={self.backend!r}, device={self.device!r})"


def _group(reasons: list[tuple[str, str]]) -> str:
    """"RGB, BGR: no device; RGBA: unsupported" — formats usually fail alike when there is no
    device, and one line should say so once."""
    by_message: dict[str, list[str]] = {}
    for fmt, message in reasons:
        by_message.setdefault(message, []).append(fmt)
    return "; ".join(f"{', '.join(fmts)}: {message}" for message, fmts in by_message.items())
