"""Sinks from short specs (``persona run --sink virtualcam|y4m:/tmp/cam.y4m``).

A spec names one sink; ``a|b|c`` names alternatives tried in order, the first that opens wins —
"the virtual camera, or else a y4m pipe". When none opens, one SinkError lists why each failed;
when a later one wins, each skipped one is logged as a warning with its reason.

    null                      NullSink
    memory                    MemorySink
    window[:mirrored|:unmirrored]
                              the preview window (opened by engine.session, which owns GL),
                              shown as a mirror unless asked otherwise; other sinks always
                              get the picture as the camera sees it
    virtualcam[:BACKEND[:DEVICE]]
    y4m:PATH                  PATH may be a named pipe, or - for standard output
    record:PATH | PATH.mp4    H.264 MP4 with the voice
    PATH.webm | PATH.mov      the avatar over transparency, for compositing: VP9 with alpha,
                              or ProRes 4444 with the voice (engine.output.recorder)

This module is the only reader of that grammar: ``parse_sinks`` turns the text into
``SinkSpec`` values and ``make_sink`` turns a ``SinkSpec`` into a sink.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from engine.errors import ConfigError, DeviceError, SinkError
from engine.output.base import Sink
from engine.output.recorder import RECORDINGS, recording_kind

log = logging.getLogger(__name__)

SPEC_HELP = ("null, memory, window[:mirrored|:unmirrored], virtualcam[:BACKEND[:DEVICE]], "
             "y4m:PATH, record:PATH, PATH.mp4, PATH.webm or PATH.mov")

SinkKind = Literal["null", "memory", "window", "virtualcam", "y4m", "record"]
# Makes the sink for a recording from (path, audio_rate); the session passes one that applies
# the storage rules (engine.output.storage.StoredRecording).
RecorderMaker = Callable[[str, int | None], Sink]

_BARE = ("null", "memory", "window")  # kinds that take no argument
# The window's one option: people expect to see themselves as in a mirror; what the other side
# receives is never mirrored (text on a shirt or a sign must read the right way round).
_WINDOW_VIEWS = {"mirrored": True, "unmirrored": False}
_WITH_PATH = ("y4m", "record")


@dataclass(frozen=True)
class SinkSpec:
    """One parsed alternative of a sink spec."""

    kind: SinkKind
    path: str | None = None  # y4m, record
    backend: str | None = None  # virtualcam; None tries every backend
    device: str | None = None  # virtualcam; None takes the first free device
    mirrored: bool = True  # window: the preview shown as a mirror


def preview_spec(alternatives: Sequence[SinkSpec]) -> SinkSpec | None:
    """The window's spec when ``alternatives`` is the preview window alone (the session opens
    it, never ``make_sink``), else None."""
    if len(alternatives) == 1 and alternatives[0].kind == "window":
        return alternatives[0]
    return None


def parse_sink(text: str) -> SinkSpec:
    """One alternative (no ``|``). Raises a one-line ConfigError for a spec that is not one."""
    text = text.strip()
    kind, colon, rest = text.partition(":")
    if kind in _BARE and not colon:
        return SinkSpec(kind)
    if kind == "window" and rest in _WINDOW_VIEWS:
        return SinkSpec("window", mirrored=_WINDOW_VIEWS[rest])
    if kind == "virtualcam":
        backend, _, device = rest.partition(":")
        return SinkSpec("virtualcam", backend=backend or None, device=device or None)
    if kind in _WITH_PATH and rest:
        return SinkSpec(kind, path=rest)
    # Known kinds first: "y4m:clip.mp4" is a y4m stream; only other names ending .mp4 (or
    # another recording's suffix) record.
    if recording_kind(text) is not None:
        return SinkSpec("record", path=text)
    if not text:
        raise ConfigError(f"empty sink spec; expected one of: {SPEC_HELP}")
    if kind in _WITH_PATH:
        raise ConfigError(f"sink {text!r} needs a path: {kind}:PATH")
    if kind == "window":
        raise ConfigError(f"sink {text!r}: the window is window:mirrored (the default) or "
                          "window:unmirrored")
    if kind in _BARE:
        raise ConfigError(f"sink {kind!r} takes no argument, got {text!r}")
    raise ConfigError(f"unknown sink {text!r}; expected one of: {SPEC_HELP}")


def parse_sinks(text: str) -> list[SinkSpec]:
    """A spec's alternatives, in the order they are to be tried."""
    return [parse_sink(part) for part in text.split("|")]


