"""Avatar kinds as plug-ins: the registry, the walkthrough in docs/architecture.md followed
literally, consent over every likeness file, the per-frame privacy rule, and slow kinds that
never hold the loop."""

from __future__ import annotations

import json
import re
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from engine.avatar.base import AvatarInput, LoadedAvatar, frame_input
from engine.avatar.kinds import KINDS
from engine.avatar.loader import load_avatar, open_avatar
from engine.errors import ConfigError, ConsentError
from engine.resources import PROJECT_ROOT
from engine.safety import keys
from engine.safety.consent import sign_avatar
from engine.types import BLENDSHAPE_INDEX, Expression, FaceState, Frame, blendshape_vector

ARCHITECTURE = PROJECT_ROOT / "docs" / "architecture.md"
REAL_PERSON = """
[consent]
likeness = "Jane Example"
consented_by = "Jane Example"
date = 2026-01-15
uses = ["therapy", "demo"]
expires = 2099-01-31
public_key = "{public_key}"
"""


def walkthrough() -> tuple[str, str]:
    """The kind module and the avatar.toml from the "Adding an avatar kind" section."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text[text.index("### Adding an avatar kind"):]
    section = section[:section.index("\n## ")]
    module = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    manifest = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    return module, manifest


@pytest.fixture
def poster_kind(tmp_path, monkeypatch):
    """The walkthrough's module saved as a file and given its registry line."""
    module, _ = walkthrough()
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "poster_kind.py").write_text(module)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "poster_kind", raising=False)
    monkeypatch.setitem(KINDS, "poster", "poster_kind:KIND")
    return "poster"


@pytest.fixture
def poster_folder(tmp_path):
    from PIL import Image
    from skimage import data

    _, manifest = walkthrough()
    folder = tmp_path / "avatars" / "poster"
    folder.mkdir(parents=True)
    Image.fromarray(data.astronaut()).save(folder / "face.png")
    (folder / "avatar.toml").write_text(manifest)
    return folder


@pytest.fixture
def compositor(gl):
    from engine.gl.compositor import Background, Compositor
    from engine.gl.programs import ShaderLibrary

    shaders = ShaderLibrary(gl.ctx)
    made = Compositor(gl.ctx, shaders, (320, 240))
    made.layers[0].set_background(Background(color=(0.0, 0.0, 1.0)))
    yield made, shaders
    made.release()
    shaders.release()


def draw_until_shown(avatar, compositor, expression: Expression, pictures: int) -> np.ndarray:
    """Render until the avatar's worker has finished ``pictures`` pictures, then once more."""
    import time

    layer = compositor.layers[0]
    deadline = time.monotonic() + 20.0
    while avatar.pictures < pictures:
        assert time.monotonic() < deadline, "the inference worker never answered"
        avatar.render(AvatarInput(expression), layer.begin())
        compositor.finish(layer)
        time.sleep(0.01)
    avatar.render(AvatarInput(expression), layer.begin())
    return compositor.finish(layer).copy()


def test_an_unknown_kind_lists_the_known_ones(gl, tmp_path):
    from engine.gl.programs import ShaderLibrary

    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "avatar.toml").write_text('kind = "hologram"\n[consent]\nlikeness = "synthetic"\n')
    with pytest.raises(ConfigError, match=r"kind: 'hologram' is not a known avatar kind; "
                                          r"known: .*\bgltf\b"):
        load_avatar(folder, gl, ShaderLibrary(gl.ctx))


def test_a_kinds_own_fields_are_checked_with_the_nearest_name(gl, tmp_path, shared_asset):
    from engine.gl.programs import ShaderLibrary

    folder = tmp_path / "cube"
    folder.mkdir()
    shutil.copy(shared_asset("gltf/SimpleMorph/SimpleMorph.gltf"), folder)
    (folder / "avatar.toml").write_text('model = "SimpleMorph.gltf"\nshadng = "toon"\n'
                                        '[consent]\nlikeness = "synthetic"\n')
    with pytest.raises(ConfigError, match=r"avatar.toml:2: .*'shadng'; did you mean 'shading'"):
        load_avatar(folder, gl, ShaderLibrary(gl.ctx))


