"""Transparent output for compositing in OBS and video editors: the avatar with its alpha.

A session renders transparent when its compositor is asked to
(``Compositor.set_transparent``): the scene's layer is cleared to transparent black instead of
the background and the finished frame is RGBA, premultiplied, as GL blended it. These sinks take
such frames (``channels = 4``), turn them into straight alpha (what PNG and video codecs carry)
and write:

    PATH.webm      VP9 with alpha (libvpx-vp9, yuva420p): small, plays in browsers and OBS;
                   decode it with the libvpx decoder (FFmpeg's own VP9 decoder drops alpha)
    PATH.mov       ProRes 4444 (prores_ks, yuva444p10le): what editors import
    NAME%05d.png   a PNG sequence, one RGBA file per frame

Every file is made fresh (``engine.safe_write.create_new``): nothing is overwritten.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import cv2
import numpy as np

from engine.errors import ConfigError, SinkError
from engine.output.base import BaseSink
from engine.safe_write import create_new
from engine.types import Frame

# suffix → (container format, encoder, pixel format, encoder options)
VIDEO_FORMATS: dict[str, tuple[str, str, str, dict[str, str]]] = {
    # auto-alt-ref off: libvpx refuses alternate reference frames together with alpha.
    ".webm": ("webm", "libvpx-vp9", "yuva420p",
              {"auto-alt-ref": "0", "crf": "30", "b": "0", "deadline": "realtime",
               "cpu-used": "8"}),
    ".mov": ("mov", "prores_ks", "yuva444p10le", {"profile": "4444", "vendor": "apl0"}),
}


def is_alpha_output(path: str | os.PathLike) -> bool:
    """Whether ``path`` names an output these sinks write (by suffix, or a %d PNG pattern)."""
    name = str(path)
    suffix = Path(name).suffix.lower()
    return suffix in VIDEO_FORMATS or (suffix == ".png" and _is_pattern(name))


def _is_pattern(name: str) -> bool:
    try:
        return name % 0 != name % 1
    except (TypeError, ValueError):
        return False


def make_alpha_sink(path: str | os.PathLike, stream: BinaryIO | None = None) -> BaseSink:
    """The alpha sink for ``path`` (a video written to ``stream`` when given, e.g. a render's
    staged file); ConfigError (one line) for a name no alpha sink writes."""
    name = str(path)
    if Path(name).suffix.lower() in VIDEO_FORMATS:
        return AlphaVideoSink(name, stream)
    if Path(name).suffix.lower() == ".png" and _is_pattern(name):
        return PngSequenceSink(name)
    raise ConfigError(f"{name}: transparent output must end in .webm or .mov, or be a PNG "
                      "sequence pattern such as frames/avatar_%05d.png")


def straight_alpha(rgba: np.ndarray) -> np.ndarray:
    """Premultiplied (H, W, 4) uint8 RGBA → straight alpha, as a new array. Fully transparent
    pixels become transparent black."""
    alpha = rgba[..., 3:4].astype(np.float32)
    scale = np.divide(255.0, alpha, out=np.zeros_like(alpha), where=alpha > 0)
    rgb = np.minimum(rgba[..., :3] * scale + 0.5, 255.0).astype(np.uint8)
    return np.concatenate([rgb, rgba[..., 3:4]], axis=2)


class AlphaVideoSink(BaseSink):
    """VP9-with-alpha WebM or ProRes 4444 MOV, chosen by ``path``'s suffix, written to a new
    file at ``path`` or to ``stream`` (seekable, for MOV's index)."""

    channels = 4

    def __init__(self, path: str | os.PathLike, stream: BinaryIO | None = None) -> None:
        super().__init__()
        self.path = str(path)
        self.stream = stream
        self.failure: Exception | None = None  # what stopped the encoder, if anything
        suffix = Path(self.path).suffix.lower()
        if suffix not in VIDEO_FORMATS:
            raise ConfigError(f"{self.path}: a transparent video must end in "
                              f"{' or '.join(VIDEO_FORMATS)}")
        self._format = VIDEO_FORMATS[suffix]
        self._file = None
        self._container = None
        self._stream = None

    def _open(self, width: int, height: int, fps: float) -> None:
        container_format, codec, pix_fmt, options = self._format
        if width % 2 or height % 2:
            raise SinkError(f"{self.path}: {pix_fmt} needs even width and height, got "
                            f"{width}x{height}")
        self._file = self.stream or create_new(self.path)
        try:
            self._container = av.open(self._file, mode="w", format=container_format)
            rate = Fraction(fps).limit_denominator(1001)
            stream = self._container.add_stream(codec, rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            stream.time_base = 1 / rate
            stream.options = dict(options)
            self._stream = stream
        except (av.FFmpegError, ValueError) as error:
            self._release()
            raise SinkError(f"{self.path}: cannot write {codec}: {error}") from error

    def _write(self, frame: Frame) -> None:
        if self.failure is not None:
            return
        picture = av.VideoFrame.from_ndarray(straight_alpha(frame.image), format="rgba")
        picture.pts = self.frames_written
        try:
            self._container.mux(self._stream.encode(picture))
        except (av.FFmpegError, OSError) as error:  # kept: a render checks it and fails
            self.failure = error
            raise SinkError(f"{self.path}: {error}") from error

    def _close(self) -> None:
        try:
            if self.failure is None:
                self._container.mux(self._stream.encode(None))
        finally:
            self._release()

    def _release(self) -> None:
        if self._container is not None:
            self._container.close()
        if self.stream is None:  # a stream given to us is its owner's to close
            self._file.close()

    def __repr__(self) -> str:
        return f"AlphaVideoSink({self.path!r})"


class PngSequenceSink(BaseSink):
    """One RGBA PNG per frame, named by ``pattern % frame_number`` (``avatar_%05d.png``)."""

    channels = 4

    def __init__(self, pattern: str) -> None:
        super().__init__()
        if not _is_pattern(pattern):
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
