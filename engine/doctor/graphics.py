"""The doctor's rendering check: which OpenGL renderer the session gets, and the frame time it
reaches, measured by rendering frames of the session's own scene through the real session
(``build_app`` with a scripted performer and an offline clock, as ``persona render`` does)."""

from __future__ import annotations

import dataclasses

from engine.config import Settings
from engine.doctor.findings import MISSING, OK, WARNING, Finding, within
from engine.errors import ConsentError, DeviceError, EngineError
from engine.scenes import Scene, load_scenes

FRAMES = 30
RENDER_TIMEOUT_S = 120.0  # start-up compiles shaders and loads the avatar: seconds on llvmpipe
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software rasterizer", "swiftshader")
# The live loop also tracks the face and runs the voice morph; below this share of the frame
# budget the offline frame time leaves them room.
HEADROOM = 0.8
GPU_FIX = ("install the graphics driver for your GPU (Mesa for Intel/AMD: apt install "
           "libegl1 libgl1-mesa-dri; NVIDIA: the vendor driver) and start Persona on that GPU")


def check_graphics(settings: Settings) -> list[Finding]:
    """Two findings: the renderer, and the measured frame time against the frame budget."""
    try:
        renderer, summary, scene = within(RENDER_TIMEOUT_S, lambda: _render(settings),
                                          "rendering")
    except DeviceError as error:  # no OpenGL context
        return [Finding("graphics", MISSING, "graphics", f"cannot render: {error}", GPU_FIX)]
    except ConsentError as error:
        return [Finding("graphics", WARNING, "frame rate", f"not measured: {error}",
                        "see the consent lines")]
    except EngineError as error:
        return [Finding("graphics", MISSING, "frame rate",
                        f"the starting scene cannot be shown: {error}",
                        "persona scenes check says what to fix")]
    software = any(name in renderer.lower() for name in SOFTWARE_RENDERERS)
    if software:
        graphics = Finding("graphics", WARNING, "graphics",
                           f"software rendering on the CPU ({renderer}): no GPU in use",
                           GPU_FIX, {"renderer": renderer})
    else:
        graphics = Finding("graphics", OK, "graphics", f"GPU: {renderer}",
                           figures={"renderer": renderer})
    return [graphics, _frame_rate(settings, summary, scene)]


def _frame_rate(settings: Settings, summary: dict[str, float], scene: str) -> Finding:
    budget_ms = 1000.0 / settings.fps
    frame_ms = float(summary["frame_ms_p50"])
    figures = {"frame_ms_p50": frame_ms, "frame_ms_p99": float(summary["frame_ms_p99"]),
               "budget_ms": round(budget_ms, 2), "frames": FRAMES}
    measured = (f"{frame_ms:.1f} ms per frame (median of {FRAMES}) for scene {scene!r} at "
                f"{settings.width}x{settings.height}; {settings.fps:g} fps needs "
                f"{budget_ms:.1f} ms")
    fix = ("close other programs, use the GPU if the graphics line says there is none in use, "
           "or ask for less: persona run --fps 25 or --size 960x540")
    if frame_ms <= HEADROOM * budget_ms:
        return Finding("graphics", OK, "frame rate", f"{measured}: reachable", figures=figures)
    if frame_ms <= budget_ms:
        return Finding("graphics", WARNING, "frame rate", f"{measured}: only just reachable, "
                       "with little left for face tracking and the voice", fix, figures)
    return Finding("graphics", WARNING, "frame rate",
                   f"{measured}: about {1000.0 / frame_ms:.0f} fps", fix, figures)


def session_scene(settings: Settings) -> Scene:
    """The scene a session starts in (the Director's rule: hotkey, name or file stem)."""
    scenes = load_scenes(settings.scenes_dir)
    for scene in scenes:
        if settings.scene in (scene.hotkey, scene.name) or (
                scene.path is not None and scene.path.stem == settings.scene):
            return scene
    if not scenes:
        raise EngineError("no scene files load; run persona scenes check")
    return scenes[0]


def _render(settings: Settings) -> tuple[str, dict[str, float], str]:
    from engine.capture.synthetic import SyntheticSource
    from engine.output.null import NullSink
    from engine.performer import ScriptedPerformer
    from engine.session import build_app, offline_clock

    scene = session_scene(settings)
    # What the doctor measures must not open a window, serve the control page, take global
    # hotkeys or write files.
    settings = dataclasses.replace(settings, preview=False, control=False, control_lan=None,
                                   global_keys={}, dev=False, record_track=None, audit_log=None)
    # Only the starting scene: preloading every avatar would time start-up, not frames.
    session = build_app(settings, source=SyntheticSource(settings.size, settings.fps,
                                                         realtime=False),
                        tracker=ScriptedPerformer(loop=True, frame_rate=settings.fps),
                        sinks=[NullSink()], clock=offline_clock(settings.fps), scenes=[scene],
                        realtime=False)
    try:
        renderer = str(session.gl.ctx.info.get("GL_RENDERER", "unknown"))
        session.app.run(max_frames=FRAMES)
        return renderer, session.app.stats.summary(), scene.name
    finally:
        session.close()
