"""The photo avatar kind: the build step's refusals on real inputs, the folder it writes, the
live warp (drawn on EGL) and the consent rule for a real person's photo."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.avatar.base import AvatarInput
from engine.avatar.photo import topology
from engine.avatar.photo.build import build_photo_avatar
from engine.safety.likeness import Consent
from engine.avatar.photo.fit import MIN_FACE_PX, fit_face
from engine.errors import AssetError, ConfigError, ConsentError
from engine.tracking import landmarks as lm
from engine.tracking.head_pose import rotation_from_yaw_pitch_roll
from engine.types import Expression, blendshape_vector

FRAME = (640, 360)
MAGENTA = (1.0, 0.0, 1.0)  # the scene colour: any of it left in a frame is a hole in the mesh


def astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The astronaut built as a real person's avatar, unsigned."""
    return build_photo_avatar(astronaut(), "astronaut.png", "Astronaut",
                              tmp_path_factory.mktemp("photo") / "astronaut",
                              Consent(person="Eileen Collins", consented_by="test",
                                      note="test fixture"))


@pytest.fixture(scope="module")
def frame(gl, shaders):
    """``frame(avatar, expression)`` → (H, W, 3) uint8 at FRAME over a magenta scene."""
    from engine.gl.compositor import Background, Compositor

    compositor = Compositor(gl.ctx, shaders, FRAME)
    layer = compositor.layers[0]
    layer.set_background(Background(color=MAGENTA))

    def render(avatar, expression: Expression) -> np.ndarray:
        avatar.render(AvatarInput(expression), layer.begin())
        return compositor.finish(layer).copy()

    yield render
    compositor.release()


@pytest.fixture(scope="module")
def avatar(built, gl, shaders):
    from engine.avatar.loader import open_avatar

    loaded = open_avatar(str(built), gl, shaders)
    yield loaded.avatar
    loaded.release()


def _head(yaw: float, pitch: float) -> np.ndarray:
    head = np.eye(4, dtype=np.float32)
    head[:3, :3] = rotation_from_yaw_pitch_roll(yaw, pitch, 0.0)
    return head


# --- topology --------------------------------------------------------------------------------

def test_openings_are_cut_and_loops_pair_up():
    closed, open_ = topology.face_triangles(False), topology.face_triangles(True)
    assert len(open_) == 852 and len(closed) > len(open_)  # MediaPipe's tessellation has 852
    for loop in (topology.eye_loop("left"), topology.eye_loop("right"),
                 topology.inner_lip_loop()):
        assert not np.isin(open_, loop).all(axis=1).any()
    assert len(topology.face_oval()) == 36 and topology.face_oval()[0] == lm.FOREHEAD
    upper, lower = topology.lid_margins("left")
    assert len(upper) == len(lower) == 7
    assert set(lm.LEFT_UPPER_LID) <= set(upper) and set(lm.LEFT_LOWER_LID) <= set(lower)
    upper, lower, right, left = topology.lip_margins()
    assert (right, left) == (78, 308) and lm.UPPER_LIP_INNER in upper


# --- refusals on real inputs -----------------------------------------------------------------

def test_no_face_is_refused():
    import skimage.data

    camera = np.dstack([skimage.data.camera()] * 3)
    with pytest.raises(ConfigError, match=r"^cameraman: no face found"):
        fit_face(camera, "cameraman")


def test_two_similar_faces_are_refused():
    head = astronaut()[0:300, 100:400]  # MediaPipe's detector finds faces of this share
    twice = np.ascontiguousarray(np.hstack([head, head]))
    with pytest.raises(ConfigError, match=r"^two\.png: 2 faces of similar size"):
        fit_face(twice, "two.png")


def test_a_small_face_is_refused():
    from PIL import Image

    small = np.asarray(Image.fromarray(astronaut()).resize((330, 330), Image.LANCZOS))
    face = fit_face(small, "small.png", min_face_px=32)  # found, and smaller than the default
    assert max(face.box[2:]) < MIN_FACE_PX
    with pytest.raises(ConfigError, match=r"^small\.png: the face is \d+ px across; at least 96"):
        fit_face(small, "small.png")


