"""``persona bench e2e``: camera to consumer, as a live session runs it.

Each case is the whole app ``persona run`` builds at 1280x720 and 30 fps, paced by the real
clock: the shared Pexels clip played as the camera (``VideoFileSource``, realtime) at its own rate,
23.976 fps, or in the ``_30fps`` cases at 30 fps as a webcam delivers (a quarter fast), real
MediaPipe tracking on its worker, one scene, and one sink with a consumer on the other end:

* ``y4m`` — a named pipe, read and thrown away by a thread (what OBS or ffmpeg would do);
* ``virtualcam`` — the pyvirtualcam sink with the device faked at pyvirtualcam's backend
  boundary (there is no v4l2loopback here): the library's own format conversion runs.

Figures per case, keys ``<case>_<sink>_<figure>``: capture→output latency p50/p99 (from the
capture timestamp each frame carries to the moment the sink has it), the face's latency p50/p99
(from the capture of the frame the shown face was tracked on: the avatar's lag), fps, the share
of frames on time, and the process's CPU time per frame summed over all its threads (loop,
llvmpipe, MediaPipe, decoder, sinks: on a machine shared with other work the steadier figure,
since wall times there measure the neighbours too), and whether the loop's frames were locked to
the camera's at the end (``camera_locked``, ``phase_error_ms``: engine.camera_lock); warm-up
(shader compiles, the tracker's first frames, the lock's first second) is left out.

``vrm_upper_body`` is the Godette VRM from the shared assets (a drawn character, CC-BY: copied
into a temporary avatar folder whose manifest says it depicts no real person) with the arms
followed too (MediaPipe Pose beside the face mesh on the tracking worker, the upper-body shot);
it is left out with a warning where the file is missing.

``neural`` is the shipped reenactment avatar (marlow-neural): its model runs on a worker and the
loop draws the newest picture, so its figures are the loop's; how fast and how late the model's
own pictures come is ``persona bench neural``'s.

The photo and face-swap cases use skimage's astronaut, built into a temporary folder and signed
there with a throwaway key for the benchmark's use only ("demo"): the session checks consent as
it would for any real person's likeness. The folder and key are deleted afterwards.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from engine.clock import FrameStats
from engine.errors import ResourceNotFound
from engine.resources import SHARED_ASSETS

log = logging.getLogger(__name__)

CLIP = SHARED_ASSETS / "video" / "WolfgangLanger_Pexels.mp4"
SIZE = (1280, 720)
FPS = 30.0
WARM_UP_S = 2.0
FAKE_BACKEND = "persona-bench"


@dataclass(frozen=True)
class Case:
    name: str  # figure prefix
    scene: str  # shipped scene file stem
    camera: str | None = None  # the camera backdrop to use instead of the scene's own
    avatar: str | None = None  # an avatar folder to use instead of the scene's
    camera_fps: float | None = None  # the clip played at this rate instead of its own
    upper_body: bool = False  # follow the arms too (MediaPipe Pose on the tracking worker)


# Built at run time (``_measurement_avatars``).
PHOTO, FACESWAP, GODETTE = "<photo>", "<faceswap>", "<godette>"
GODETTE_FILE = SHARED_ASSETS / "vrm" / "Godette_vrm_v4.vrm"  # a VRM humanoid with arms to follow
CASES = (
    Case("gltf_colour", "default"),
    Case("gltf_expressive", "expressive"),  # the default avatar, larger in the frame
    Case("gltf_character", "character"),  # the toon persona
    Case("gltf_blur", "privacy", camera="blur"),
    Case("gltf_segmented", "privacy", camera="segmented"),
    Case("photo", "default", avatar=PHOTO),
    Case("faceswap", "default", avatar=FACESWAP),
    Case("vrm_upper_body", "default", avatar=GODETTE, upper_body=True),
    Case("neural", "default", avatar="marlow-neural"),  # the shipped reenactment model
    # A webcam's rate is the loop's: the loop's frames lock to the camera's (engine.camera_lock).
    Case("gltf_colour_30fps", "default", camera_fps=30.0),
    Case("photo_30fps", "default", avatar=PHOTO, camera_fps=30.0),
)


class _DiscardingBackend:
    """pyvirtualcam's device end, faked: takes I420 frames (what v4l2loopback consumers such as
    Chrome and Zoom read, so the sink pays for the conversion) and drops them."""

    def __init__(self, *, width, height, fps, fourcc, device, **options) -> None:
        import pyvirtualcam

        if pyvirtualcam.camera.decode_fourcc(fourcc) != pyvirtualcam.PixelFormat.I420.value:
            raise RuntimeError("format not supported")

    def send(self, frame) -> None:
        """The driver would copy it to the device."""

    def close(self) -> None:
        """Nothing to release."""

    def device(self) -> str:
        return "/dev/null"

    def native_fourcc(self):
        import pyvirtualcam

        return pyvirtualcam.camera.encode_fourcc("I420")


class _PipeReader(threading.Thread):
    """Opens the named pipe for reading and throws away what arrives, until closed."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="e2e-pipe-reader", daemon=True)
        self.path = path
        self.bytes = 0

    def run(self) -> None:
        with open(self.path, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 20):
                self.bytes += len(chunk)


