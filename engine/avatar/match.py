"""``persona avatar match PHOTO_OR_VIDEO``: which avatar the user's face maps onto most naturally.

Retargeting moves an avatar by the user's expressions measured in the pose-free face frame; it
looks natural when the avatar's face has the user's proportions. So each avatar is scored by the
retarget error of the user's neutral landmarks onto the avatar's own: both in the face frame
(``head_pose.to_face_frame``), the user's moved onto the avatar's by the least-squares similarity
over the 468 mesh points (scale, rotation and position are free: only proportions count), then
the RMS distance per region (eyes, brows, mouth, jaw, nose) in units of the avatar's
inter-ocular distance. The score is the RMS over all mesh points in the same unit.

The user's face: a photo is measured as ``build-photo`` measures one (``fit.fit_face``: one
face, facing the camera); a video is sampled at up to ``VIDEO_SAMPLES`` frames, and the
landmarks are the median of the ``NEUTRAL_FRAMES`` least expressive among its more frontal half.

The avatars' own neutral landmarks: a photo or face-swap avatar's fitted mesh (``mesh.npz``); a
neural avatar's source photo, tracked; a rendered avatar (glTF/VRM) is drawn neutral and frontal
by the engine and tracked. Tracked results are cached in the user's cache folder (never in the
project), keyed by a hash of the avatar's files, so a second run tracks nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.errors import ConfigError, EngineError
from engine.resources import user_cache
from engine.tracking import landmarks as lm

VIDEO_SAMPLES = 40  # frames of a video that are tracked, spread over its length
NEUTRAL_FRAMES = 5  # of those, how many make the user's neutral face
MAX_VIDEO_FRAMES = 30 * 600  # decoding stops after this many frames (ten minutes at 30 fps)
RENDER_SIZE = (640, 480)
RENDER_ZOOM = 1.2  # how much of the frame the rendered head fills (as fidelity's neutral renders)
CACHE_VERSION = "match-1"  # bump when what is cached (or how it is measured) changes
MAX_CACHE_BYTES = 1 << 20


@lru_cache(maxsize=1)
def regions() -> dict[str, np.ndarray]:
    """Landmark indices of each region a retarget error is reported for."""
    from mediapipe.python.solutions import face_mesh_connections as fmc

    from engine.tracking.template import load_template

    def points(*sets) -> np.ndarray:
        return np.array(sorted({i for edges in sets for edge in edges for i in edge}), np.int32)

    oval = points(fmc.FACEMESH_FACE_OVAL)
    template = load_template().points
    jaw = oval[template[oval, 1] < template[lm.SUBNASALE, 1]]  # the outline below the nose
    return {"eyes": points(fmc.FACEMESH_LEFT_EYE, fmc.FACEMESH_RIGHT_EYE),
            "brows": points(fmc.FACEMESH_LEFT_EYEBROW, fmc.FACEMESH_RIGHT_EYEBROW),
            "mouth": points(fmc.FACEMESH_LIPS),
            "jaw": jaw,
            "nose": points(fmc.FACEMESH_NOSE)}


def face_frame_points(landmarks: np.ndarray) -> np.ndarray:
    """(478, 3) pixel landmarks in the face frame (template centimetres)."""
    from engine.tracking.head_pose import to_face_frame
    from engine.tracking.template import load_template

    return to_face_frame(landmarks, load_template())[0]


def inter_ocular(points: np.ndarray) -> float:
    """Distance between the eye centres (means of each eye's opening)."""
    from engine.avatar.photo import topology

    left = points[topology.eye_loop("left")].mean(0)
    right = points[topology.eye_loop("right")].mean(0)
    return float(np.linalg.norm(left - right))


def align(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``source`` moved by the similarity that best fits its mesh points onto ``target``'s."""
    s, t = source[: lm.NUM_MESH], target[: lm.NUM_MESH]
    s_mean, t_mean = s.mean(0), t.mean(0)
    a, b = s - s_mean, t - t_mean
    u, sigma, vt = np.linalg.svd(a.T @ b)
    correction = np.array([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = (u * correction) @ vt
    scale = (sigma * correction).sum() / (a * a).sum()
    return (source - s_mean) @ rotation * scale + t_mean


@dataclass(frozen=True)
class Fit:
    """How the user's face fits one avatar's: errors in inter-ocular distances."""

    score: float  # RMS over the mesh points
    regions: dict[str, float]

    @property
    def worst(self) -> str:
        return max(self.regions, key=self.regions.get)


def retarget_error(user: np.ndarray, avatar: np.ndarray) -> Fit:
    """The fit of the user's face-frame landmarks onto the avatar's (both (478, 3))."""
    distance = np.linalg.norm(align(user, avatar) - avatar, axis=1) / inter_ocular(avatar)
    rms = lambda index: float(np.sqrt(np.mean(distance[index] ** 2)))
    return Fit(rms(np.arange(lm.NUM_MESH)), {name: rms(index) for name, index in regions().items()})


# --- the user's face ----------------------------------------------------------------------------

@dataclass(frozen=True)
class UserFace:
    points: np.ndarray  # (478, 3) face frame
    frames_tracked: int
    frames_used: int


def user_face(path: Path) -> UserFace:
    """The user's neutral face-frame landmarks from a photo or a video, or ConfigError/AssetError
    naming the file."""
    from engine.tracking.media import is_image, read_image

    if not path.is_file():  # a folder, a pipe or a device is refused before anything reads it
        raise ConfigError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    if is_image(path):
        from engine.avatar.photo.fit import fit_face

        face = fit_face(read_image(path), str(path))
        return UserFace(face_frame_points(face.landmarks), 1, 1)
    return _video_face(path)


def _video_face(path: Path) -> UserFace:
    from engine.tracking import blendshapes, gaze
    from engine.tracking.face_mesh import FaceMeshDetector
    from engine.tracking.head_pose import HeadPoseSolver, yaw_pitch_roll
    from engine.tracking.media import open_video, read_frames
    from engine.tracking.template import load_template
    from engine.types import BLENDSHAPE_NAMES

    with open_video(path) as container:
        count = container.streams.video[0].frames or MAX_VIDEO_FRAMES
    step = max(1, min(count, MAX_VIDEO_FRAMES) // VIDEO_SAMPLES)
    # Gaze is not expression: a user looking aside is still neutral.
    expressive = np.array([not name.startswith("eyeLook") for name in BLENDSHAPE_NAMES])
    solver = HeadPoseSolver(load_template())
    detector = FaceMeshDetector(max_faces=1, video=False)
    found, turn, expression = [], [], []
    tracked = 0
    try:
        for frame in read_frames(path, max_frames=MAX_VIDEO_FRAMES):
            if frame.index % step:
                continue
            tracked += 1
            faces = detector.detect(frame.image)
            if not faces:
                continue
            head = solver.solve(faces[0], frame.image.shape[1::-1])
            if head is None:
                continue
            yaw, pitch, roll = yaw_pitch_roll(head)
            points = face_frame_points(faces[0])
            shapes = blendshapes.compute(points, gaze.eye_angles(points))
            found.append(points)
            turn.append(np.hypot(yaw, pitch))
            expression.append(float(shapes[expressive].sum()))
    finally:
        detector.close()
    if not found:
        raise ConfigError(f"{path}: no face found in any of the {tracked} frames looked at")
    # The more frontal half, then the least expressive of those.
    frontal = np.argsort(turn)[: max(1, (len(found) + 1) // 2)]
    chosen = frontal[np.argsort(np.asarray(expression)[frontal])[:NEUTRAL_FRAMES]]
    return UserFace(np.median(np.stack([found[i] for i in chosen]), axis=0), tracked, len(chosen))


# --- the avatars' faces ------------------------------------------------------------------------

@dataclass
class Candidate:
    name: str
    kind: str
    path: Path
    points: np.ndarray | None = None  # (478, 3) face frame, or None when it has no face
    why_not: str = ""
    fit: Fit | None = None


def available_avatars(search=None) -> list[Path]:
    """Every avatar folder on the search path, the first of each name (as ``find_avatar``)."""
    from engine.avatar.manifest import MANIFEST
    from engine.resources import SearchPath

    seen: dict[str, Path] = {}
    for root in (search or SearchPath()).roots:
        folder = root / "avatars"
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.name not in seen and (entry / MANIFEST).is_file():
                seen[entry.name] = entry
    return list(seen.values())


def _digest(manifest) -> str:
    """What the avatar's neutral face depends on: its manifest and likeness files."""
    digest = hashlib.sha256(CACHE_VERSION.encode())
    digest.update(json.dumps(manifest.toml, sort_keys=True, default=str).encode())
    for path in manifest.likeness_files():
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _cached(key: str) -> np.ndarray | None:
    path = user_cache("match", f"{key}.npz")
    try:
        if path.stat().st_size > MAX_CACHE_BYTES:
            return None
        with np.load(path, allow_pickle=False) as data:
            points = np.asarray(data["points"], np.float64)
    except (OSError, KeyError, ValueError):
        return None
    return points if points.shape == (478, 3) and np.isfinite(points).all() else None


def _store(key: str, points: np.ndarray) -> None:
    from engine.safe_write import replace_on_success

    folder = user_cache("match")
    folder.mkdir(parents=True, exist_ok=True)
    data = io.BytesIO()
    np.savez(data, points=points.astype(np.float32))
    with replace_on_success(folder / f"{key}.npz") as staged:
        staged.file.write(data.getvalue())


class _Tracker:
    """What the rendered and photographed avatars are measured with, made on first need: one
    face detector, and one GL context for the renders."""

    def __init__(self) -> None:
        self._detector = None
        self._gl = None

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        if self._detector is None:
            from engine.tracking.face_mesh import FaceMeshDetector

            self._detector = FaceMeshDetector(max_faces=1, video=False)
        faces = self._detector.detect(np.ascontiguousarray(image))
        return faces[0] if faces else None

    def render_neutral(self, path: Path) -> np.ndarray:
        """(H, W, 3) uint8: the avatar at ``path`` neutral and frontal over a grey background."""
        from engine.avatar.base import AvatarInput
        from engine.avatar.loader import open_avatar
        from engine.gl.compositor import Background
        from engine.types import Expression

        if self._gl is None:
            from engine.gl.compositor import Compositor
            from engine.gl.context import GLContext
            from engine.gl.programs import ShaderLibrary

            context = GLContext.headless()
            shaders = ShaderLibrary(context.ctx)
            self._gl = (context, shaders, Compositor(context.ctx, shaders, RENDER_SIZE))
        context, shaders, compositor = self._gl
        layer = compositor.layers[0]
        layer.set_background(Background(color=(0.5, 0.5, 0.5)))
        loaded = open_avatar(str(path), context, shaders)
        try:
            if hasattr(loaded.avatar, "zoom"):  # ModelRenderer: frame the head as fidelity does
                loaded.avatar.zoom = RENDER_ZOOM
            loaded.avatar.render(AvatarInput(Expression()), layer.begin())
            return np.array(compositor.finish(layer))
        finally:
            loaded.release()

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
        if self._gl is not None:
            context, shaders, compositor = self._gl
            compositor.release()
            shaders.release()
            context.close()


def _neutral(manifest, tracker: _Tracker) -> tuple[np.ndarray | None, str]:
    """The avatar's neutral face-frame landmarks, or None and why there are none."""
    kind = manifest.kind.name
    if kind in ("photo", "faceswap"):  # the fitted mesh is the neutral
        from engine.avatar.photo.kind import read_landmarks

        return face_frame_points(read_landmarks(manifest.settings.mesh)), ""
    if kind not in ("gltf", "neural"):
        return None, f"kind {kind} has no face to measure"
    key = _digest(manifest)
    points = _cached(key)
    if points is not None:
        return points, ""
    if kind == "neural":  # its neutral is its source photo
        from engine.tracking.media import read_image

        picture = read_image(manifest.settings.source)
    else:
        picture = tracker.render_neutral(manifest.source)
    landmarks = tracker.landmarks(picture)
    if landmarks is None:
        return None, "no face found in its neutral render" if kind == "gltf" else \
            "no face found in its source photo"
    points = face_frame_points(landmarks)
    _store(key, points)
    return points, ""


def candidates(targets: list[str] | None = None) -> list[Candidate]:
    """The avatars named (default: every available one) with their neutral landmarks; an avatar
    that cannot be read or measured is kept with the reason."""
    from engine.avatar.loader import read_avatar

    found = [Path(t) for t in targets] if targets else available_avatars()
    tracker = _Tracker()
    out = []
    try:
        for target in found:
            name = target.name if target.is_dir() else target.stem
            try:
                manifest = read_avatar(target)
                candidate = Candidate(manifest.name or name, manifest.kind.name, target)
                candidate.points, candidate.why_not = _neutral(manifest, tracker)
            except EngineError as error:
                candidate = Candidate(name, "?", target, why_not=str(error))
            out.append(candidate)
    finally:
        tracker.close()
    return out


def rank(user: np.ndarray, avatars: list[Candidate]) -> list[Candidate]:
    """The measurable avatars best fit first (each given its ``fit``), then the others."""
    for avatar in avatars:
        if avatar.points is not None:
            avatar.fit = retarget_error(user, avatar.points)
    fitted = sorted((a for a in avatars if a.fit is not None), key=lambda a: a.fit.score)
    return fitted + [a for a in avatars if a.fit is None]


# --- the command -------------------------------------------------------------------------------

def _match(args) -> int:
    path = Path(args.input)
    user = user_face(path)
    ranked = rank(user.points, candidates(args.avatar))
    if not any(a.fit for a in ranked):
        raise ConfigError(f"{path}: no avatar with a measurable face to compare with")
    print(f"{path}: {user.frames_used} of {user.frames_tracked} frame(s) used; retarget error "
          "in % of the avatar's inter-ocular distance (lower fits better)")
    width = max(len(a.name) for a in ranked)
    names = list(regions())
    print(f"{'#':>2}  {'avatar':<{width}}  {'kind':<8} {'score':>6}  {'worst':<6}  "
          + " ".join(f"{n:>5}" for n in names))
    for place, avatar in enumerate((a for a in ranked if a.fit), 1):
        fit = avatar.fit
        print(f"{place:>2}  {avatar.name:<{width}}  {avatar.kind:<8} {100 * fit.score:6.2f}  "
              f"{fit.worst:<6}  " + " ".join(f"{100 * fit.regions[n]:5.2f}" for n in names))
    for avatar in ranked:
        if avatar.fit is None:
            print(f"not ranked: {avatar.name} ({avatar.why_not})")
    if args.json:
        print(json.dumps({
            "input": str(path), "frames_tracked": user.frames_tracked,
            "frames_used": user.frames_used, "unit": "inter-ocular distance",
            "ranking": [{"name": a.name, "kind": a.kind, "path": str(a.path),
                         "score": round(a.fit.score, 5), "worst_region": a.fit.worst,
                         "regions": {k: round(v, 5) for k, v in a.fit.regions.items()}}
                        for a in ranked if a.fit],
            "not_ranked": [{"name": a.name, "path": str(a.path), "reason": a.why_not}
                           for a in ranked if a.fit is None]}))
    return 0


def register(commands) -> None:
    parser = commands.add("match", _match, group="avatar",
                          help="rank the avatars by how naturally a face's proportions map "
                               "onto each (retarget error of its landmarks)")
    parser.add_argument("input", help="a photo or a video of the user's face")
    parser.add_argument("--avatar", action="append", metavar="FOLDER|FILE",
                        help="compare with this avatar only (repeatable; default every avatar "
                             "on the search path)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
