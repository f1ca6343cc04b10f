"""Sources from short specs (``persona run --source webcam:0``)."""

from __future__ import annotations

from pathlib import Path

from engine.capture.base import Source
from engine.errors import AssetError, ConfigError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
SPEC_HELP = "webcam, webcam:INDEX, webcam:NAME, synthetic, or the path of a video or image"


def open_source(spec: str, size: tuple[int, int] = (1280, 720), fps: float = 30.0,
                loop: bool = True, realtime: bool = True) -> Source:
    """A new, not yet started source for ``spec``; call ``start()`` to open it.

    ``size`` and ``fps`` are what the engine runs at (asked of webcams, rendered by the synthetic
    source, fitted for files). ``loop``/``realtime`` apply to video files and the synthetic source.
    """
    kind, _, rest = spec.partition(":")
    if kind == "synthetic" and not rest:
        from engine.capture.synthetic import SyntheticSource

        return SyntheticSource(size, fps, realtime=realtime)
    if kind == "webcam":
        from engine.capture.webcam import WebcamSource

        device: int | str = int(rest) if rest.isdigit() else (rest or 0)
        return WebcamSource(device, size, fps)
    path = Path(spec).expanduser()
    if path.suffix.lower() in IMAGE_SUFFIXES or path.exists():
        if not path.is_file():
            raise AssetError(f"source {spec}: " + ("not a regular file" if path.exists()
                                                   else "no such file"))
        if path.suffix.lower() in IMAGE_SUFFIXES:
            from engine.capture.image import ImageSource

            return ImageSource(path, size)
        from engine.capture.video import VideoFileSource

        return VideoFileSource(path, size, loop=loop, realtime=realtime)
    if path.suffix:
        raise AssetError(f"source {spec}: no such file")
    raise ConfigError(f"unknown source {spec!r}; expected {SPEC_HELP}")
