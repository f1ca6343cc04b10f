"""How well a trained model re-poses a face it never saw: mean L1 on held-out clips.

For each clip (a video of one face): the source is the clip's first face square, and for each
scored frame t the driving square and the target are frame t's square (cut with the live
crop's framing, ``engine.neural.driving``). Three pictures are scored against the target, all
on the same squares, as mean absolute difference of RGB in [0, 1]:

* ``model``: the model animating the source, driven by frame t (``Animator``; the source is
  the calibration frame, so the relative motion is frame t's own keypoints);
* ``no_motion``: the source itself — what a model that moves nothing would score;
* ``photo_warp``: the photo avatar (``engine.avatar.photo``) built from the clip's first full
  frame and driven by our tracker on the clip (``persona render --drive``), its frame t cut
  round the face the same way. It is drawn over a scene's background, so the squares' corners
  differ from the target's room where the model's do not: the figure is the avatar as it is.
  Where the photo builder refuses the first frame (a head turned past its limits), the clip
  has no photo-warp score; the pooled figures of all three are over the clips that have one,
  and ``*_all`` pools the model and no-motion scores over every clip.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import ConfigError

log = logging.getLogger(__name__)

SCORED_FRAMES = 24  # per clip, spread evenly over the clip's first MAX_SECONDS
MAX_SECONDS = 4.0
RENDER_SIZE = "640x360"


@dataclass
class ClipScores:
    name: str
    frames: list[int] = field(default_factory=list)
    model: list[float] = field(default_factory=list)
    no_motion: list[float] = field(default_factory=list)
    photo_warp: list[float] = field(default_factory=list)  # empty: no photo warp for this clip
    # (driving square, photo warp square or None, model square) per scored frame
    pictures: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]] = field(
        default_factory=list)


def _decode(path: Path, max_seconds: float) -> list[np.ndarray]:
    from engine.tracking.media import read_frames

    return [frame.image for frame in read_frames(path, int(max_seconds * _rate(path)))]


def _squares(images: list[np.ndarray], size: int) -> list[np.ndarray | None]:
    """Each frame's face square (None where the tracker did not find exactly one face)."""
    from engine.neural.driving import crop_square, face_square
    from engine.tracking.face_mesh import FaceMeshDetector

    detector = FaceMeshDetector(max_faces=1, video=True)
    try:
        out = []
        for image in images:
            faces = detector.detect(np.ascontiguousarray(image))
            out.append(crop_square(image, face_square(faces[0]), size) if len(faces) == 1
                       else None)
        return out
    finally:
        detector.close()


def _photo_warp_render(video: Path, first: np.ndarray, seconds: float,
                       work: Path) -> Path | None:
    """The photo avatar built from ``first`` driven by ``video``: the rendered MP4; None when
    the photo builder refuses ``first`` (it says why)."""
    from engine.avatar.photo.build import build_signed_photo_avatar
    from engine.cli import main
    from engine.safety.likeness import Consent

    consent = Consent(person="heldout", consented_by="evaluation sample",
                      note="held-out evaluation of the neural model; never kept", uses=("demo",))
    try:
        avatar = build_signed_photo_avatar(first, f"{video.name} (first frame)", "heldout",
                                           work / "photo", consent, work / "eval.key")
    except ConfigError as refused:
        log.warning("photo-warp baseline skipped: %s", refused)
        return None
    with contextlib.redirect_stdout(io.StringIO()):  # the last stdout line is the bench's
        code = main(["render", "--avatar", str(avatar), "--drive", str(video), "--seconds",
                     f"{seconds:g}", "--size", RENDER_SIZE, "--silent", "--no-badge",
                     "--use", "demo", "-o", str(work / "warp.mp4")])
    if code != 0:
        raise RuntimeError(f"{video}: photo-warp baseline failed at render")
    return work / "warp.mp4"


def _l1(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean() / 255.0)


def score_clip(model, video: Path, frames: int = SCORED_FRAMES,
               max_seconds: float = MAX_SECONDS) -> ClipScores:
    """The three scores on ``frames`` frames of ``video`` (see the module's docstring)."""
    from engine.neural.animator import Animator

    size = model.config.image_size
    images = _decode(video, max_seconds)
    squares = _squares(images, size)
    found = [i for i, square in enumerate(squares) if square is not None]
    if len(found) < 2:
        raise RuntimeError(f"{video}: fewer than two frames with one face")
    first = found[0]
    with tempfile.TemporaryDirectory(prefix="neural_eval_") as tmp:
        warp_video = _photo_warp_render(video, images[first], len(images) / _rate(video),
                                        Path(tmp))
        warped = _squares(_decode(warp_video, max_seconds), size) if warp_video else None
    animator = Animator(model, "cpu")
    source = squares[first]
    animator.set_source(source)
    animator.calibrate(animator.keypoints(source))
    scores = ClipScores(video.stem)
    candidates = [i for i in found[1:]
                  if warped is None or (i < len(warped) and warped[i] is not None)]
    picks = np.linspace(0, len(candidates) - 1, min(frames, len(candidates))).round()
    for t in (candidates[int(k)] for k in picks):
        target = squares[t]
        moved = animator.animate(target)
        scores.frames.append(t)
        scores.model.append(_l1(moved, target))
        scores.no_motion.append(_l1(source, target))
        if warped is not None:
            scores.photo_warp.append(_l1(warped[t], target))
        scores.pictures.append((target, None if warped is None else warped[t], moved))
    return scores


def _rate(video: Path) -> float:
    from engine.tracking.media import open_video

    with open_video(video) as container:
        return float(container.streams.video[0].average_rate or 30)


def held_out_clips() -> list[Path]:
    """The real held-out clip (a shared sample) and the held-out footage, where present."""
    from engine.resources import PROJECT_ROOT, SHARED_ASSETS

    clips = [SHARED_ASSETS / "video" / "pyfeat_single_face.mp4"]
    clips += sorted((PROJECT_ROOT / "out" / "neural_footage" / "heldout").glob("*.mp4"))
    return [clip for clip in clips if clip.is_file()]


def quality_figures(model, clips: list[Path]) -> tuple[dict[str, float], list[ClipScores]]:
    """``heldout_l1_*`` figures: per clip and pooled over all scored frames."""
    results = [score_clip(model, clip) for clip in clips]
    compared = [r for r in results if r.photo_warp]
    figures: dict[str, float] = {}
    for name in ("model", "no_motion", "photo_warp"):
        for r in results:
            if getattr(r, name):
                figures[f"heldout_l1_{name}_{r.name}"] = _mean(getattr(r, name))
        if compared:
            figures[f"heldout_l1_{name}"] = _mean([v for r in compared for v in getattr(r, name)])
    for name in ("model", "no_motion"):
        figures[f"heldout_l1_{name}_all"] = _mean([v for r in results for v in getattr(r, name)])
    figures["heldout_frames"] = float(sum(len(r.frames) for r in results))
    figures["heldout_clips"] = float(len(results))
    figures["heldout_clips_with_photo_warp"] = float(len(compared))
    return figures, results


def _mean(values: list[float]) -> float:
    return round(float(np.mean(values)), 4)
