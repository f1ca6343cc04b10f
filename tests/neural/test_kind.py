"""The ``neural`` kind end to end: ``persona avatar neural`` writes the folder (checkpoint hash in
the manifest), the avatar loads through the consent check, and live it draws the model's
picture from the tracked camera frame over the scene's background on real GL."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
from PIL import Image

from engine.cli import main
from engine.errors import AssetError

SIZE = (320, 240)
BLUE = (0.0, 0.0, 1.0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, tiny_checkpoint, astronaut):
    root = tmp_path_factory.mktemp("neural-avatar")
    photo = root / "astronaut.png"
    Image.fromarray(astronaut).save(photo)
    out = root / "astro"
    assert main(["avatar", "neural", "--checkpoint", str(tiny_checkpoint), "--source", str(photo),
                 "--name", "astro", "--model", "tiny", "--synthetic", "--out", str(out)]) == 0
    return out


def test_the_folder_records_the_checkpoint_and_its_hash(folder, tiny_checkpoint):
    from engine.avatar.commands import inspect_lines

    toml = (folder / "avatar.toml").read_text()
    sha = hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    assert f'checkpoint_sha256 = "{sha}"' in toml and 'kind = "neural"' in toml
    assert (folder / "model.pth.tar").read_bytes() == tiny_checkpoint.read_bytes()
    assert Image.open(folder / "source.png").size == (64, 64)
    lines = inspect_lines(str(folder))
    assert any("model.pth.tar" in line and "source.png" in line for line in lines)  # likeness
    assert "per frame: expression, landmarks, camera picture" in lines


def test_a_changed_checkpoint_is_refused_at_load(folder, tmp_path):
    import shutil

    from engine.avatar.loader import prepare_avatar

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    data = bytearray((copy / "model.pth.tar").read_bytes())
    data[-200] ^= 1
    (copy / "model.pth.tar").write_bytes(bytes(data))
    with pytest.raises(AssetError, match="sha256 .* changed"):
        prepare_avatar(copy, use=None)


def test_a_photo_without_a_face_is_one_line(tmp_path, tiny_checkpoint):
    photo = tmp_path / "grey.png"
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(photo)
    code = main(["avatar", "neural", "--checkpoint", str(tiny_checkpoint), "--source", str(photo),
                 "--name", "x", "--model", "tiny", "--synthetic", "--out", str(tmp_path / "x")])
    assert code == 1


def test_live_it_draws_the_model_picture_over_the_scene_background(folder, gl, astronaut):
    from engine.avatar.base import frame_input
    from engine.avatar.loader import load_avatar
    from engine.gl.compositor import Background, Compositor
    from engine.gl.programs import ShaderLibrary
    from engine.tracking.mediapipe_tracker import MediaPipeTracker
    from engine.types import Expression, Frame

    tracker = MediaPipeTracker(video=False)
    camera = Frame(np.ascontiguousarray(astronaut), time.perf_counter(), 0)
    face = tracker.track(camera)
    tracker.close()
    assert face.found
    shaders = ShaderLibrary(gl.ctx)
    compositor = Compositor(gl.ctx, shaders, SIZE)
    layer = compositor.layers[0]
    layer.set_background(Background(color=BLUE))
    loaded = load_avatar(folder, gl, shaders)
    try:
        assert loaded.needs_camera and loaded.camera_consented  # synthetic likeness
        avatar = loaded.avatar
        frame = frame_input(loaded, Expression(), face, camera, anonymous_scene=False)
        deadline = time.monotonic() + 60.0
        while avatar.pictures < 2 and time.monotonic() < deadline:
            avatar.render(frame, layer.begin())
            time.sleep(0.02)
        assert avatar.pictures >= 2, "the model produced no picture in 60 s"
        avatar.render(frame, layer.begin())
        image = compositor.finish(layer).copy()
        assert avatar.status_line().startswith("model ")
        avatar.calibrate()  # what the C hotkey calls (engine.app)
    finally:
        loaded.release()
        compositor.release()
        shaders.release()
    height, width = image.shape[:2]
    # Outside the square: the scene's background, never the camera's room.
    assert (image[:, :40] == (0, 0, 255)).all() and (image[:, -40:] == (0, 0, 255)).all()
    # The square's middle: the model's picture of the source (not the background).
    centre = image[height // 2 - 20:height // 2 + 20, width // 2 - 20:width // 2 + 20]
    assert np.abs(centre.astype(int) - (0, 0, 255)).sum(axis=-1).min() > 30


def test_the_calibrate_command_and_the_hud_reach_the_neural_avatar(folder, tmp_path, astronaut):
    from engine.config import Settings
    from engine.output.null import NullSink
    from engine.scenes import load_scene
    from engine.session import build_app
    from engine.status import Command, CommandName

    Image.fromarray(astronaut).save(tmp_path / "camera.png")
    (tmp_path / "neural.toml").write_text(f'name = "Neural"\navatar = "{folder}"\n')
    settings = Settings(source=str(tmp_path / "camera.png"), sinks=[], scene="Neural",
                        use="demo")
    scenes = [load_scene(tmp_path / "neural.toml")]
    session = build_app(settings, sinks=[NullSink()], scenes=scenes)
    try:
        app = session.app
        driver = app.director.current.avatar.avatar.driver

        def run_until(done) -> None:
            deadline = time.monotonic() + 60.0
            while not done() and time.monotonic() < deadline:
                app.run(max_frames=5)
            assert done()

        run_until(lambda: driver.fps > 0 and not driver.calibrating)  # the first face: neutral
        assert app.status().avatar_note.startswith("model ")
        app.apply(Command(CommandName.CALIBRATE))
        assert driver.calibrating
        run_until(lambda: not driver.calibrating)
    finally:
        session.close()