def test_the_walkthrough_kind_loads_renders_and_reacts(gl, poster_kind, poster_folder,
                                                       compositor):
    from engine.avatar.commands import inspect_lines

    made, shaders = compositor
    loaded = load_avatar(poster_folder, gl, shaders, use="demo")
    try:
        assert loaded.manifest.kind.name == "poster" and not loaded.needs_camera
        closed = draw_until_shown(loaded.avatar, made, Expression(), 1)
        assert tuple(closed[5, 5]) == (0, 0, 255)  # the background beside the poster
        poster = closed[24:216, 80:240].astype(float)  # inside rect (0.25, 0.1, 0.5, 0.8)
        assert poster.std() > 20 and np.abs(poster - (0, 0, 255)).mean() > 50
        wide = Expression(blendshapes=blendshape_vector({"jawOpen": 1.0}))
        opened = draw_until_shown(loaded.avatar, made, wide, loaded.avatar.pictures + 1)
        mouth = (slice(150, 170), slice(100, 220))  # the band: rows 160..224 of 256
        assert opened[mouth].mean() < 0.6 * closed[mouth].mean()
    finally:
        loaded.release()
    lines = inspect_lines(str(poster_folder))
    assert "avatar: poster (kind poster)" in lines and "likeness files: face.png" in lines


def test_the_signature_covers_the_new_kinds_likeness_file(gl, tmp_path, poster_kind,
                                                          poster_folder):
    from engine.gl.programs import ShaderLibrary
    from PIL import Image

    key_path = tmp_path / "artist.key"
    public = keys.generate(key_path)
    manifest = poster_folder / "avatar.toml"
    manifest.write_text('kind = "poster"\nimage = "face.png"\n'
                        + REAL_PERSON.format(public_key=public))
    sign_avatar(poster_folder, key_path)
    shaders = ShaderLibrary(gl.ctx)
    load_avatar(poster_folder, gl, shaders, use="therapy").release()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(poster_folder / "face.png")
    with pytest.raises(ConsentError, match=r"signature does not match.*face\.png"):
        load_avatar(poster_folder, gl, shaders, use="therapy")


@pytest.mark.parametrize("swapped", ["AnimatedMorphCube.bin", "skin.png"])
def test_a_gltf_signature_covers_its_buffers_and_textures(gl, tmp_path, shared_asset, swapped):
    from engine.gl.programs import ShaderLibrary
    from PIL import Image

    folder = tmp_path / "cube"
    folder.mkdir()
    source = shared_asset("gltf/AnimatedMorphCube/AnimatedMorphCube.gltf")
    document = json.loads(source.read_text())
    document["images"] = [{"uri": "skin.png"}]  # an external texture image
    (folder / "AnimatedMorphCube.gltf").write_text(json.dumps(document))
    shutil.copy(source.with_suffix(".bin"), folder)
    Image.new("RGB", (8, 8), (90, 120, 200)).save(folder / "skin.png")
    key_path = tmp_path / "artist.key"
    public = keys.generate(key_path)
    (folder / "avatar.toml").write_text('model = "AnimatedMorphCube.gltf"\n'
                                        + REAL_PERSON.format(public_key=public))
    sign_avatar(folder, key_path)
    shaders = ShaderLibrary(gl.ctx)
    load_avatar(folder, gl, shaders, use="therapy").release()
    path = folder / swapped
    path.write_bytes(path.read_bytes()[:-4] + b"\x00\x00\x80\x3f")  # one value changed
    with pytest.raises(ConsentError, match="signature does not match"):
        load_avatar(folder, gl, shaders, use="therapy")


# -- what an avatar is given each frame -------------------------------------------------------

FRAME = Frame(np.zeros((4, 4, 3), np.uint8), 0.0, 0)
FACE = FaceState(t=0.0, found=True, landmarks=np.zeros((478, 3), np.float32))


@pytest.mark.parametrize("needs_landmarks, needs_camera, consented, anonymous, face, camera", [
    (False, False, True, False, False, False),   # a blendshape avatar: the expression only
    (True, False, True, False, True, False),     # a mesh warp: landmarks, never the picture
    (True, True, True, False, True, True),       # a face swap of a consented likeness
    (True, True, False, False, True, False),     # ... whose consent does not cover the camera
    (True, True, True, True, True, False),       # ... in a scene that promises anonymity
])
def test_the_privacy_rule(needs_landmarks, needs_camera, consented, anonymous, face, camera):
    avatar = LoadedAvatar(object(), "x", needs_landmarks=needs_landmarks,
                          needs_camera=needs_camera, camera_consented=consented)
    given = frame_input(avatar, Expression(), FACE, FRAME, anonymous)
    assert (given.face is FACE) == face and (given.camera is FRAME) == camera


