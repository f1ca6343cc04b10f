"""The ``Sink`` protocol every output implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

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
