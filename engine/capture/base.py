"""The ``Source`` protocol every video input implements."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from engine.types import Frame

log = logging.getLogger(__name__)


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


class LiveSource(ManagedSource):
    """A source that captures on a thread of its own (a camera, a file played as one). Besides
    ``latest``, each new frame goes to the callbacks given to ``listen``, on the capture thread,
    as soon as it exists: the live tracker's worker starts on it then, instead of when the loop
    next looks (up to a frame later). Callbacks must return at once; one that raises is logged
    and dropped, so the picture goes on."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[Frame], None]] = []

    def listen(self, callback: Callable[[Frame], None]) -> None:
        self._listeners.append(callback)

    def _announce(self, frame: Frame) -> None:
        for callback in list(self._listeners):
            try:
                callback(frame)
            except Exception:
                log.exception("a frame listener failed; it gets no more frames")
                self._listeners.remove(callback)
