"""The face-swap kind: its folder, the privacy rule, colour transfer, lost faces, bystanders,
and identity and seams on real footage (the astronaut photo onto the sample videos)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.avatar.base import AvatarInput, LoadedAvatar, frame_input
from engine.avatar.faceswap import bench, colour, geometry
from engine.avatar.faceswap.render import HOLD_S, FaceSwapAvatar
from engine.errors import AssetError, ConfigError
from engine.types import Expression, FaceState, Frame

SIZE = bench.SIZE


@pytest.fixture(scope="module")
def persona():
    return bench.astronaut_persona()


@pytest.fixture(scope="module")
def shaders(gl):
    from engine.gl.programs import ShaderLibrary

    library = ShaderLibrary(gl.ctx)
    yield library
    library.release()


@pytest.fixture(scope="module")
def compositor(gl, shaders):
    from engine.gl.compositor import Compositor

    made = Compositor(gl.ctx, shaders, SIZE)
    yield made
    made.release()


@pytest.fixture(scope="module")
def clip(shared_asset):
    """A few 1280x720 frames of the sample clip with the tracked face of each."""
    from engine.tracking.mediapipe_tracker import MediaPipeTracker

    path = shared_asset("video/WolfgangLanger_Pexels.mp4")
    tracker = MediaPipeTracker(video=False)
    frames = []
    for index, image in bench.clip_frames(path, step=60):
        frame = Frame(image, index / 30.0, index)
        face = tracker.track(frame)
        if face.found:
            frames.append((frame, face))
    tracker.close()
    assert len(frames) >= 4
    return frames


def _folder(tmp_path, persona_photo: np.ndarray, landmarks: np.ndarray):
    folder = tmp_path / "swap"
    folder.mkdir()
    Image.fromarray(persona_photo).save(folder / "photo.png")
    np.savez(folder / "mesh.npz", landmarks=landmarks)
    (folder / "avatar.toml").write_text('kind = "faceswap"\nphoto = "photo.png"\n'
                                        'mesh = "mesh.npz"\n')
    return folder


def _draw(avatar, compositor, face, camera) -> np.ndarray:
    layer = compositor.layers[0]
    avatar.render(AvatarInput(Expression(), face, camera), layer.begin())
    return compositor.finish(layer).copy()


def test_the_folder_reads_as_a_kind_that_needs_the_camera(tmp_path, persona):
    from engine.avatar.manifest import read_manifest

    folder = _folder(tmp_path, persona.photo, persona.landmarks)
    manifest = read_manifest(folder)
    assert manifest.kind.needs_camera and manifest.kind.needs_landmarks
    assert {p.name for p in manifest.likeness_files()} == {"photo.png", "mesh.npz"}
    np.savez(folder / "mesh.npz", landmarks=persona.landmarks[:400])
    with pytest.raises(AssetError, match="mesh.npz"):
        manifest.kind.prepare(manifest.settings)
    np.savez(folder / "mesh.npz", landmarks=persona.landmarks + 5000)
    with pytest.raises(AssetError, match="outside"):
        manifest.kind.prepare(manifest.settings)
    (folder / "avatar.toml").write_text('kind = "faceswap"\nphoto = "photo.png"\nmesh = "m.npz"\n')
    with pytest.raises(ConfigError, match="mesh"):
        read_manifest(folder)


def test_an_anonymous_scene_refuses_it_and_without_consent_it_draws_nothing(
        gl, shaders, compositor, tmp_path, persona, clip):
    from engine.avatar.loader import prepare_avatar
    from engine.scene_loader import SceneLoader
    from engine.scenes import Scene

    folder = _folder(tmp_path, persona.photo, persona.landmarks)
    loaded = prepare_avatar(str(folder), use=None).open(gl, shaders)
    try:
        loader = SceneLoader(lambda scene: lambda: loaded)
        with pytest.raises(ConfigError, match="promises anonymity"):
            loader.load(Scene("hidden", str(folder), anonymous=True), compositor.layers[0])
        # Not consented for the camera (use=None checks nothing): the privacy rule withholds
        # the picture and the layer keeps the scene's background.
        frame, face = clip[0]
        given = frame_input(loaded, Expression(), face, frame, anonymous_scene=False)
        assert given.camera is None and given.face is not None
        layer = compositor.layers[0]
        loaded.avatar.render(given, layer.begin())
        out = compositor.finish(layer)
        assert np.ptp(out.reshape(-1, 3), axis=0).max() <= 1  # the flat background colour
        consented = LoadedAvatar(loaded.avatar, "swap", True, True, camera_consented=True)
        assert frame_input(consented, Expression(), face, frame, True).camera is None
    finally:
        loaded.release()


def test_oklab_round_trips_and_the_colour_transfer_reaches_the_live_skin(
        gl, shaders, compositor, persona, clip):
    rgb = np.random.default_rng(1).integers(0, 256, (500, 3)).astype(np.uint8)
    assert np.abs(colour.oklab_to_srgb(colour.srgb_to_oklab(rgb)).astype(int) - rgb).max() <= 1
    avatar = FaceSwapAvatar(gl.ctx, shaders, persona)
    try:
        for frame, face in clip[:2]:
            out = _draw(avatar, compositor, face, frame)
        live = colour.skin_stats(frame.image, geometry.with_centres(face.landmarks[:, :2]),
                                 avatar._core)
        drawn = colour.skin_stats(out, geometry.with_centres(avatar.mesh[:, :2]), avatar._core)
        # The skin drawn has the live skin's mean lightness and tint, not the photo's.
        assert np.abs(drawn.mean - live.mean).max() < 0.02
        assert np.abs(persona.stats.mean - live.mean).max() > 0.04
    finally:
        avatar.release()


def test_a_lost_face_is_held_briefly_then_the_picture_is_blurred(gl, shaders, compositor,
                                                                 persona, clip):
    avatar = FaceSwapAvatar(gl.ctx, shaders, persona)
    try:
        (first, face), (later, _) = clip[0], clip[1]
        _draw(avatar, compositor, face, first)
        assert avatar.showing == "swap"
        t = first.t_capture
        held = Frame(later.image, t + HOLD_S / 2, first.index + 1)
        _draw(avatar, compositor, FaceState.lost(held.t_capture), held)
        assert avatar.showing == "held"
        gone = Frame(later.image, t + HOLD_S * 1.5, first.index + 2)
        out = _draw(avatar, compositor, FaceState.lost(gone.t_capture), gone)
        assert avatar.showing == "blurred"
        # Nothing recognisable anywhere: the picture is the blur backdrop's 16x9 at most.
        assert np.abs(np.diff(out.astype(np.int16), axis=1)).max() <= 6
        _draw(avatar, compositor, face, first)
        assert avatar.showing == "swap"  # found again: the swap is back at once
    finally:
        avatar.release()


def test_bystanders_are_blurred(gl, shaders, compositor, persona, clip):
    import cv2

    frame, face = clip[0]
    x, y, w, h = (int(v) for v in face.box)
    image = frame.image.copy()  # a second, smaller face on the wall: a bystander
    image[60:260, 40:200] = cv2.resize(frame.image[y:y + h, x:x + w], (160, 200))
    room = Frame(image, frame.t_capture, frame.index)
    with_other = FaceState(**{**face.__dict__, "others": ((40.0, 60.0, 160.0, 200.0),)})
    avatar = FaceSwapAvatar(gl.ctx, shaders, persona)
    try:
        plain = _draw(avatar, compositor, face, room)
        blurred = _draw(avatar, compositor, with_other, room)
    finally:
        avatar.release()
    detail = lambda picture: np.abs(np.diff(picture[60:260, 40:200].astype(np.int16),
                                            axis=1)).mean()
    assert detail(plain) > 5 * detail(blurred)
    assert np.array_equal(plain[:, 700:], blurred[:, 700:])  # the performer's side is untouched


def test_the_face_is_drawn_on_the_picture_it_was_tracked_on(gl, shaders, compositor,
                                                            persona, clip):
    (first, face), (newer, _) = clip[0], clip[1]
    avatar = FaceSwapAvatar(gl.ctx, shaders, persona)
    try:
        _draw(avatar, compositor, face, first)
        # The tracker runs a frame behind: the face of ``first`` arrives with ``newer``.
        out = _draw(avatar, compositor, face, newer)
    finally:
        avatar.release()
    outside = np.ones(out.shape[:2], bool)
    outside[:, 450:1100] = False
    assert np.array_equal(out[outside], first.image[outside])


def test_the_picture_handed_to_the_layer_first_draws_the_same_frame(gl, shaders, compositor,
                                                                     persona, clip):
    """The scene renderer's way (``begin_layer``: ``layer_picture``, written by ``begin``
    instead of a clear) gives exactly the frame of ``render`` alone; without the camera there
    is no picture."""
    from engine.scene_renderer import begin_layer

    layer = compositor.layers[0]
    outputs = []
    for handed_over in (False, True):
        avatar = FaceSwapAvatar(gl.ctx, shaders, persona)
        try:
            frames = []
            for frame, face in clip[:3]:
                given = AvatarInput(Expression(), face, frame)
                target = begin_layer(layer, avatar, given) if handed_over else layer.begin()
                avatar.render(given, target)
                frames.append(compositor.finish(layer).copy())
            assert avatar.showing == "swap"
            withheld = AvatarInput(Expression(), clip[0][1], None)
            assert avatar.layer_picture(withheld, layer.size) is None
            avatar.render(withheld, layer.begin())
            assert avatar.showing == "nothing"
            frames.append(compositor.finish(layer).copy())
        finally:
            avatar.release()
        outputs.append(frames)
    for alone, handed in zip(*outputs):
        assert np.array_equal(alone, handed)
    assert np.ptp(outputs[1][-1].reshape(-1, 3), axis=0).max() <= 1  # the background only


def test_far_to_near_shows_what_a_depth_test_would(gl, shaders, compositor, persona, clip,
                                                   monkeypatch):
    """The swap draws without a depth buffer (the scene renderer hands it the colour alone),
    openings first and the skin far to near: on the clip's frames that shows what the same
    draws show through a depth test, and the skin nearest first would not."""
    from engine.avatar.faceswap import render
    from tests.avatar.pixels import changed, drawn_depth_tested, drawn_without_depth

    avatar = FaceSwapAvatar(gl.ctx, shaders, persona)
    try:
        frames = [AvatarInput(Expression(), face, frame) for frame, face in clip]
        pairs = [(drawn_without_depth(avatar, compositor, given),
                  drawn_depth_tested(avatar, compositor, gl.ctx, given)) for given in frames]
        far_first = render.far_to_near
        monkeypatch.setattr(render, "far_to_near", lambda t, d: far_first(t, d)[::-1].copy())
        backwards = [drawn_without_depth(avatar, compositor, given) for given in frames]
    finally:
        avatar.release()
    for (ours, reference), reversed_ in zip(pairs, backwards):
        assert changed(ours, reference).mean() < 3e-5  # at most 4 pixels of 921,600 measured
        assert changed(reversed_, reference).mean() > 1e-3  # 1.2-7.5 % measured


@pytest.mark.parametrize("name", ["WolfgangLanger_Pexels.mp4", "pyfeat_single_face.mp4"])
def test_identity_is_the_personas_and_no_seam_shows(gl, shaders, persona, shared_asset, name):
    result = bench.evaluate_clip(shared_asset(f"video/{name}"), persona, gl, shaders, step=24)
    figures = result.figures("clip")
    print(figures)
    assert result.frames >= 3 and result.undetected == 0
    # The skin's colour distribution (lighting factored out) is the persona's in every frame.
    assert figures["clip_colour_closer_to_persona_share"] == 1.0
    # The mesh drawn has the persona's proportions more than the performer's.
    assert (figures["clip_drawn_shape_to_persona_median"]
            < figures["clip_drawn_shape_to_performer_median"])
    assert figures["clip_seam_swapped_over_unswapped"] <= 1.5


def test_the_live_skin_is_measured_ten_times_a_second_and_smoothed_as_before():
    from engine.avatar.faceswap.colour import MEASURE_EVERY_S, ColourStats, LiveStats

    stats = LiveStats()
    dark = ColourStats(np.zeros(3, np.float32), np.full(3, 0.1, np.float32))
    light = ColourStats(np.ones(3, np.float32), np.full(3, 0.1, np.float32))
    measured = []
    for frame in range(31):  # one second at 30 fps: the light comes on after the first frame
        t = frame / 30.0
        if stats.due(t):
            measured.append(frame)
            stats.update(dark if frame == 0 else light, t)
    assert len(measured) == round(1.0 / MEASURE_EVERY_S) + 1  # 0, 3, 6, ... 30
    # The smoothing's time constant (0.25 s) holds whatever the measuring rate: after 1 s the
    # mean has come 1 - exp(-4) of the way.
    assert stats.current.mean[0] == pytest.approx(1.0 - np.exp(-1.0 / 0.25), abs=1e-6)
    assert stats.due(0.5)  # a clock that restarted measures at once


def test_build_faceswap_writes_a_signed_persona_that_loads_for_the_camera(gl, tmp_path, capsys):
    """``persona avatar build-faceswap``: a real person's photo needs --camera as well as who
    consented; the folder it writes, signed with --key, passes the live consent check for the
    camera and loads as a face swap (no mouth picture: the performer's own mouth shows)."""
    import skimage.data

    from engine.avatar.loader import load_avatar
    from engine.cli import main
    from engine.gl.programs import ShaderLibrary

    Image.fromarray(skimage.data.astronaut()).save(tmp_path / "a.png")
    key = tmp_path / "k.key"
    assert main(["avatar", "keygen", "-o", str(key)]) == 0
    consent = ["--person", "Eileen Collins", "--consent-from", "Eileen Collins",
               "--consent-note", "agreed to appear as herself on calls", "--uses", "therapy",
               "--key", str(key)]
    out = tmp_path / "swap"
    assert main(["avatar", "build-faceswap", str(tmp_path / "a.png"), "--name", "eileen",
                 "--out", str(out), *consent]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--camera" in error[0] and not out.exists()
    assert main(["avatar", "build-faceswap", str(tmp_path / "a.png"), "--name", "eileen",
                 "--out", str(out), "--camera", *consent]) == 0
    assert {p.name for p in out.iterdir()} >= {"avatar.toml", "photo.png", "mesh.npz"}
    assert not (out / "mouth.png").exists()
    shaders = ShaderLibrary(gl.ctx)
    loaded = load_avatar(str(out), gl, shaders, use="therapy")
    try:
        assert loaded.manifest.kind.name == "faceswap" and loaded.use == "therapy"
        assert loaded.needs_camera and loaded.camera_consented  # the camera picture may reach it
    finally:
        loaded.avatar.release()
        shaders.release()
