"""Face swap figures: ``persona bench faceswap`` (identity and seams on sample videos) and the
face-swap entry of ``persona bench render`` (what a frame costs at 1280x720).

The persona is scikit-image's astronaut photo (a public-domain NASA portrait); the performers
are the sample videos in ../shared/assets/video. Constants of the swap (mask, identity ramp,
fringe removal) were tuned looking at WolfgangLanger_Pexels.mp4; pyfeat_single_face.mp4 was not
looked at while tuning and is reported as the held-out clip.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from engine.avatar.base import AvatarInput
from engine.errors import ConfigError
from engine.resources import SHARED_ASSETS
from engine.types import Expression, FaceState, Frame

SIZE = (1280, 720)
CLIPS = {"wolfgang": "WolfgangLanger_Pexels.mp4", "pyfeat": "pyfeat_single_face.mp4"}


def astronaut_persona():
    """The astronaut photo as a face-swap persona (fitted with the photo avatar's fit)."""
    from skimage import data

    from engine.avatar.faceswap.persona import make_persona
    from engine.avatar.photo.fit import fit_face

    photo = data.astronaut()
    return make_persona(photo, fit_face(photo, "skimage astronaut").landmarks, "astronaut")


def clip_frames(path: Path, size: tuple[int, int] = SIZE, step: int = 1):
    """(index, (H, W, 3) uint8 RGB at ``size``) for every ``step``-th frame of a video."""
    import av

    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % step == 0:
                yield index, cv2.resize(frame.to_ndarray(format="rgb24"), size,
                                        interpolation=cv2.INTER_LINEAR)


@dataclass
class ClipResult:
    """Per measured frame of a clip: identity distances and seam ratios."""

    shape_to_persona: list[float] = field(default_factory=list)  # found again in the output
    shape_to_performer: list[float] = field(default_factory=list)
    drawn_shape_to_persona: list[float] = field(default_factory=list)  # the mesh drawn
    drawn_shape_to_performer: list[float] = field(default_factory=list)
    colour_to_persona: list[float] = field(default_factory=list)
    colour_to_performer: list[float] = field(default_factory=list)
    raw_colour_to_persona: list[float] = field(default_factory=list)
    raw_colour_to_performer: list[float] = field(default_factory=list)
    seam_swapped: list[float] = field(default_factory=list)
    seam_unswapped: list[float] = field(default_factory=list)
    frames: int = 0  # frames swapped
    undetected: int = 0  # swapped frames in which no face was found again
    kept: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)

    def figures(self, prefix: str) -> dict[str, float]:
        median = lambda values: round(float(np.median(values)), 4) if values else float("nan")
        closer = lambda near, far: round(float(np.mean(np.less(near, far))), 3) if near else 0.0
        seam = median(self.seam_swapped) / median(self.seam_unswapped) if self.seam_swapped \
            else float("nan")
        return {
            f"{prefix}_frames_measured": len(self.shape_to_persona),
            f"{prefix}_frames_undetected": self.undetected,
            f"{prefix}_shape_to_persona_median": median(self.shape_to_persona),
            f"{prefix}_shape_to_performer_median": median(self.shape_to_performer),
            f"{prefix}_shape_closer_to_persona_share": closer(self.shape_to_persona,
                                                             self.shape_to_performer),
            f"{prefix}_drawn_shape_to_persona_median": median(self.drawn_shape_to_persona),
            f"{prefix}_drawn_shape_to_performer_median": median(self.drawn_shape_to_performer),
            f"{prefix}_drawn_shape_closer_to_persona_share": closer(
                self.drawn_shape_to_persona, self.drawn_shape_to_performer),
            f"{prefix}_colour_to_persona_median": median(self.colour_to_persona),
            f"{prefix}_colour_to_performer_median": median(self.colour_to_performer),
            f"{prefix}_colour_closer_to_persona_share": closer(self.colour_to_persona,
                                                              self.colour_to_performer),
            f"{prefix}_raw_colour_to_persona_median": median(self.raw_colour_to_persona),
            f"{prefix}_raw_colour_to_performer_median": median(self.raw_colour_to_performer),
            f"{prefix}_seam_swapped_median": median(self.seam_swapped),
            f"{prefix}_seam_unswapped_median": median(self.seam_unswapped),
            f"{prefix}_seam_swapped_over_unswapped": round(seam, 3),
        }


