"""Webcam input through OpenCV, on a capture thread that keeps only the newest frame.

The loop never waits on the camera: ``latest`` hands over whatever the thread grabbed last. When
the camera stops delivering (unplugged, taken by another app) the thread says so once, the
source keeps returning the last good frame, and the thread reopens the device with growing
pauses until it is back — then says that too.

Tests inject ``open_capture``: a function returning an object with OpenCV's ``read()``,
``isOpened()`` and ``release()``, because there is no camera on the build machines.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from engine.capture.fit import cover
from engine.errors import DeviceError
from engine.capture.base import LiveSource
from engine.types import Frame

log = logging.getLogger(__name__)

# Failed reads in a row before the camera counts as lost (drivers drop the odd frame).
LOST_AFTER_FAILURES = 5
VIDEO4LINUX = Path("/sys/class/video4linux")


class Capture(Protocol):
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def isOpened(self) -> bool: ...  # noqa: N802 — OpenCV's name
    def release(self) -> None: ...


def find_camera(name: str, root: Path = VIDEO4LINUX) -> int:
    """Index of the first V4L2 camera whose name contains ``name`` (case-insensitive)."""
    if platform.system() != "Linux":
        raise DeviceError(f"webcam {name!r}: cameras can be chosen by name only on Linux; "
                          "give an index instead (webcam:0)")
    names = {}
    for entry in sorted(root.glob("video*")):
        try:
            names[int(entry.name[5:])] = (entry / "name").read_text().strip()
        except (OSError, ValueError):
            continue
    for index, device_name in sorted(names.items()):
        if name.lower() in device_name.lower():
            return index
    found = ", ".join(f"{i}: {n}" for i, n in sorted(names.items())) or "no cameras at all"
    raise DeviceError(f"no webcam named like {name!r} (found {found})")


def open_opencv(index: int, size: tuple[int, int], fps: float) -> Capture:
    """An OpenCV capture asking for ``size`` and ``fps`` (MJPEG, which USB cameras need for
    720p at 30 fps)."""
    import cv2

    # OpenCV prints its own warnings for a missing device; ours (DeviceError) says what to do.
    cv2.setLogLevel(2)  # 2 = errors only (OpenCV's LOG_LEVEL_ERROR)
    api = cv2.CAP_V4L2 if platform.system() == "Linux" else cv2.CAP_ANY
    capture = cv2.VideoCapture(index, api)
    if capture.isOpened():
        capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        capture.set(cv2.CAP_PROP_FPS, fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue of old ones
    return capture


class WebcamSource(LiveSource):
    """A webcam by index (``0``) or by part of its name (``"C920"``, Linux only).

    Frames are converted to RGB once, on the capture thread, and cover-fitted to ``size`` when
    the camera does not deliver exactly the size asked for.
    """

    def __init__(
        self,
        device: int | str = 0,
        size: tuple[int, int] = (1280, 720),
        fps: float = 30.0,
        *,
        open_capture: Callable[[int, tuple[int, int], float], Capture] = open_opencv,
        first_frame_timeout: float = 5.0,
        retry_delay: float = 0.5,
        max_retry_delay: float = 5.0,
    ) -> None:
        super().__init__()
        self.device = device
        self.size = (int(size[0]), int(size[1]))
        self.fps = float(fps)
        self.finished = False
        self.connected = False
        self.reconnects = 0
        self._open_capture = open_capture
        self._first_frame_timeout = first_frame_timeout
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._capture: Capture | None = None
        self._latest: Frame | None = None
        self._lock = threading.Lock()
        self._got_frame = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._index = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        capture = self._open()
        if capture is None:
            raise DeviceError(
                f"webcam {self.device!r} could not be opened: check that it is plugged in and "
                "not in use by another program (or pick another with --source webcam:N)"
            )
        self._capture = capture
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"webcam:{self.device}",
                                        daemon=True)
        self._thread.start()
        if not self._got_frame.wait(self._first_frame_timeout):
            self.close()
            raise DeviceError(f"webcam {self.device!r} opened but sent no picture within "
                              f"{self._first_frame_timeout:g} s")

    def _open(self) -> Capture | None:
        index = self.device if isinstance(self.device, int) else find_camera(self.device)
        capture = self._open_capture(index, self.size, self.fps)
        if capture.isOpened():
            return capture
        capture.release()
        return None

    def latest(self) -> Frame | None:
        with self._lock:
            return self._latest

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            ok, bgr = self._capture.read()
            if ok and bgr is not None:
                failures = 0
                self._publish(bgr)
                continue
            failures += 1
            if failures < LOST_AFTER_FAILURES:
                continue
            self._capture.release()
            self._capture = None
            self.connected = False
            log.warning("webcam %r stopped sending pictures (unplugged?); showing the last frame "
                        "and retrying", self.device)
            self._capture = self._reconnect()
            if self._capture is None:
                return  # stopping
            failures = 0
            self.reconnects += 1
            log.warning("webcam %r is back", self.device)

    def _reconnect(self) -> Capture | None:
        delay = self._retry_delay
        while not self._stop.wait(delay):
            try:
                capture = self._open()
            except DeviceError:  # the camera's name is not listed (yet)
                capture = None
            if capture is not None:
                return capture
            delay = min(delay * 2, self._max_retry_delay)
        return None

    def _publish(self, bgr: np.ndarray) -> None:
        import cv2

        t_capture = time.perf_counter()
        height, width = bgr.shape[:2]
        if (width, height) != self.size:
            (scaled_w, scaled_h), (x, y) = cover((width, height), self.size)
            bgr = cv2.resize(bgr, (scaled_w, scaled_h), interpolation=cv2.INTER_AREA)
            bgr = bgr[y:y + self.size[1], x:x + self.size[0]]
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        frame = Frame(image=rgb, t_capture=t_capture, index=self._index)
        self._index += 1
        with self._lock:
            self._latest = frame
        self.connected = True
        self._got_frame.set()
        self._announce(frame)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        self.connected = False

    def __repr__(self) -> str:
        return f"WebcamSource({self.device!r})"
