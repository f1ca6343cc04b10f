"""A few frames of a real session, for tests of what sessions write: the same ``build_app`` a
live run uses, driven the way offline renders drive it (synthetic camera, scripted face, a clock
that never sleeps), with one scene so no scene file or second avatar is loaded. The camera
stamps its frames on that clock's time (frame k at k / fps), so a live recorder, which places
frames by those stamps, gets one frame per slot."""

from __future__ import annotations

from pathlib import Path

import av

from engine.capture.synthetic import SyntheticSource
from engine.config import Settings
from engine.performer import ScriptedPerformer
from engine.scenes import Scene
from engine.session import build_app, offline_clock
from engine.types import Frame


class ClockedSource(SyntheticSource):
    """The synthetic camera, frame k stamped k / fps: the offline clock's time."""

    def latest(self) -> Frame:
        frame = super().latest()
        return Frame(frame.image, frame.index / self.fps, frame.index)


def session_settings(folder: Path, sinks: list[str], **values) -> Settings:
    """Small, fast settings whose audit log is ``folder/audit.jsonl``."""
    return Settings(width=128, height=96, fps=30.0, source="synthetic", sinks=sinks,
                    audit_log=str(folder / "audit.jsonl"), **values)


def run_session(settings: Settings, frames: int = 4) -> None:
    """Build the session from ``settings`` (its sinks from their specs), run, close."""
    session = build_app(settings,
                        source=ClockedSource(settings.size, settings.fps, realtime=False),
                        tracker=ScriptedPerformer(frame_rate=settings.fps),
                        clock=offline_clock(settings.fps),
                        scenes=[Scene("default", avatar="default")], realtime=False)
    try:
        session.app.run(max_frames=frames)
    finally:
        session.close()


def decoded_frames(path: Path) -> int:
    """How many video frames PyAV decodes from ``path`` (raises when it is not a video)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))
