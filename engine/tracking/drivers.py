"""Face-input drivers by name: ``mediapipe``, ``mediapipe:mirror-average``, ``replay:PATH``,
``vmc`` or ``vmc:PORT``.

The app hands the user's choice (the ``tracker`` setting, or ``PERSONA_TRACKER``) here and gets
a ``Tracker``; each driver's heavy imports happen only when that driver is chosen.
"""

from __future__ import annotations

from engine.errors import ConfigError
from engine.tracking.base import Tracker

KINDS = ("mediapipe", "mediapipe:mirror-average", "replay:PATH", "vmc[:PORT]")


def open_tracker(spec: str = "mediapipe") -> Tracker:
    """A tracker for ``spec``: ``mediapipe`` (the camera, its frames and their mirror images seen
    in turn), ``mediapipe:mirror-average`` (the camera, each frame also seen mirrored and the
    two averaged: mirror-consistent expressions on every frame, not only once the face holds
    still, for about 2.4x the tracking cost, for a machine with a core to spare),
    ``replay:PATH`` (a track file, looping) or ``vmc`` / ``vmc:PORT`` (VMC/OSC on 127.0.0.1,
    default port 39539)."""
    kind, _, argument = spec.partition(":")
    if kind == "mediapipe" and argument in ("", "mirror-average"):
        from engine.tracking.mediapipe_tracker import MediaPipeTracker

        return MediaPipeTracker(looks="both" if argument == "mirror-average" else "alternate")
    if kind == "replay" and argument:
        from engine.tracking.replay import ReplayTracker

        return ReplayTracker(argument, loop=True)
    if kind == "vmc":
        from engine.tracking.vmc import DEFAULT_PORT, VMCTracker

        if not argument:
            return VMCTracker(DEFAULT_PORT)
        if argument.isdigit() and 0 < int(argument) < 65536:
            return VMCTracker(int(argument))
        raise ConfigError(f"tracker {spec!r}: VMC port must be a number from 1 to 65535")
    raise ConfigError(f"unknown tracker {spec!r}; expected one of: {', '.join(KINDS)}")
