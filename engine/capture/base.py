"""The ``Source`` protocol every video input implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from engine.types import Frame


@runtime_checkable
class Source(Protocol):
    """A producer of frames. ``latest`` never blocks for long: live sources capture on a thread
    of their own and keep only the newest frame; file sources decode on demand."""

    def start(self) -> None:
        """Open the device or file. Raises DeviceError/AssetError with a clear message."""

    def latest(self) -> Frame | None:
        """The newest frame, or None when there has never been one. After a live device is lost
        this keeps returning the last good frame while the source retries in the background."""

    def close(self) -> None:
        """Release the device or file; safe to call more than once."""


class ManagedSource:
    """``with source:`` starts it and closes it, for every source class that derives from this
    (each defines ``start`` and ``close``)."""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
