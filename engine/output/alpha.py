"""Transparent output for compositing in OBS and video editors: the avatar with its alpha.

A session renders transparent when a sink asks for it (``channels = 4``): the compositor then
clears the scene's layer to transparent black instead of the background and hands over RGBA,
premultiplied, as GL blended it. The transparent videos (``PATH.webm``, ``PATH.mov``) are
recordings (``engine.output.recorder.RECORDINGS``); this module adds the one format that is not
a video:

    NAME%05d.png   a PNG sequence, one straight-alpha RGBA file per frame (renders)

Every file is made fresh (``engine.safe_write.create_new``): nothing is overwritten.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2

from engine.errors import ConfigError, SinkError
from engine.output.base import BaseSink
from engine.output.recorder import straight_alpha
from engine.safe_write import create_new
from engine.types import Frame


def is_png_sequence(path: str | os.PathLike) -> bool:
    name = str(path)
    if Path(name).suffix.lower() != ".png":
        return False
    try:
        return name % 0 != name % 1
    except (TypeError, ValueError):
        return False


class PngSequenceSink(BaseSink):
    """One RGBA PNG per frame, named by ``pattern % frame_number`` (``avatar_%05d.png``)."""

    channels = 4

    def __init__(self, pattern: str) -> None:
        super().__init__()
        if not is_png_sequence(pattern):
            raise ConfigError(f"{pattern}: a PNG sequence needs a frame number pattern such as "
                              "avatar_%05d.png")
        self.pattern = pattern

    def _open(self, width: int, height: int, fps: float) -> None:
        pass

    def _write(self, frame: Frame) -> None:
        bgra = cv2.cvtColor(straight_alpha(frame.image), cv2.COLOR_RGBA2BGRA)
        ok, encoded = cv2.imencode(".png", bgra, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise SinkError(f"{self.pattern}: PNG encoding failed")
        with create_new(self.pattern % self.frames_written) as file:
            file.write(encoded.tobytes())

    def _close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"PngSequenceSink({self.pattern!r})"