def _rendered_head(gl, shaders, tmp_path: Path, yaw: float) -> np.ndarray:
    """A generated persona rendered by the engine, turned by ``yaw`` degrees."""
    from engine.avatar.loader import open_avatar
    from engine.avatar.procedural import PersonaParams, write_persona
    from engine.gl.compositor import Background, Compositor

    model = write_persona(tmp_path, "turned", PersonaParams.from_seed(3000))
    loaded = open_avatar(str(model.parent), gl, shaders)
    compositor = Compositor(gl.ctx, shaders, (640, 480))
    try:
        layer = compositor.layers[0]
        layer.set_background(Background(color=(0.5, 0.6, 0.7)))
        loaded.avatar.zoom = 1.3
        loaded.avatar.render(AvatarInput(Expression(head=_head(yaw, 0.0))), layer.begin())
        return np.ascontiguousarray(compositor.finish(layer))
    finally:
        compositor.release()
        loaded.release()


def test_a_turned_head_is_refused(gl, shaders, tmp_path):
    facing = fit_face(_rendered_head(gl, shaders, tmp_path / "a", 0.0), "facing.png")
    assert abs(facing.yaw_deg) < 10
    with pytest.raises(ConfigError, match=r"^turned\.png: the head is turned \(yaw [+-]\d+°"):
        fit_face(_rendered_head(gl, shaders, tmp_path / "b", 50.0), "turned.png")


# --- the folder --------------------------------------------------------------------------------

def test_folder_has_the_photo_its_mesh_and_consent(built):
    from engine.avatar.manifest import read_manifest
    from engine.avatar.photo.kind import PhotoFiles, read_files

    manifest = read_manifest(built)
    assert manifest.kind.name == "photo" and manifest.name == "Astronaut"
    assert [p.name for p in manifest.likeness_files()] == ["photo.png", "mouth.png", "mesh.npz"]
    consent = manifest.consent
    assert consent["likeness"] == "Eileen Collins" and consent["note"] == "test fixture"
    assert consent["source"].startswith("astronaut.png (sha256 ")
    files: PhotoFiles = read_files(manifest.settings)
    assert max(files.photo.shape[:2]) <= 1024 and files.landmarks.shape == (478, 3)
    # The stored landmarks are the photo's own: fitting photo.png again finds the same face.
    again = fit_face(files.photo, "photo.png").landmarks
    assert np.abs(again[:468, :2] - files.landmarks[:468, :2]).mean() < 0.01 * files.photo.shape[0]


def test_a_bad_mesh_file_is_refused(built, tmp_path):
    from engine.avatar.manifest import read_manifest
    from engine.avatar.photo.kind import read_files

    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    np.savez(copy / "mesh.npz", landmarks=np.zeros((10, 3), np.float32))
    with pytest.raises(AssetError, match=r"mesh\.npz: landmarks must be \(478, 3\)"):
        read_files(read_manifest(copy).settings)


