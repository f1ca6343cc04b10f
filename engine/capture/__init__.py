"""Video sources: webcam, video file, still image and a synthetic picture, behind ``Source``.

``open_source(spec)`` turns the ``--source`` text into a source (not yet started)::

    webcam              the first camera
    webcam:1            camera index 1
    webcam:Logitech     the camera whose name contains "Logitech"
    synthetic           a moving test picture, no camera needed
    PATH                a video (mp4, mov, mkv, webm, avi, y4m) or a still image
"""

from __future__ import annotations

from pathlib import Path

from engine.capture.base import Source
from engine.errors import ConfigError

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".y4m"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def open_source(spec: str, size: tuple[int, int] = (1280, 720), fps: float = 30.0,
                loop: bool = True, realtime: bool = True) -> Source:
    """A new, unstarted source for ``spec``; ConfigError for something unrecognisable."""
    kind, _, rest = spec.partition(":")
    if kind == "webcam":
        from engine.capture.webcam import WebcamSource

        return WebcamSource(rest or None, size, fps)
    if kind == "synthetic" and not rest:
        from engine.capture.synthetic import SyntheticSource

        return SyntheticSource(size, fps, realtime=realtime)
    suffix = Path(spec).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        from engine.capture.media import VideoFileSource

        return VideoFileSource(spec, loop=loop, realtime=realtime)
    if suffix in IMAGE_SUFFIXES:
        from engine.capture.media import ImageSource

        return ImageSource(spec)
    raise ConfigError(f"unknown source {spec!r}: expected webcam[:INDEX|NAME], synthetic, or a "
                      f"video ({', '.join(sorted(VIDEO_SUFFIXES))}) or image file")

from engine.capture.base import Source
from engine.capture.factory import open_source

__all__ = ["Source", "open_source"]
