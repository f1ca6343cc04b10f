"""Sinks from short specs (``persona run --sink virtualcam|y4m:/tmp/cam.y4m``).

A spec names one sink; ``a|b|c`` names alternatives tried in order, the first that opens wins —
"the virtual camera, or else a y4m pipe". When none opens, one SinkError lists why each failed.

    null                      NullSink
    memory                    MemorySink
    window                    the preview window (opened by engine.session, which owns GL)
    virtualcam[:BACKEND[:DEVICE]]
    y4m:PATH                  PATH may be a named pipe, or - for standard output
    record:PATH | PATH.mp4    H.264 MP4
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from engine.errors import ConfigError, DeviceError, SinkError
from engine.output.base import Sink

log = logging.getLogger(__name__)

SPEC_HELP = "null, memory, window, virtualcam[:BACKEND[:DEVICE]], y4m:PATH, record:PATH or PATH.mp4"


def make_sink(spec: str, audio_rate: int | None = None) -> Sink:
    """A new, unopened sink for one spec (no ``|``). Raises ConfigError for an unknown spec.

    ``audio_rate`` gives recorders an audio track for the live voice; live recordings place
    frames and audio by their capture times.
    """
    kind, _, rest = spec.strip().partition(":")
    if kind == "null" and not rest:
        from engine.output.null import NullSink

        return NullSink()
    if kind == "memory" and not rest:
        from engine.output.memory import MemorySink

        return MemorySink()
    if kind == "window" and not rest:
        # The window owns the engine's GL context, so the session opens it (engine.session).
        raise ConfigError("the preview window is opened by the session (--preview), not as a "
                          "sink on its own")
    if kind == "virtualcam":
        from engine.output.virtualcam import VirtualCameraSink

        backend, _, device = rest.partition(":")
        return VirtualCameraSink(backend=backend or None, device=device or None)
    if kind == "y4m" and rest:
        from engine.output.y4m import Y4MSink

        return Y4MSink(rest)
    if (kind == "record" and rest) or spec.lower().endswith(".mp4"):
        from engine.output.recorder import RecorderSink

        return RecorderSink(rest if kind == "record" else spec, audio_rate=audio_rate,
                            timing="capture")
    raise ConfigError(f"unknown sink {spec!r}; expected one of: {SPEC_HELP}")


def first_working(candidates: Iterable[Sink], width: int, height: int, fps: float) -> Sink:
    """Open the candidates in order and return the first that opens; the others stay unopened.

    Raises SinkError naming every candidate and why it failed.
    """
    reasons = []
    for sink in candidates:
        try:
            sink.open(width, height, fps)
        except (DeviceError, OSError) as error:
            reasons.append(f"{sink!r}: {error}")
            log.info("sink %r unavailable: %s", sink, error)
            sink.close()
            continue
        return sink
    if not reasons:
        raise SinkError("no output was given")
    raise SinkError("no output could be opened — " + " | ".join(reasons))


def open_sinks(specs: Iterable[str], width: int, height: int, fps: float,
               audio_rate: int | None = None) -> list[Sink]:
    """Open one sink per spec (each spec may list ``|`` alternatives) for frames of this size.

    All or nothing: when one spec cannot be opened the sinks already open are closed again and
    the SinkError is raised.
    """
    opened: list[Sink] = []
    try:
        for spec in specs:
            alternatives = [make_sink(part, audio_rate) for part in spec.split("|")]
            opened.append(first_working(alternatives, width, height, fps))
    except BaseException:
        for sink in opened:
            sink.close()
        raise
    return opened
