"""YUV4MPEG2 (y4m) output: raw 4:2:0 frames to a file, a named pipe or standard output.

y4m is the simplest stream other programs read as a camera or video: ``ffmpeg -i out.y4m``, OBS's
media source, and Chromium's fake camera
(``--use-fake-device-for-media-stream --use-file-for-fake-video-capture=out.y4m``). Each frame is
``FRAME\\n`` followed by the Y, U and V planes; the stream header names size, rate and chroma.

A named pipe (``mkfifo``) carries a live stream without filling the disk. Writing to one must not
stall the frame loop, so pipes are fed by a thread of their own that waits for a reader, sends
the newest frame (dropping frames a slow reader cannot take) and, when the reader goes away
(EPIPE), says so once and waits for the next one.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import stat
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

import numpy as np

from engine.errors import AssetError, SinkError
from engine.output.base import BaseSink
from engine.output.yuv import rgb_to_i420
from engine.types import Frame

log = logging.getLogger(__name__)

_FRAME_MARKER = b"FRAME\n"
# How often the pipe thread looks up from a blocked wait to check whether it should stop.
_POLL_SECONDS = 0.1
# Largest frame a reader accepts from an untrusted stream: 8K.
_MAX_SIDE = 8192
_MAX_HEADER_BYTES = 1024


def y4m_header(width: int, height: int, fps: float) -> bytes:
    """The stream header: progressive, square pixels, 4:2:0 (``C420``, JPEG chroma siting)."""
    rate = Fraction(fps).limit_denominator(1001)
    return (
        f"YUV4MPEG2 W{width} H{height} F{rate.numerator}:{rate.denominator} Ip A1:1 C420\n"
    ).encode("ascii")


class Y4MSink(BaseSink):
    """Writes frames as y4m to ``path``: a regular file, a named pipe, or ``"-"`` for stdout."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__()
        self.path = str(path)
        self._dropped = 0
        self._stream: BinaryIO | None = None
        self._owns_stream = False
        self._consumer_gone = False
        self._pipe: _PipeWriter | None = None

    def _open(self, width: int, height: int, fps: float) -> None:
        if width % 2 or height % 2:
            raise SinkError(f"y4m {self.path}: 4:2:0 needs even width and height, got {width}x{height}")
        header = y4m_header(width, height, fps)
        if self.path == "-":
            self._stream = sys.stdout.buffer
        elif _is_fifo(self.path):
            self._pipe = _PipeWriter(self.path, header)
            return
        else:
            try:
                self._stream = open(self.path, "wb")  # noqa: SIM115 — closed in _close
            except OSError as error:
                raise SinkError(f"y4m: cannot write {self.path}: {error.strerror}") from error
            self._owns_stream = True
        self._send_to_stream(header)

    def _write(self, frame: Frame) -> None:
        planes = rgb_to_i420(frame.image)
        if self._pipe is not None:
            self._pipe.offer(planes)
            return
        if not self._consumer_gone:
            self._send_to_stream(_FRAME_MARKER, planes)
        else:
            self._dropped += 1

    @property
    def frames_dropped(self) -> int:
        """Frames no reader got: a slow or absent pipe reader, or a consumer that quit."""
        return self._dropped + (self._pipe.dropped if self._pipe is not None else 0)

    def _send_to_stream(self, *chunks: bytes | np.ndarray) -> None:
        assert self._stream is not None
        try:
            for chunk in chunks:
                self._stream.write(chunk)
        except BrokenPipeError:
            # The program reading our output quit: that ends this output, not the engine.
            self._consumer_gone = True
            log.error(
                "y4m output %s: the reading program closed the pipe; y4m output stopped "
                "(the rest of the engine keeps running)",
                self.path,
            )

    def _close(self) -> None:
        if self._pipe is not None:
            self._pipe.stop()
        if self._stream is not None:
            try:
                if self._owns_stream:
                    self._stream.close()
                elif not self._consumer_gone:
                    self._stream.flush()
            except BrokenPipeError:
                pass

    def __repr__(self) -> str:
        return f"Y4MSink({self.path!r})"


def _is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


