"""``persona bench loop``: the live loop, paced in real time, on the synthetic source with the
scripted performer driving the default scene at 1280x720 and 30 fps into a null sink."""

from __future__ import annotations

from engine.capture.synthetic import SyntheticSource
from engine.clock import FrameStats
from engine.config import Settings
from engine.output.null import NullSink
from engine.performer import ScriptedPerformer
from engine.session import build_app

WARM_UP_FRAMES = 30


def bench_loop(seconds: float | None) -> dict[str, float]:
    seconds = 60.0 if seconds is None else seconds
    settings = Settings(source="synthetic", sinks=[], scene="default", use="demo")
    session = build_app(settings, source=SyntheticSource(settings.size, settings.fps),
                        tracker=ScriptedPerformer(), sinks=[NullSink()])
    try:
        app = session.app
        app.run(max_frames=WARM_UP_FRAMES)  # shader compiles and first uploads are not the loop
        frames = int(seconds * settings.fps)
        app.stats = FrameStats(window=frames)
        late, dropped = app.clock.late_frames, app.clock.dropped_frames
        app.run(max_frames=frames)
        figures = app.stats.summary()
        figures["late_frames"] = float(app.clock.late_frames - late)
        figures["dropped_frames"] = float(app.clock.dropped_frames - dropped)
    finally:
        session.close()
    return {"seconds": seconds, "width": float(settings.width), "height": float(settings.height),
            "target_fps": settings.fps, **figures}
