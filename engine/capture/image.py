"""A still picture as a source: a photo stand-in, or a background for tests."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from engine.capture.base import ManagedSource
from engine.images import read_image
from engine.types import Frame


class ImageSource(ManagedSource):
    """Shows one image for ever. ``size`` (w, h): scale and centre-crop to exactly that size.

    Every ``latest`` returns a new Frame (stamped now, numbered on) around the same read-only
    image, so the loop treats it like any other source.
    """

    def __init__(self, path: str | os.PathLike, size: tuple[int, int] | None = None) -> None:
        self.path = Path(path)
        self.size = size
        self.finished = False
        self._image: np.ndarray | None = None
        self._index = 0

    def start(self) -> None:
        self._image = load_image(self.path, self.size)
        self._index = 0

    def latest(self) -> Frame | None:
        if self._image is None:
            return None
        frame = Frame(image=self._image, t_capture=time.perf_counter(), index=self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        self._image = None

    def __repr__(self) -> str:
        return f"ImageSource({str(self.path)!r})"


def load_image(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read an image file as read-only (H, W, 3) uint8 RGB, optionally cover-fitted to ``size``.

    Raises AssetError naming the file when it is missing, too large or not a readable image.
    """
    from PIL import Image, ImageOps

    picture = ImageOps.exif_transpose(read_image(path, "RGB"))  # a phone photo stands upright
    if size is not None:
        picture = ImageOps.fit(picture, size, Image.Resampling.BILINEAR)
    image = np.asarray(picture, dtype=np.uint8).copy()
    image.flags.writeable = False
    return image
