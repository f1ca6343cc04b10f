"""A sink that discards frames: for benchmarks and for running the loop with no output."""

from __future__ import annotations

from engine.output.base import BaseSink
from engine.types import AudioBlock, Frame


class NullSink(BaseSink):
    """Accepts and drops every frame (after the usual checks); counts what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.audio_samples_written = 0

    def _open(self, width: int, height: int, fps: float) -> None:
        pass

    def _write(self, frame: Frame) -> None:
        pass

    def write_audio(self, block: AudioBlock) -> None:
        self.audio_samples_written += len(block.samples)

    def _close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "NullSink()"
