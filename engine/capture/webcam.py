"""Webcam capture with OpenCV on a thread of its own that keeps only the newest frame.

The loop never waits for the camera: ``latest()`` returns whatever the capture thread grabbed
last. When the camera goes away mid-session (unplugged, taken by another app) the source says so
once, keeps handing out the last good frame — the avatar carries on, easing to neutral because
the tracker stops finding a face in an unchanging picture — and reopens the device in the
background with a growing back-off, announcing when it is back.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from engine.errors import DeviceError
from engine.types import Frame

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 5.0
FAILED_READS_BEFORE_LOST = 5  # a few bad reads happen on healthy cameras too


class CaptureDevice(Protocol):
    """The part of ``cv2.VideoCapture`` the source uses (a test double stands in for it here,
    because these machines have no camera)."""

    def isOpened(self) -> bool: ...  # noqa: N802 - OpenCV's name

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def release(self) -> None: ...


def find_device(spec: str | int | None) -> int | str:
    """A camera index from ``None`` (the first), an index, or a name substring matched against
    ``/sys/class/video4linux/*/name`` on Linux. Raises DeviceError listing the cameras."""
    if spec is None or spec == "":
        return 0
    if isinstance(spec, int) or str(spec).isdigit():
        return int(spec)
    names = camera_names()
    for index, name in names.items():
        if str(spec).lower() in name.lower():
            return index
    listing = ", ".join(f"{i}: {n}" for i, n in names.items()) or "none found"
    raise DeviceError(f"no camera named like {spec!r}; cameras: {listing}")


def camera_names() -> dict[int, str]:
    """Index → name of the video devices Linux knows about (empty elsewhere)."""
    names = {}
    for entry in sorted(Path("/sys/class/video4linux").glob("video*")):
        try:
            names[int(entry.name[len("video"):])] = (entry / "name").read_text().strip()
        except (OSError, ValueError):
            continue
    return names


def open_opencv(device: int | str, size: tuple[int, int], fps: float) -> CaptureDevice:
    capture = cv2.VideoCapture(device, cv2.CAP_V4L2 if os.name == "posix" else cv2.CAP_ANY)
    if capture.isOpened():
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        capture.set(cv2.CAP_PROP_FPS, fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue of old ones
    return capture


class WebcamSource:
    """Frames from a camera by index or name, at (about) the requested size and rate."""

    def __init__(self, device: str | int | None = None, size: tuple[int, int] = (1280, 720),
                 fps: float = 30.0,
                 opener: Callable[[int | str, tuple[int, int], float], CaptureDevice] = open_opencv
                 ) -> None:
        self.spec = device
        self.size = size
        self.fps = fps
        self._opener = opener
        self._device: int | str | None = None
        self._capture: CaptureDevice | None = None
        self._latest: Frame | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False
        self.reconnects = 0

    def start(self) -> None:
        self._device = find_device(self.spec)
        capture = self._opener(self._device, self.size, self.fps)
        if not capture.isOpened():
            capture.release()
            raise DeviceError(
                f"camera {self._device!r} could not be opened: is it connected, and not in use by "
                "another program? (`persona devices` lists cameras; use --source to pick one, or "
                "--source synthetic to run without a camera)")
        self._capture = capture
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="webcam", daemon=True)
        self._thread.start()

    def latest(self) -> Frame | None:
        with self._lock:
            return self._latest

    def _run(self) -> None:
        index = 0
        failures = 0
        while not self._stop.is_set():
            ok, image = self._capture.read() if self._capture is not None else (False, None)
            if ok and image is not None:
                frame = Frame(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), time.perf_counter(), index)
                index += 1
                failures = 0
                with self._lock:
                    self._latest = frame
                continue
            failures += 1
            if failures >= FAILED_READS_BEFORE_LOST:
                self._reconnect()
                failures = 0
            else:
                time.sleep(0.01)

    def _reconnect(self) -> None:
        """Announce the loss once, then reopen with back-off until the camera is back."""
        if not self.lost:
            self.lost = True
            log.warning("camera %r stopped sending frames; showing the last frame and retrying",
                        self._device)
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        delay = RETRY_FIRST_S
        while not self._stop.wait(delay):
            capture = self._opener(self._device, self.size, self.fps)
            if capture.isOpened():
                self._capture = capture
                self.lost = False
                self.reconnects += 1
                log.warning("camera %r is back", self._device)
                return
            capture.release()
            delay = min(delay * 2, RETRY_MAX_S)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __repr__(self) -> str:
        return f"WebcamSource({self.spec!r})"
