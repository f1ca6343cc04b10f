"""The ``Sink`` protocol every output implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from engine.types import AudioBlock, Frame


@runtime_checkable
class Sink(Protocol):
    """A consumer of finished frames. ``write`` receives every frame the loop produces, in order,
    as RGB uint8 of the size given to ``open``; it must not hold on to the array after returning
    unless it copies it."""

    def open(self, width: int, height: int, fps: float) -> None:
        """Prepare for frames of this size. Raises SinkError/DeviceError with a clear message."""

    def write(self, frame: Frame) -> None:
        """Output one frame."""

    def close(self) -> None:
        """Flush and release; safe to call more than once."""


@runtime_checkable
class AudioSink(Protocol):
    """A sink that also takes the (morphed) audio track, e.g. the recorder."""

    def write_audio(self, block: AudioBlock) -> None:
        """Output one block of audio; blocks arrive in order and may be any length."""


class BaseSink:
    """Shared life cycle for sinks: checks at the edge, ``close`` releasing exactly once.

    Subclasses implement ``_open``, ``_write`` and ``_close``. ``write`` rejects what is not an
    RGB uint8 image of the opened size (TypeError for the wrong type or dtype, ValueError for the
    wrong shape) before the subclass sees it, so backends never get surprised by a bad frame.
    Sinks of transparent frames (``engine.output.alpha``) set ``channels = 4``: premultiplied
    RGBA from a compositor asked for transparency.
    Used as a context manager the sink is closed on exit; ``open`` still needs the frame size.
    """

    channels = 3

    def __init__(self) -> None:
        self.width = 0
        self.height = 0
        self.fps = 0.0
        self.frames_written = 0
        self._opened = False
        self._closed = False

    def open(self, width: int, height: int, fps: float) -> None:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed; make a new sink")
        if self._opened:
            raise RuntimeError(f"{self!r} is already open")
        for name, value in (("width", width), ("height", height)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self._open(self.width, self.height, self.fps)
        self._opened = True

    def write(self, frame: Frame) -> None:
        if not self._opened or self._closed:
            raise RuntimeError(f"{self!r} is not open")
        check_image(frame, self.width, self.height, self.channels)
        self._write(frame)
        self.frames_written += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._opened:
            self._close()

    @property
    def is_open(self) -> bool:
        return self._opened and not self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _open(self, width: int, height: int, fps: float) -> None:
        raise NotImplementedError

    def _write(self, frame: Frame) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


def check_image(frame: Frame, width: int, height: int, channels: int = 3) -> None:
    """Raise TypeError/ValueError unless ``frame`` holds an (height, width, channels) uint8
    image."""
    if not isinstance(frame, Frame):
        raise TypeError(f"expected a Frame, got {type(frame).__name__}")
    image = frame.image
    if not isinstance(image, np.ndarray):
        raise TypeError(f"Frame.image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"Frame.image must be uint8 RGB, got dtype {image.dtype}")
    if image.shape != (height, width, channels):
        raise ValueError(
            f"Frame.image has shape {image.shape}; this sink was opened for "
            f"({height}, {width}, {channels})"
        )