def refuse_mixed_frames(specs: Sequence[Sequence[SinkSpec]], preview: bool = False) -> None:
    """ConfigError (one line) when a transparent recording (``PATH.webm``, ``PATH.mov``) is
    asked for beside any other output: one compositor makes one kind of frame, so the scene's
    background would be gone from the camera too, and a preview would show the avatar over
    black. Checked before anything opens, so a refused session leaves no file behind."""
    def transparent(spec: SinkSpec) -> bool:
        kind = recording_kind(spec.path) if spec.kind == "record" else None
        return kind is not None and RECORDINGS[kind].alpha

    alternatives = [spec for alternatives_of_one in specs for spec in alternatives_of_one]
    alpha = [spec for spec in alternatives if transparent(spec)]
    opaque = [spec.path or spec.kind for spec in alternatives if not transparent(spec)]
    opaque += ["the preview window"] * preview
    if alpha and opaque:
        raise ConfigError(f"{alpha[0].path}: a transparent recording takes the avatar alone; "
                          f"it cannot share a session with {', '.join(opaque)}")


def _plain_recording(path: str, audio_rate: int | None) -> Sink:
    """The default recorder: ``path`` as it is, without the storage rules (sessions make theirs
    with engine.output.storage.StoredRecording)."""
    from engine.output.recorder import RecorderSink

    return RecorderSink(path, audio_rate=audio_rate, timing="capture")


def make_sink(spec: SinkSpec | str, audio_rate: int | None = None,
              recorder: RecorderMaker = _plain_recording) -> Sink:
    """A new, unopened sink for one alternative. Raises ConfigError for a bad spec and for
    ``window``, which only the session can open.

    ``audio_rate`` gives recordings an audio track for the live voice; live recordings place
    frames and audio by their capture times. ``recorder`` makes the recording sinks.
    """
    if isinstance(spec, str):
        spec = parse_sink(spec)
    if spec.kind == "null":
        from engine.output.null import NullSink

        return NullSink()
    if spec.kind == "memory":
        from engine.output.memory import MemorySink

        return MemorySink()
    if spec.kind == "window":
        # The window owns the engine's GL context, so the session opens it (engine.session).
        raise ConfigError("the preview window is opened by the session (--preview), not as a "
                          "sink on its own")
    if spec.kind == "virtualcam":
        from engine.output.virtualcam import VirtualCameraSink

        return VirtualCameraSink(backend=spec.backend, device=spec.device)
    if spec.kind == "y4m":
        from engine.output.y4m import Y4MSink

        return Y4MSink(spec.path)
    return recorder(spec.path, audio_rate)


def first_working(candidates: Iterable[Sink], width: int, height: int,
                  fps: float) -> tuple[Sink, list[str]]:
    """Open the candidates in order; return the first that opens and, for each one skipped
    before it, ``"CANDIDATE: reason"``. The candidates after it stay unopened.

    Raises SinkError naming every candidate and why it failed.
    """
    reasons: list[str] = []
    for sink in candidates:
        try:
            sink.open(width, height, fps)
        except (DeviceError, OSError) as error:
            reasons.append(f"{sink!r}: {error}")
            sink.close()
            continue
        for reason in reasons:
            # A warning, not info: the user asked for the skipped output first and should
            # learn without --verbose that they got a fallback, and why.
            log.warning("skipped %s; using %r instead", reason, sink)
        return sink, reasons
    if not reasons:
        raise SinkError("no output was given")
    raise SinkError("no output could be opened — " + " | ".join(reasons))


class OpenedSinks(list[Sink]):
    """Open sinks, one per spec in order, and ``fallbacks``: one ``"CANDIDATE: reason"`` line
    for each alternative skipped on the way (for the HUD to show)."""

    def __init__(self, sinks: Iterable[Sink] = (), fallbacks: Iterable[str] = ()) -> None:
        super().__init__(sinks)
        self.fallbacks = list(fallbacks)


def open_sinks(specs: Iterable[str | Sequence[SinkSpec]], width: int, height: int, fps: float,
               audio_rate: int | None = None,
               recorder: RecorderMaker = _plain_recording) -> OpenedSinks:
    """Open one sink per spec — text, or alternatives from ``parse_sinks`` — for frames of
    this size; ``audio_rate`` and ``recorder`` are as for ``make_sink``.

    Every spec is parsed and made before any is opened, so a typo in the last one fails before
    a device opens. All or nothing: when one spec cannot be opened the sinks already open are
    closed again and the SinkError is raised.
    """
    made = [[make_sink(alternative, audio_rate, recorder)
             for alternative in (parse_sinks(spec) if isinstance(spec, str) else spec)]
            for spec in specs]
    opened = OpenedSinks()
    try:
        for alternatives in made:
            sink, skipped = first_working(alternatives, width, height, fps)
            opened.append(sink)
            opened.fallbacks += skipped
    except BaseException:
        for sink in opened:
            sink.close()
        raise
    return opened