def test_cli_refuses_a_real_photo_without_consent_and_a_faceless_one(tmp_path, capsys):
    from PIL import Image

    from engine.cli import main

    Image.fromarray(astronaut()).save(tmp_path / "a.png")
    assert main(["avatar", "build-photo", str(tmp_path / "a.png"), "--name", "A",
                 "--out", str(tmp_path / "a")]) == 1
    assert "needs --consent-from and --consent-note" in capsys.readouterr().err
    Image.new("RGB", (300, 300), (120, 90, 60)).save(tmp_path / "flat.png")
    assert main(["avatar", "build-photo", str(tmp_path / "flat.png"), "--name", "F",
                 "--synthetic", "--out", str(tmp_path / "f")]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "flat.png: no face found" in error[0]
    assert not (tmp_path / "f").exists()


# --- the live warp -----------------------------------------------------------------------------

def _frame_points(avatar, indices) -> np.ndarray:
    """Where landmarks of the photo's rest pose land in FRAME pixels."""
    sx, sy, ox, oy = avatar.rig.set_frame(FRAME)
    xy = avatar.rig.landmarks[indices, :2]
    return np.stack([(xy[:, 0] * sx + ox + 1) / 2 * FRAME[0],
                     (1 - (xy[:, 1] * sy + oy)) / 2 * FRAME[1]], axis=1)


def _polygon_mask(points: np.ndarray) -> np.ndarray:
    import cv2

    mask = np.zeros((FRAME[1], FRAME[0]), np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask > 0


def test_neutral_is_the_photo(avatar, frame, built):
    from PIL import Image

    picture = frame(avatar, Expression())
    photo = np.asarray(Image.open(built / "photo.png"))
    height = FRAME[1]
    width = round(photo.shape[1] * height / photo.shape[0])
    expected = np.asarray(Image.fromarray(photo).resize((width, height), Image.BILINEAR))
    left = (FRAME[0] - width) // 2
    shown = picture[:, left:left + width].astype(np.int16)
    assert np.abs(shown - expected).mean() < 6  # filtering only
    assert np.median(np.abs(shown - expected)) <= 3


def test_the_photo_is_never_shrunk_on_screen(avatar, frame):
    """The texture is scaled once to the size the photo is shown at, so plain bilinear
    filtering (no mipmaps) never skips texels."""
    frame(avatar, Expression())
    photo_h = avatar.rig.size[1]
    shown_h = FRAME[1]  # fitted by its height: the 16:9 frame is wider than the photo
    assert photo_h > shown_h  # this test's frame does shrink it
    texels_per_pixel = avatar._texture.height * photo_h / avatar._atlas.shape[0] / shown_h
    assert 0.99 <= texels_per_pixel <= 1.0 + 1.0 / shown_h


def test_no_holes_at_any_pose_or_expression(avatar, frame):
    shapes = blendshape_vector({"jawOpen": 1, "eyeBlinkLeft": 1, "eyeBlinkRight": 1,
                                "mouthSmileLeft": 1, "browInnerUp": 1})
    for yaw, pitch in ((-30, 0), (30, 0), (0, -20), (0, 20), (25, 15)):
        picture = frame(avatar, Expression(shapes, _head(yaw, pitch),
                                           np.array([0.4, -0.3], np.float32)))
        magenta = (picture[..., 0] > 250) & (picture[..., 1] < 5) & (picture[..., 2] > 250)
        assert not magenta.any(), f"scene shows through at yaw {yaw}, pitch {pitch}"


def test_the_still_picture_handed_to_the_layer_makes_the_same_frame(avatar, gl, shaders):
    """The scene renderer's path (``layer_picture``, then a draw of the part that moves) and a
    plain draw of the whole mesh give the same pixels, at every pose and a new frame size."""
    from engine.gl.compositor import Background, Compositor
    from engine.avatar.base import LoadedAvatar
    from engine.scene_loader import LiveScene
    from engine.scene_renderer import SceneRenderer
    from engine.scenes import Scene

    shapes = blendshape_vector({"jawOpen": 0.8, "eyeBlinkLeft": 1, "mouthSmileRight": 0.6})
    for size in ((320, 180), (256, 256)):
        compositor = Compositor(gl.ctx, shaders, size)
        layer = compositor.layers[0]
        layer.set_background(Background(color=MAGENTA))
        live = LiveScene(Scene("photo", avatar="photo"), LoadedAvatar.of(avatar, "photo"), layer)
        try:
            for yaw, pitch in ((0, 0), (-28, 10), (20, -15)):
                expression = Expression(shapes, _head(yaw, pitch))
                avatar.render(AvatarInput(expression), layer.begin())
                whole = compositor.finish(layer).copy()
                SceneRenderer(size).render((live,), expression, None, None)
                assert avatar._prepared is None  # the draw took the picture's frame
                np.testing.assert_array_equal(compositor.finish(layer), whole)
        finally:
            compositor.release()


def test_far_to_near_shows_what_a_depth_test_would(avatar, gl, shaders, monkeypatch):
    """The avatar draws without a depth buffer (the scene renderer hands it the colour alone),
    its triangles sorted far to near: at turned poses with the mouth open that shows what the
    same triangles show through a depth test, and nearest first would not."""
    from engine.avatar.photo import avatar as photo_module
    from engine.gl.compositor import Compositor
    from tests.avatar.pixels import changed, drawn_depth_tested, drawn_without_depth

    compositor = Compositor(gl.ctx, shaders, FRAME)
    poses = [AvatarInput(Expression(blendshape_vector({"jawOpen": 0.7}), _head(yaw, pitch)))
             for yaw, pitch in ((-30, 0), (28, 10), (0, -15))]
    try:
        tested = [drawn_depth_tested(avatar, compositor, gl.ctx, given) for given in poses]
        painted = [drawn_without_depth(avatar, compositor, given) for given in poses]
        far_first = photo_module.far_to_near
        monkeypatch.setattr(photo_module, "far_to_near",
                            lambda t, d: far_first(t, d)[::-1].copy())
        backwards = [drawn_without_depth(avatar, compositor, given) for given in poses]
    finally:
        compositor.release()
    for reference, ours, reversed_ in zip(tested, painted, backwards):
        assert changed(ours, reference).mean() < 2e-5  # 0 measured
        # nearest first lets the far side through: 0.03-0.11 % of the frame measured
        assert changed(reversed_, reference).mean() > 1e-4


def test_blink_closes_the_eyes_and_the_jaw_opens_the_mouth(avatar, frame):
    luma = lambda picture: picture.astype(np.float64) @ (0.299, 0.587, 0.114)
    neutral = luma(frame(avatar, Expression()))
    blink = luma(frame(avatar, Expression(blendshape_vector({"eyeBlinkLeft": 1,
                                                             "eyeBlinkRight": 1}))))
    for side in ("left", "right"):
        eye = _polygon_mask(_frame_points(avatar, topology.eye_loop(side)))
        dark_open = (neutral[eye] < 80).mean()
        dark_closed = (blink[eye] < 80).mean()
        assert dark_open > 0.15 and dark_closed < 0.3 * dark_open  # the iris is covered
    jaw = luma(frame(avatar, Expression(blendshape_vector({"jawOpen": 1}))))
    upper, lower, right, left = topology.lip_margins()
    chin = _frame_points(avatar, [lm.CHIN])[0]
    mouth = _frame_points(avatar, [right, left, lm.LOWER_LIP_BOTTOM])
    below = (slice(int(mouth[:, 1].min()), int(chin[1])),
             slice(int(mouth[0, 0]), int(mouth[1, 0])))
    assert (jaw[below] < 40).mean() > (neutral[below] < 40).mean() + 0.1  # the cavity shows


def test_head_turn_moves_the_nose_the_right_way(avatar, frame):
    nose = avatar.rig.positions(Expression())[lm.NOSE_TIP, :2]
    left = avatar.rig.positions(Expression(head=_head(25, 0)))[lm.NOSE_TIP, :2]
    up = avatar.rig.positions(Expression(head=_head(0, 15)))[lm.NOSE_TIP, :2]
    # yaw > 0 turns the face to the person's left: the viewer's right in an unmirrored photo;
    # pitch > 0 lifts the chin: the nose rises in the picture.
    assert left[0] - nose[0] > 0.08 * avatar.rig.face_px
    assert nose[1] - up[1] > 0.04 * avatar.rig.face_px


# --- consent -------------------------------------------------------------------------------

def test_real_person_needs_a_signed_manifest_covering_every_file(built, tmp_path):
    from engine.avatar.loader import prepare_avatar
    from engine.safety import keys
    from engine.safety.consent import sign_avatar

    folder = tmp_path / "signed"
    shutil.copytree(built, folder)
    with pytest.raises(ConsentError, match="incomplete.*'public_key' is missing"):
        prepare_avatar(str(folder), use="privacy")
    public = keys.generate(tmp_path / "k.key")
    toml = folder / "avatar.toml"
    toml.write_text(toml.read_text() + f'public_key = "{public}"\n')
    with pytest.raises(ConsentError, match="consent.sig: missing"):
        prepare_avatar(str(folder), use="privacy")
    sign_avatar(folder, tmp_path / "k.key")
    prepared = prepare_avatar(str(folder), use="privacy")
    assert prepared.files.landmarks.shape == (478, 3)
    with pytest.raises(ConsentError, match="covers privacy, not 'demo'"):
        prepare_avatar(str(folder), use="demo")
    mouth = folder / "mouth.png"  # a derived file, swapped after signing
    mouth.write_bytes((built / "photo.png").read_bytes())
    with pytest.raises(ConsentError, match="signature does not match.*mouth.png"):
        prepare_avatar(str(folder), use="privacy")


def test_a_generated_face_is_marked_synthetic_and_loads(tmp_path, gl, shaders):
    from engine.avatar.loader import prepare_avatar

    image = _rendered_head(gl, shaders, tmp_path / "persona", 0.0)
    folder = build_photo_avatar(image, "persona.png", "Generated", tmp_path / "generated",
                                Consent(synthetic=True, note="engine.avatar.procedural seed 3000"))
    assert 'likeness = "synthetic"' in (folder / "avatar.toml").read_text()
    prepared = prepare_avatar(str(folder), use="demo")
    assert prepared.camera_consented