class Recording:
    """An avatar that keeps what it was given."""

    def __init__(self) -> None:
        self.given: list[AvatarInput] = []

    def render(self, frame: AvatarInput, target) -> None:
        self.given.append(frame)

    def release(self) -> None:
        pass


def test_in_the_loop_only_a_kind_that_asked_sees_the_camera(gl, tmp_path):
    from tests.control.conftest import Rig

    rig = Rig(gl, tmp_path)
    avatars = {"red": LoadedAvatar(Recording(), "plain"),
               "green": LoadedAvatar(Recording(), "swap", needs_landmarks=True,
                                     needs_camera=True, camera_consented=True)}
    rig.app.director.loader.load_avatar = lambda scene: lambda: avatars[scene.avatar]
    try:
        rig.app.director.loader.close()  # forget the quads the rig made
        rig.app.director.current.avatar = avatars["red"]
        for _ in range(3):
            rig.app.step()
        assert rig.app.director.switch("2")
        for _ in range(3):
            rig.app.step()
        plain, swap = (avatars[name].avatar.given for name in ("red", "green"))
        assert plain and all(g.camera is None and g.face is None for g in plain)
        assert swap and all(g.camera is not None for g in swap)
        assert np.array_equal(swap[-1].camera.image, rig.app._last_frame.image)
        # A scene that promises anonymity refuses such an avatar before showing anything.
        path = rig.app.director.scenes[2].path
        path.write_text(path.read_text().replace('avatar = "blue"',
                                                 'avatar = "green"\nanonymous = true'))
        assert not rig.app.director.switch("3")
        assert "promises anonymity" in rig.app.director.refused.reason
    finally:
        rig.close()


def test_a_slow_kind_never_holds_the_loop_and_shows_its_newest_picture(gl, compositor):
    from engine.avatar.worker_avatar import WorkerAvatar

    made, shaders = compositor
    started, release = threading.Event(), threading.Event()
    seen: list[float] = []

    def predict(frame: AvatarInput) -> np.ndarray:
        started.set()
        release.wait(30.0)  # inference that takes as long as the test says
        jaw = float(frame.expression.blendshapes[BLENDSHAPE_INDEX["jawOpen"]])
        seen.append(jaw)
        return np.full((8, 8, 4), (int(255 * jaw), 0, 0, 255), np.uint8)

    avatar = WorkerAvatar(gl.ctx, shaders, predict)
    layer = made.layers[0]
    try:
        for jaw in (0.25, 0.5, 0.75, 1.0):  # while the worker is busy on the first
            avatar.render(AvatarInput(Expression(blendshapes=blendshape_vector(
                {"jawOpen": jaw}))), layer.begin())
            assert tuple(made.finish(layer)[120, 160]) == (0, 0, 255)  # nothing yet, no wait
            assert started.wait(10.0)
        release.set()
        frame = draw_until_shown(avatar, made, Expression(
            blendshapes=blendshape_vector({"jawOpen": 1.0})), 2)
        assert seen[:2] == [0.25, 1.0]  # the inputs in between were replaced, never computed
        assert tuple(frame[120, 160]) == (255, 0, 0)
    finally:
        release.set()
        avatar.release()


def test_the_shipped_avatars_open_through_their_kind(gl):
    from engine.gl.programs import ShaderLibrary

    shaders = ShaderLibrary(gl.ctx)
    for folder in sorted((PROJECT_ROOT / "avatars").iterdir()):
        loaded = open_avatar(folder, gl, shaders)
        assert loaded.manifest.kind.name in ("gltf", "neural") and loaded.manifest.likeness_files()
        loaded.release()
    shaders.release()


def test_likeness_files_stay_inside_the_folder(tmp_path):
    from engine.safety.consent import likeness_files

    folder = tmp_path / "cube"
    folder.mkdir()
    (folder / "m.gltf").write_text(json.dumps({"asset": {"version": "2.0"},
                                               "buffers": [{"uri": "../secret.bin"}]}))
    (tmp_path / "secret.bin").write_bytes(b"x")
    assert likeness_files(folder, {"model": "m.gltf"}) == [(folder / "m.gltf").resolve()]
    Path(folder / "m.gltf").write_text(json.dumps({"asset": {"version": "2.0"}, "images": [
        {"uri": "skin.png"}, {"uri": "data:image/png;base64,AAAA"}]}))
    (folder / "skin.png").write_bytes(b"png")
    assert [p.name for p in likeness_files(folder, {"model": "m.gltf"})] == ["m.gltf", "skin.png"]
