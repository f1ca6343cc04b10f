"""Track files: record what the tracker saw, and replay it later as a ``Tracker``.

A track file is JSON lines. The first line is a header, ``{"format": "persona-track",
"version": 1}``; every other line is one frame: ``{"t": seconds since the first frame,
"found": bool, "head": 16 floats (row-major 4x4), "blendshapes": 52 floats in ARKit order,
"gaze": [yaw, pitch], "confidence": float}``. Landmarks are left out on purpose: they are a
biometric of the person and the avatar does not need them.

The recorder writes through whatever file-like object the caller gives (the app wraps it in
encryption); the replayer reads a path or a file object and refuses malformed input with the
line number, never hanging on it.
"""

from __future__ import annotations

import io
import json
import math
import os
from typing import IO

import numpy as np

from engine.errors import ConfigError
from engine.types import NUM_BLENDSHAPES, FaceState, Frame

FORMAT = "persona-track"
VERSION = 1
MAX_LINE_BYTES = 64 * 1024  # a frame is ~1 kB; anything far larger is not a track file
MAX_FRAMES = 2_000_000  # ~18 hours at 30 fps


class TrackRecorder:
    """Writes one line per ``FaceState`` to a text or binary file-like object."""

    def __init__(self, sink: IO) -> None:
        self._sink = sink
        self._binary = not isinstance(sink, io.TextIOBase)
        self._t0: float | None = None
        self._write({"format": FORMAT, "version": VERSION})

    def write(self, face: FaceState) -> None:
        if self._t0 is None:
            self._t0 = face.t
        record = {
            "t": round(face.t - self._t0, 6),
            "found": bool(face.found),
            "head": [round(float(v), 6) for v in np.asarray(face.head).ravel()],
            "blendshapes": [round(float(v), 5) for v in face.blendshapes],
            "gaze": [round(float(v), 6) for v in face.gaze],
            "confidence": round(float(face.confidence), 4),
        }
        self._write(record)

    def _write(self, record: dict) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        self._sink.write(line.encode() if self._binary else line)

    def flush(self) -> None:
        self._sink.flush()


def record_track(sink: IO) -> TrackRecorder:
    """A recorder for ``persona run --record-track``: call ``.write(face)`` once per frame."""
    return TrackRecorder(sink)


def _parse_frame(line: str, where: str) -> tuple[float, FaceState]:
    try:
        data = json.loads(line)
        t = float(data["t"])
        found = bool(data["found"])
        head = np.array(data["head"], np.float32).reshape(4, 4)
        shapes = np.array(data["blendshapes"], np.float32)
        gaze = np.array(data["gaze"], np.float32).reshape(2)
        confidence = float(data.get("confidence", 1.0 if found else 0.0))
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{where}: not a track frame ({error})") from error
    if shapes.shape != (NUM_BLENDSHAPES,):
        raise ConfigError(f"{where}: blendshapes has {shapes.size} values, "
                          f"expected {NUM_BLENDSHAPES}")
    if not (math.isfinite(t) and np.isfinite(head).all() and np.isfinite(shapes).all()
            and np.isfinite(gaze).all()):
        raise ConfigError(f"{where}: non-finite number")
    face = FaceState(t=t, found=found, head=head, blendshapes=np.clip(shapes, 0.0, 1.0),
                     gaze=gaze, confidence=confidence)
    return t, face


def read_track(source: str | os.PathLike | IO) -> list[tuple[float, FaceState]]:
    """Every frame of a track file as (seconds since start, FaceState), in time order."""
    is_path = isinstance(source, (str, os.PathLike))
    name = str(source) if is_path else getattr(source, "name", "track")
    if is_path:
        try:
            stream: IO = open(source, "rb")
        except OSError as error:
            raise ConfigError(f"{name}: cannot open track file ({error.strerror})") from error
    else:
        stream = source
    frames: list[tuple[float, FaceState]] = []
    try:
        for number in range(1, MAX_FRAMES + 2):
            raw = stream.readline(MAX_LINE_BYTES + 1)
            if not raw:
                break
            line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            if len(line) > MAX_LINE_BYTES:
                raise ConfigError(f"{name}:{number}: line longer than {MAX_LINE_BYTES} bytes")
            if number == 1:
                try:
                    header = json.loads(line)
                except ValueError as error:
                    raise ConfigError(f"{name}:1: not a persona track file ({error})") from error
                if not isinstance(header, dict) or header.get("format") != FORMAT:
                    raise ConfigError(f"{name}:1: not a persona track file (no {FORMAT!r} header)")
                if header.get("version") != VERSION:
                    raise ConfigError(f"{name}:1: track version {header.get('version')!r}, "
                                      f"this Persona reads {VERSION}")
                continue
            if line.strip():
                frames.append(_parse_frame(line, f"{name}:{number}"))
        else:
            raise ConfigError(f"{name}: more than {MAX_FRAMES} frames")
    finally:
        if is_path:
            stream.close()
    if not frames:
        raise ConfigError(f"{name}: track file has no frames")
    frames.sort(key=lambda item: item[0])
    return frames


class ReplayTracker:
    """``Tracker`` that plays a track file back in real time, from the first ``track`` call.

    Each call returns the recorded frame due at the elapsed time (capture clock of the frames it
    is given), re-stamped with that frame's time. Past the end it loops or reports no face.
    """

    def __init__(self, source: str | os.PathLike | IO, loop: bool = True) -> None:
        self._frames = read_track(source)
        self._times = np.array([t for t, _ in self._frames])
        self._loop = loop
        self._start: float | None = None

    @property
    def duration(self) -> float:
        return float(self._times[-1])

    def track(self, frame: Frame) -> FaceState:
        if self._start is None:
            self._start = frame.t_capture
        elapsed = frame.t_capture - self._start
        if self._loop and self.duration > 0:
            elapsed %= self.duration + 1e-6
        elif elapsed > self.duration + 0.5:
            return FaceState.lost(frame.t_capture)
        index = max(0, int(np.searchsorted(self._times, elapsed, side="right")) - 1)
        recorded = self._frames[index][1]
        return FaceState(t=frame.t_capture, found=recorded.found, head=recorded.head,
                         blendshapes=recorded.blendshapes, gaze=recorded.gaze,
                         confidence=recorded.confidence)

    def close(self) -> None:
        pass

