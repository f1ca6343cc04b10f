"""A video file as a source, decoded with PyAV on demand.

Live use (``realtime=True``) plays the file by its own frame rate from the moment of ``start``,
as a camera delivers: a thread of its own decodes each frame when it is due and keeps only the
newest, so decoding and scaling (7 ms a frame for a 640x360 clip shown at 720p) never run on
the loop; ``latest`` returns the newest frame.
Offline renders (``realtime=False``) get one frame per call, none skipped. With ``loop`` the
file starts over at its end; without it ``finished`` turns True and ``latest`` returns None.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from engine.capture.fit import cover
from engine.errors import AssetError
from engine.capture.base import LiveSource
from engine.types import Frame

log = logging.getLogger(__name__)

MAX_SIDE = 8192  # refuse larger video from untrusted files


class VideoFileSource(LiveSource):
    """Frames of the video at ``path``; ``size`` (w, h) scales and centre-crops to that size.
    ``fps`` plays it at that rate instead of its own (a clip standing in for a 30 fps webcam)."""

    def __init__(self, path: str | os.PathLike, size: tuple[int, int] | None = None,
                 loop: bool = True, realtime: bool = True, fps: float | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.size = size
        self.loop = loop
        self.realtime = realtime
        self._rate = fps
        self.fps = 0.0
        self.finished = False
        self._container = None
        self._frames: Iterator | None = None
        self._position = 0  # frames decoded in the current pass through the file
        self._index = 0  # frames produced since start, across loops
        self._t_pass = 0.0  # perf_counter time at which the current pass began
        self._last: Frame | None = None
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()

    def start(self) -> None:
        try:
            self._container = av.open(str(self.path))
            stream = self._container.streams.video[0]
        except (OSError, av.FFmpegError, IndexError) as error:
            self.close()
            raise AssetError(f"video {self.path} cannot be read: {error}") from error
        context = stream.codec_context
        if not (0 < context.width <= MAX_SIDE and 0 < context.height <= MAX_SIDE):
            self.close()
            raise AssetError(f"video {self.path} has an unsupported size "
                             f"{context.width}x{context.height}")
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        self.fps = self._rate or (float(rate) if rate else 30.0)
        self._stream = stream
        self.finished = False
        self._index = 0
        self._rewind()
        if self.realtime:
            self._publish(self._decode(0))  # a frame to show from the start, as a camera has
            self._halt.clear()
            self._thread = threading.Thread(target=self._play, name=f"video:{self.path.name}",
                                            daemon=True)
            self._thread.start()

    def _rewind(self) -> None:
        self._container.seek(0)
        self._frames = self._container.decode(self._stream)
        self._position = 0
        self._t_pass = time.perf_counter()

    def latest(self) -> Frame | None:
        if self.realtime:
            return self._last
        if self._container is None or self.finished:
            return None
        return self._publish(self._decode(0))

    def _publish(self, decoded: np.ndarray | None) -> Frame | None:
        if decoded is None:
            return None
        self._last = Frame(image=decoded, t_capture=time.perf_counter(), index=self._index)
        self._index += 1
        self._announce(self._last)
        return self._last

    def _play(self) -> None:
        """The realtime thread: the frame due now, decoded when it is due; frames it was too
        slow for are skipped. Ends with the file (without ``loop``) or at ``close``."""
        while not self.finished:
            wait = self._t_pass + self._position / self.fps - time.perf_counter()
            if wait > 0 and self._halt.wait(wait):
                return
            if self._halt.is_set():
                return
            due = int((time.perf_counter() - self._t_pass) * self.fps)
            self._publish(self._decode(max(0, due - self._position)))

    def _decode(self, skip: int) -> np.ndarray | None:
        """Decode past ``skip`` frames and convert the next; handles the end of the file."""
        for attempt in range(2):
            try:
                for _ in range(skip):
                    next(self._frames)
                    self._position += 1
                video_frame = next(self._frames)
                self._position += 1
                return self._convert(video_frame)
            except StopIteration:
                if not self.loop or (attempt == 1) or self._position == 0:
                    self.finished = True
                    return None
                self._rewind()
                skip = 0
            except av.FFmpegError as error:
                # A damaged packet costs a frame, not the source.
                log.warning("video %s: skipping an undecodable frame: %s", self.path, error)
                return self._last.image if self._last is not None else None
        return None

    def _convert(self, video_frame) -> np.ndarray:
        if self.size is None:
            return video_frame.to_ndarray(format="rgb24")
        (scaled_w, scaled_h), (x, y) = cover((video_frame.width, video_frame.height), self.size)
        image = video_frame.to_ndarray(width=scaled_w, height=scaled_h, format="rgb24")
        if (scaled_w, scaled_h) == self.size:
            return image
        return np.ascontiguousarray(image[y:y + self.size[1], x:x + self.size[0]])

    def close(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._container is not None:
            self._container.close()
            self._container = None
        self._frames = None

    def __repr__(self) -> str:
        return f"VideoFileSource({str(self.path)!r})"
