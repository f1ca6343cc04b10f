"""A sink that keeps what it is given, for tests and tools that inspect the output."""

from __future__ import annotations

import numpy as np

from engine.output.base import BaseSink
from engine.types import AudioBlock, Frame


class MemorySink(BaseSink):
    """Keeps a copy of every frame (the loop reuses its arrays) and every audio block.

    ``max_frames`` bounds memory: once reached, the oldest frames are dropped.
    """

    def __init__(self, max_frames: int | None = None) -> None:
        super().__init__()
        if max_frames is not None and max_frames <= 0:
            raise ValueError(f"max_frames must be positive, got {max_frames}")
        self.max_frames = max_frames
        self.frames: list[Frame] = []
        self.audio: list[AudioBlock] = []
        self.closed_count = 0  # how often the release ran: exactly once, whatever close is called

    def _open(self, width: int, height: int, fps: float) -> None:
        pass

    def _write(self, frame: Frame) -> None:
        kept = Frame(image=frame.image.copy(), t_capture=frame.t_capture, index=frame.index)
        self.frames.append(kept)
        if self.max_frames is not None and len(self.frames) > self.max_frames:
            del self.frames[0]

    def write_audio(self, block: AudioBlock) -> None:
        samples = np.array(block.samples, dtype=np.float32, copy=True)
        self.audio.append(AudioBlock(samples=samples, sample_rate=block.sample_rate, t=block.t))

    def _close(self) -> None:
        self.closed_count += 1

    @property
    def images(self) -> np.ndarray:
        """All kept frames stacked: (N, H, W, 3) uint8."""
        if not self.frames:
            return np.zeros((0, self.height, self.width, 3), np.uint8)
        return np.stack([frame.image for frame in self.frames])

    def __repr__(self) -> str:
        return f"MemorySink({len(self.frames)} frames)"