def evaluate_clip(path: Path, persona, gl, shaders, step: int = 6,
                  keep: tuple[int, ...] = ()) -> ClipResult:
    """Swap ``persona`` onto every ``step``-th frame of the video at ``path`` at 1280x720 and
    measure each result (``engine.avatar.faceswap.metrics``); frames numbered in ``keep`` are
    kept (original, swapped) for contact sheets."""
    from engine.avatar.faceswap import metrics
    from engine.avatar.faceswap.render import FaceSwapAvatar
    from engine.gl.compositor import Compositor
    from engine.tracking.face_mesh import FaceMeshDetector
    from engine.tracking.mediapipe_tracker import MediaPipeTracker, face_box

    persona_colour = metrics.colour_histograms(persona.photo, persona.landmarks)
    persona_raw = metrics.colour_histograms(persona.photo, persona.landmarks, standardise=False)
    compositor = Compositor(gl.ctx, shaders, SIZE)
    layer = compositor.layers[0]
    avatar = FaceSwapAvatar(gl.ctx, shaders, persona)
    tracker = MediaPipeTracker(video=False)  # sampled frames are not a continuous video
    detector = FaceMeshDetector(max_faces=2, video=False)
    result = ClipResult()
    try:
        for index, image in clip_frames(path, SIZE, step):
            frame = Frame(image, index / 30.0, index)
            face = tracker.track(frame)
            avatar.render(AvatarInput(Expression(), face, frame), layer.begin())
            swapped = compositor.finish(layer).copy()
            if index in keep:
                result.kept.append((index, image, swapped))
            if avatar.showing != "swap":
                continue
            result.frames += 1
            found = detector.detect(swapped)
            if not found:
                result.undetected += 1
                continue
            areas = [w * h for _, _, w, h in map(face_box, found)]
            again = found[int(np.argmax(areas))]
            result.shape_to_persona.append(metrics.shape_distance(again, persona.landmarks))
            result.shape_to_performer.append(metrics.shape_distance(again, face.landmarks))
            result.drawn_shape_to_persona.append(metrics.shape_distance(avatar.mesh,
                                                                        persona.landmarks))
            result.drawn_shape_to_performer.append(metrics.shape_distance(avatar.mesh,
                                                                          face.landmarks))
            swapped_colour = metrics.colour_histograms(swapped, again)
            performer_colour = metrics.colour_histograms(image, face.landmarks)
            result.colour_to_persona.append(metrics.colour_distance(swapped_colour,
                                                                    persona_colour))
            result.colour_to_performer.append(metrics.colour_distance(swapped_colour,
                                                                      performer_colour))
            swapped_raw = metrics.colour_histograms(swapped, again, standardise=False)
            result.raw_colour_to_persona.append(metrics.colour_distance(swapped_raw, persona_raw))
            result.raw_colour_to_performer.append(metrics.colour_distance(
                swapped_raw, metrics.colour_histograms(image, face.landmarks, standardise=False)))
            band, interior = metrics.seam_masks(avatar.mesh, avatar.alpha, image.shape[:2])
            result.seam_swapped.append(metrics.seam_ratio(swapped, band, interior))
            result.seam_unswapped.append(metrics.seam_ratio(image, band, interior))
    finally:
        detector.close()
        tracker.close()
        avatar.release()
        compositor.release()
    return result


def bench_faceswap(seconds: float | None) -> dict[str, float]:
    """``persona bench faceswap``: identity and seam figures on both sample clips (``seconds``
    is ignored: every 6th frame of each clip is measured)."""
    from engine.gl.context import GLContext
    from engine.gl.programs import ShaderLibrary

    persona = astronaut_persona()
    figures: dict[str, float] = {}
    with GLContext.headless() as gl:
        shaders = ShaderLibrary(gl.ctx)
        for key, name in CLIPS.items():
            path = SHARED_ASSETS / "video" / name
            if not path.exists():
                raise ConfigError(f"bench faceswap: sample video {path} is missing")
            figures.update(evaluate_clip(path, persona, gl, shaders).figures(key))
    return figures


def render_figures(gl, shaders, compositor, seconds: float) -> dict[str, float]:
    """The face-swap entry of ``persona bench render``: p50/p99 ms of a 1280x720 frame with the
    astronaut swapped onto frames of the sample clip, camera picture upload and readback
    included (every frame is a new camera frame, so nothing is cached). The picture goes into
    the layer as the scene renderer puts it there (``begin_layer``)."""
    from engine.avatar.faceswap.render import FaceSwapAvatar
    from engine.scene_renderer import begin_layer
    from engine.tracking.mediapipe_tracker import MediaPipeTracker

    path = SHARED_ASSETS / "video" / CLIPS["wolfgang"]
    if not path.exists():
        return {}
    tracker = MediaPipeTracker(video=False)
    try:
        samples = []
        for index, image in clip_frames(path, SIZE, step=40):
            face = tracker.track(Frame(image, 0.0, index))
            if face.found:
                samples.append((image, face))
    finally:
        tracker.close()
    avatar = FaceSwapAvatar(gl.ctx, shaders, astronaut_persona())
    layer = compositor.layers[0]
    times = []
    try:
        cpu_start, count = time.process_time(), 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline or count < 20:
            image, face = samples[count % len(samples)]
            t = count / 30.0  # a new camera frame every frame, tracked on it
            frame = Frame(image, t, count)
            live = FaceState(t=t, found=True, landmarks=face.landmarks, box=face.box)
            start = time.perf_counter()
            given = AvatarInput(Expression(), live, frame)
            avatar.render(given, begin_layer(layer, avatar, given))
            compositor.finish(layer)
            if count >= 5:  # warm-up: shader compilation, first uploads
                times.append(time.perf_counter() - start)
            count += 1
        cpu_ms = (time.process_time() - cpu_start) / count * 1000.0
    finally:
        avatar.release()
    ms = np.asarray(times) * 1000.0
    return {"faceswap_ms_p50": round(float(np.percentile(ms, 50)), 2),
            "faceswap_ms_p99": round(float(np.percentile(ms, 99)), 2),
            "faceswap_cpu_ms_mean": round(cpu_ms, 2)}
