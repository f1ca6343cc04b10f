"""Video files and still images as sources.

A video file plays at its own frame rate against the wall clock (live use: ``realtime``; it loops
by default so a rehearsal clip never runs out) or hands out one frame per call (offline renders,
``realtime=False``; then ``finished`` turns True at the end). Decoding happens in ``latest`` on
demand, skipping frames whose time has already passed, so a slow machine plays the clip at the
right speed with fewer frames rather than in slow motion.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import av
import numpy as np

from engine.errors import AssetError
from engine.types import Frame

log = logging.getLogger(__name__)

MAX_IMAGE_PIXELS = 40_000_000  # a 40-megapixel still is plenty; beyond that is a bomb


class VideoFileSource:
    """Frames from a video file, decoded with PyAV."""

    def __init__(self, path: str | Path, loop: bool = True, realtime: bool = True) -> None:
        self.path = Path(path)
        self.loop = loop
        self.realtime = realtime
        self.finished = False
        self.fps = 30.0
        self._container = None
        self._frames = None
        self._index = 0  # frames handed out
        self._decoded = 0  # frames decoded in the current pass through the file
        self._last: Frame | None = None
        self._t_start = 0.0

    def start(self) -> None:
        if not self.path.is_file():
            raise AssetError(f"{self.path}: no such video file")
        self._open()
        self._t_start = time.perf_counter()

    def _open(self) -> None:
        try:
            self._container = av.open(str(self.path))
            stream = self._container.streams.video[0]
        except (av.FFmpegError, IndexError) as error:
            if self._container is not None:
                self._container.close()
            raise AssetError(f"{self.path}: not a readable video ({error})") from error
        stream.thread_type = "AUTO"
        self.fps = float(stream.average_rate or 30)
        self._frames = self._container.decode(stream)
        self._decoded = 0

    def _next_image(self) -> np.ndarray | None:
        """The next decoded picture, rewinding at the end when looping; None at a true end.
        A packet that does not decode is skipped (a few at most), not the end of the clip."""
        for _ in range(3):
            try:
                picture = next(self._frames)
            except StopIteration:
                if not self.loop or self._decoded == 0:
                    return None
                self._container.close()
                self._open()
                continue
            except av.FFmpegError as error:
                log.warning("%s: skipping a frame that does not decode (%s)", self.path, error)
                continue
            self._decoded += 1
            return picture.to_ndarray(format="rgb24")
        return None

    def latest(self) -> Frame | None:
        if self._frames is None or self.finished:
            return self._last
        if self.realtime:
            due = int((time.perf_counter() - self._t_start) * self.fps)
            if self._last is not None and due < self._index:
                return self._last
            while self._index < due:  # drop frames whose moment has passed
                if self._next_image() is None:
                    break
                self._index += 1
        image = self._next_image()
        if image is None:
            self.finished = not self.loop
            return self._last
        self._last = Frame(image, time.perf_counter(), self._index)
        self._index += 1
        return self._last

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
            self._frames = None

    def __repr__(self) -> str:
        return f"VideoFileSource({str(self.path)!r})"


class ImageSource:
    """One still picture, handed out as a new frame (same image, fresh timestamp) each call."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.finished = False
        self._image: np.ndarray | None = None
        self._index = 0

    def start(self) -> None:
        self._image = read_image(self.path)

    def latest(self) -> Frame | None:
        if self._image is None:
            return None
        frame = Frame(self._image, time.perf_counter(), self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        self._image = None

    def __repr__(self) -> str:
        return f"ImageSource({str(self.path)!r})"


def read_image(path: Path) -> np.ndarray:
    """An RGB uint8 image, refusing corrupt files and decompression bombs with a clear error."""
    from PIL import Image

    try:
        with Image.open(path) as picture:
            width, height = picture.size
            if width * height > MAX_IMAGE_PIXELS:
                raise AssetError(f"{path}: {width}x{height} is larger than "
                                 f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels")
            return np.ascontiguousarray(np.asarray(picture.convert("RGB")))
    except FileNotFoundError:
        raise AssetError(f"{path}: no such image file") from None
    except (OSError, Image.DecompressionBombError, ValueError) as error:
        raise AssetError(f"{path}: not a readable image ({error})") from error
