"""The ``Tracker`` protocol every face-input driver implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from engine.types import FaceState, Frame


@runtime_checkable
class Tracker(Protocol):
    """Turns frames into ``FaceState``. Engine types only: library types never cross this line."""

    def track(self, frame: Frame) -> FaceState:
        """The primary face in ``frame``, or ``FaceState.lost(frame.t_capture)``."""

    def close(self) -> None:
        """Release models and sockets; safe to call more than once."""
