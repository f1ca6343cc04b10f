"""Frames from an image or video file, for the command line and the benchmark.

Images are read with Pillow, videos with PyAV; either way frames come out as engine ``Frame``s
with ``t_capture`` in seconds from the start of the file. Errors name the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine.errors import AssetError
from engine.types import Frame

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def is_image(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint8 RGB, through the one bounded image reader."""
    from engine.images import read_image as read_bounded

    return np.ascontiguousarray(np.asarray(read_bounded(path)))


def open_video(path: str | os.PathLike, label: str | None = None):
    """The PyAV container of a video file that has a video stream; errors name ``label``
    (default: the path)."""
    import av

    label = label or str(path)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as error:
        raise AssetError(f"{label}: cannot open video ({error})") from error
    if not container.streams.video:
        container.close()
        raise AssetError(f"{label}: has no video stream")
    return container


def read_frames(path: str | os.PathLike, max_frames: int | None = None) -> Iterator[Frame]:
    """Every frame of an image (one) or video file, in order."""
    if not Path(path).is_file():
        raise AssetError(f"{path}: no such file")
    if is_image(path):
        yield Frame(read_image(path), 0.0, 0)
        return
    import av

    with open_video(path) as container:
        stream = container.streams.video[0]
        try:
            for index, frame in enumerate(container.decode(stream)):
                if max_frames is not None and index >= max_frames:
                    return
                if frame.time is not None:
                    t = float(frame.time)
                else:
                    t = index / float(stream.average_rate or 30)
                yield Frame(np.ascontiguousarray(frame.to_ndarray(format="rgb24")), t, index)
        except av.FFmpegError as error:
            raise AssetError(f"{path}: video decoding failed at frame {index} ({error})") from error