def _sink(kind: str, folder: Path):
    if kind == "y4m":
        from engine.output.y4m import Y4MSink

        path = folder / "camera.y4m"
        os.mkfifo(path)
        reader = _PipeReader(path)
        reader.start()
        return Y4MSink(str(path))
    from engine.output.virtualcam import VirtualCameraSink

    return VirtualCameraSink(backend=FAKE_BACKEND)


def _measurement_avatars(folder: Path) -> dict[str, str]:
    """The astronaut as a photo avatar and as a face-swap persona, signed for "demo"; and Godette
    in an avatar folder of her own when the shared assets have her."""
    import skimage.data

    from engine.avatar.photo.build import build_signed_photo_avatar
    from engine.safety.likeness import Consent

    key = folder / "measurement.key"
    consent = Consent(person="astronaut (skimage sample)", consented_by="benchmark only",
                      uses=("demo",))
    # Only the face swap is animated with the camera picture, so only its consent says so.
    built = {kind: build_signed_photo_avatar(skimage.data.astronaut(), "astronaut", "astronaut",
                                             folder / kind, replace(consent, camera=camera), key,
                                             kind=kind)
             for kind, camera in (("photo", None), ("faceswap", True))}
    avatars = {PHOTO: str(built["photo"]), FACESWAP: str(built["faceswap"])}
    if GODETTE_FILE.is_file():
        godette = folder / "godette"
        godette.mkdir()
        shutil.copyfile(GODETTE_FILE, godette / GODETTE_FILE.name)
        (godette / "avatar.toml").write_text(
            f'kind = "gltf"\nmodel = "{GODETTE_FILE.name}"\n'
            'description = "Godette, a drawn character (CC-BY sample); the benchmark\'s copy."\n'
            '[consent]\nlikeness = "synthetic"\n')
        avatars[GODETTE] = str(godette)
    return avatars


def _scene(case: Case, avatars: dict[str, str]):
    from engine.scenes import load_scenes

    scene = next((s for s in load_scenes() if s.path is not None and s.path.stem == case.scene),
                 None)
    if scene is None:
        raise ResourceNotFound(f"no shipped scene {case.scene!r}")
    if case.camera is not None:
        scene = replace(scene, background=replace(scene.background, camera=case.camera))
    if case.avatar is not None:
        scene = replace(scene, avatar=avatars.get(case.avatar, case.avatar))
    if case.upper_body:
        scene = replace(scene, upper_body=True, framing=replace(scene.framing, shot="upper_body"))
    return scene


def run_case(case: Case, sink_kind: str, seconds: float,
             avatars: dict[str, str] | None = None) -> dict[str, float]:
    from engine.capture.video import VideoFileSource
    from engine.config import Settings
    from engine.session import build_app, make_tracker

    settings = Settings(width=SIZE[0], height=SIZE[1], fps=FPS, source=str(CLIP), sinks=[],
                        use="demo", scene=case.scene)
    with tempfile.TemporaryDirectory(prefix="persona-e2e-") as folder:
        session = build_app(settings, source=VideoFileSource(CLIP, SIZE, realtime=True,
                                                             fps=case.camera_fps),
                            tracker=make_tracker(settings, realtime=True),
                            sinks=[_sink(sink_kind, Path(folder))],
                            scenes=[_scene(case, avatars or {})])
        try:
            app = session.app
            app.run(max_frames=int(WARM_UP_S * FPS))
            frames = int(seconds * FPS)
            app.stats = FrameStats(window=frames)
            cpu_start = time.process_time()
            app.run(max_frames=frames)
            cpu_ms = (time.process_time() - cpu_start) / frames * 1000.0
            figures = app.stats.summary()
            lock = app.phase_lock
        finally:
            session.close()
    kept = {key: figures[key] for key in ("latency_ms_p50", "latency_ms_p99",
                                          "face_latency_ms_p50", "face_latency_ms_p99", "fps",
                                          "on_time_pct", "frame_ms_p50", "frame_ms_p99")}
    result = {**kept, "cpu_ms_per_frame": round(cpu_ms, 2), "camera_locked": float(lock.locked)}
    if lock.locked:
        result["phase_error_ms"] = round(abs(lock.error_s) * 1e3, 2)
    return result


def bench_e2e(seconds: float | None) -> dict[str, float]:
    import pyvirtualcam

    if not CLIP.is_file():
        raise ResourceNotFound(f"the benchmark plays {CLIP} as its camera; it is missing")
    seconds = 8.0 if seconds is None else seconds
    pyvirtualcam.register_backend(FAKE_BACKEND, _DiscardingBackend)
    results: dict[str, float] = {"seconds_per_case": seconds, "width": float(SIZE[0]),
                                 "height": float(SIZE[1]), "target_fps": FPS}
    try:
        with tempfile.TemporaryDirectory(prefix="persona-e2e-avatars-") as folder:
            avatars = _measurement_avatars(Path(folder))
            for case in CASES:
                if case.avatar == GODETTE and GODETTE not in avatars:
                    log.warning("e2e: %s skipped: %s is missing", case.name, GODETTE_FILE)
                    continue
                for sink_kind in ("y4m", "virtualcam"):
                    log.info("e2e: %s into %s", case.name, sink_kind)
                    for key, value in run_case(case, sink_kind, seconds, avatars).items():
                        results[f"{case.name}_{sink_kind}_{key}"] = value
    finally:
        del pyvirtualcam.camera.BACKENDS[FAKE_BACKEND]
    return results
