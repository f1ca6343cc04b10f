"""Virtual camera output through pyvirtualcam, so Zoom, Teams and browsers see the avatar.

pyvirtualcam picks a backend (v4l2loopback on Linux, OBS Virtual Camera on Windows and macOS,
Unity Capture on Windows) or uses the one named. The pixel format is negotiated: the formats this
sink can produce are offered in order of cost — RGB (our frames as they are), BGR, I420, RGBA —
and the first one the backend accepts is used.
"""

from __future__ import annotations

import logging
import platform

import cv2
import numpy as np

from engine.errors import DeviceError, SinkError
from engine.output.base import BaseSink
from engine.output.yuv import rgb_to_i420
from engine.types import Frame

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("RGB", "BGR", "I420", "RGBA")


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
        self.camera = None  # the pyvirtualcam.Camera once open

    def _open(self, width: int, height: int, fps: float) -> None:
        import pyvirtualcam

        if self.backend is not None and self.backend not in pyvirtualcam.camera.BACKENDS:
            known = ", ".join(pyvirtualcam.camera.BACKENDS) or "none on this system"
            raise SinkError(f"virtual camera backend {self.backend!r} is unknown (known: {known})")
        reasons: list[tuple[str, str]] = []
        for fmt in (self.fmt,) if self.fmt else FORMATS:
            if fmt == "I420" and (width % 2 or height % 2):
                reasons.append(("I420", "needs even width and height"))
                continue
            try:
                self.camera = pyvirtualcam.Camera(
                    width, height, fps, fmt=pyvirtualcam.PixelFormat[fmt],
                    device=self.device, backend=self.backend,
                )
            except Exception as error:  # backends raise whatever their platform gives them
                reasons.append((fmt, str(error).strip().replace("\n", "; ")))
                continue
            self.fmt = fmt
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
        except Exception as error:
            raise DeviceError(f"virtual camera {self.camera.device} stopped taking frames: {error}") from error

    def _close(self) -> None:
        self.camera.close()

    def __repr__(self) -> str:
        return f"VirtualCameraSink(backend={self.backend!r}, device={self.device!r})"


def _group(reasons: list[tuple[str, str]]) -> str:
    """"RGB, BGR: no device; RGBA: unsupported" — formats usually fail alike when there is no
    device, and one line should say so once."""
    by_message: dict[str, list[str]] = {}
    for fmt, message in reasons:
        by_message.setdefault(message, []).append(fmt)
    return "; ".join(f"{', '.join(fmts)}: {message}" for message, fmts in by_message.items())