class _PipeWriter:
    """Feeds one named pipe from a thread: the newest frame only, readers may come and go."""

    def __init__(self, path: str, header: bytes) -> None:
        self.path = path
        self.header = header
        self.dropped = 0  # frames replaced before the reader took them, or offered to nobody
        self._pending: np.ndarray | None = None
        self._ready = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"y4m-pipe:{path}", daemon=True)
        self._thread.start()

    def offer(self, planes: np.ndarray) -> None:
        """Queue a frame for the reader, replacing one it has not taken yet."""
        with self._ready:
            self.dropped += self._pending is not None
            self._pending = planes
            self._ready.notify()

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self.dropped += self._pending is not None
            self._ready.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping:
            fd = self._wait_for_reader()
            if fd is None:
                return
            log.info("y4m: a reader opened %s", self.path)
            try:
                self._send(fd, self.header)
                while True:
                    planes = self._next_frame()
                    if planes is None:
                        return
                    self._send(fd, _FRAME_MARKER)
                    self._send(fd, planes.data)
            except BrokenPipeError:
                log.warning(
                    "y4m: the reader of %s went away; frames are dropped until a program opens "
                    "it again", self.path,
                )
            except _Stopping:
                return
            finally:
                os.close(fd)

    def _wait_for_reader(self) -> int | None:
        # A non-blocking open of a FIFO for writing fails with ENXIO until someone reads it;
        # polling keeps the thread responsive to stop().
        while not self._stopping:
            try:
                return os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:
                if error.errno != errno.ENXIO:
                    log.error("y4m: cannot open pipe %s: %s; y4m output stopped", self.path, error)
                    return None
            with self._ready:
                # Frames offered while nobody listens are not worth keeping.
                self.dropped += self._pending is not None
                self._pending = None
                self._ready.wait(_POLL_SECONDS)
        return None

    def _next_frame(self) -> np.ndarray | None:
        with self._ready:
            while self._pending is None and not self._stopping:
                self._ready.wait()
            if self._stopping:
                return None
            planes, self._pending = self._pending, None
            return planes

    def _send(self, fd: int, data) -> None:
        view = memoryview(data).cast("B")
        while view:
            if self._stopping:
                raise _Stopping
            _, writable, _ = select.select([], [fd], [], _POLL_SECONDS)
            if not writable:
                continue
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                continue


class _Stopping(Exception):
    """The sink is closing while a write to the pipe is in progress."""


@dataclass(frozen=True)
class Y4MHeader:
    width: int
    height: int
    fps: Fraction
    chroma: str  # the C tag's value, e.g. "420", "420jpeg"


def read_y4m(source: str | os.PathLike | BinaryIO) -> tuple[Y4MHeader, Iterator[np.ndarray]]:
    """Parse a y4m stream: its header and an iterator of frames as (H * 3 // 2, W) I420 arrays.

    Only 4:2:0 streams are accepted. Sizes are bounded and malformed input raises AssetError
    naming the problem; a truncated last frame ends the iteration with an AssetError.
    """
    if isinstance(source, (str, os.PathLike)):
        name = str(source)
        try:
            stream: BinaryIO = open(source, "rb")  # noqa: SIM115 — closed by the iterator
        except OSError as error:
            raise AssetError(f"y4m: cannot read {name}: {error.strerror}") from error
    else:
        name = getattr(source, "name", "<stream>")
        stream = source
    line = stream.readline(_MAX_HEADER_BYTES)
    if not line.startswith(b"YUV4MPEG2 ") or not line.endswith(b"\n"):
        raise AssetError(f"y4m: {name} does not start with a YUV4MPEG2 header")
    tags = {token[:1]: token[1:] for token in line[10:].decode("ascii", "replace").split()}
    try:
        width, height = int(tags["W"]), int(tags["H"])
        numerator, denominator = (int(part) for part in tags.get("F", "30:1").split(":"))
        fps = Fraction(numerator, denominator)
    except (KeyError, ValueError, ZeroDivisionError) as error:
        raise AssetError(f"y4m: {name} has a malformed header: {line!r}") from error
    chroma = tags.get("C", "420")
    if not chroma.startswith("420"):
        raise AssetError(f"y4m: {name} uses chroma {chroma}; only 4:2:0 is supported")
    if not (0 < width <= _MAX_SIDE and 0 < height <= _MAX_SIDE) or width % 2 or height % 2:
        raise AssetError(f"y4m: {name} has an unsupported size {width}x{height}")
    header = Y4MHeader(width, height, fps, chroma)
    frame_bytes = width * height * 3 // 2

    def frames() -> Iterator[np.ndarray]:
        try:
            while True:
                marker = stream.readline(_MAX_HEADER_BYTES)
                if not marker:
                    return
                if not marker.startswith(b"FRAME"):
                    raise AssetError(f"y4m: {name} has a frame without a FRAME marker")
                data = stream.read(frame_bytes)
                if len(data) != frame_bytes:
                    raise AssetError(f"y4m: {name} ends in the middle of a frame")
                yield np.frombuffer(data, np.uint8).reshape(height * 3 // 2, width)
        finally:
            if stream is not source:
                stream.close()

    return header, frames()

