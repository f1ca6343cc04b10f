"""The director in the loop: switches at the frame boundary, crossfades over the set time (pixel
checks), refuses a scene broken mid-session while the current one stays, the privacy blank card,
idle life when the face is lost, and camera backdrops that never show the camera's detail."""

from __future__ import annotations

import numpy as np
import pytest

from engine.app import Command
from engine.director import voice_follower
from engine.backdrop import AMBIENT_SIZE, BLUR_SIZE, blur_picture
from engine.blank import blank_card
from engine.scenes import load_scene
from engine.types import BLENDSHAPE_INDEX, FaceState, Frame
from tests.control.conftest import FPS, Rig, tint_at_centre

JAW = BLENDSHAPE_INDEX["jawOpen"]
BLINK = BLENDSHAPE_INDEX["eyeBlinkLeft"]


@pytest.fixture
def make_rig(gl, tmp_path):
    made = []

    def build(crossfade_s: float = 0.0) -> Rig:
        rig = Rig(gl, tmp_path, crossfade_s=crossfade_s)
        made.append(rig)
        return rig

    yield build
    for rig in made:
        rig.close()


def centre(rig: Rig) -> np.ndarray:
    image = rig.sink.frames[-1].image
    return image[image.shape[0] // 2, image.shape[1] // 2].astype(int)


def test_crossfade_blends_over_the_set_time(make_rig):
    rig = make_rig(crossfade_s=0.2)  # 6 frames at 30 fps
    rig.app.run(max_frames=2)
    rig.app.commands.put(Command("scene", "2"))
    reds, greens = [], []
    for _ in range(9):
        rig.app.step()
        red, green, _ = centre(rig)
        reds.append(red)
        greens.append(green)
    # Frame k after the switch shows (1 - k/6) of the outgoing red over the incoming green.
    expected = [max(0.0, 1.0 - k / (0.2 * FPS)) * 255 for k in range(9)]
    assert np.allclose(reds, expected, atol=3), reds
    assert np.allclose(np.array(reds) + np.array(greens), 255, atol=3)
    assert rig.app.director.outgoing is None and tint_at_centre(rig.sink) == (0, 255, 0)


def test_a_scene_broken_during_the_session_is_refused_and_the_current_stays(make_rig):
    rig = make_rig()
    rig.app.step()
    path = rig.app.director.scenes[1].path
    good = path.read_text()
    path.write_text(good.replace('avatar = "green"', 'avatar = "green"\nhotkey2 = 1'))
    rig.app.commands.put(Command("scene", "2"))
    rig.app.step()
    assert rig.app.director.current.scene.name == "red" and tint_at_centre(rig.sink) == (255, 0, 0)
    refused = rig.app.status().to_json()["refused"]
    assert refused["scene"] == "green" and "green.toml:4: hotkey2" in refused["reason"]
    assert "did you mean 'hotkey'" in refused["reason"]
    path.write_text(good)  # fixed: the next request works
    rig.app.commands.put(Command("scene", "2"))
    rig.app.step()
    assert tint_at_centre(rig.sink) == (0, 255, 0) and rig.app.director.refused is None


def test_a_scene_whose_avatar_fails_to_load_is_refused(make_rig):
    rig = make_rig()
    rig.app.step()
    path = rig.app.director.scenes[2].path
    path.write_text(path.read_text().replace('avatar = "blue"', 'avatar = "missing"'))
    assert rig.app.director.switch("3") is False
    assert rig.app.director.current.scene.name == "red"


def test_the_blank_card_replaces_everything_and_goes_away(make_rig):
    rig = make_rig()
    rig.app.step()
    rig.app.commands.put(Command("blank"))
    rig.app.step()
    shown = rig.sink.frames[-1].image.astype(int)
    card = blank_card(shown.shape[1::-1]).astype(int)
    assert np.abs(shown - card).mean() < 2.0  # the card, and nothing of the red scene
    assert not ((shown[..., 0] > 200) & (shown[..., 1] < 100)).any()  # no red quad
    rig.app.commands.put(Command("blank"))
    rig.app.step()
    assert tint_at_centre(rig.sink) == (255, 0, 0)


class Flaky:
    """A face with an open jaw that is lost between ``lost_from`` and ``lost_until`` seconds."""

    def __init__(self, lost_from: float, lost_until: float) -> None:
        self.lost_from, self.lost_until = lost_from, lost_until

    def track(self, frame: Frame) -> FaceState:
        t = frame.index / FPS
        if self.lost_from <= t < self.lost_until:
            return FaceState.lost(frame.t_capture)
        shapes = np.zeros(52, np.float32)
        shapes[JAW] = 0.9
        return FaceState(t=frame.t_capture, found=True, blendshapes=shapes, confidence=1.0)

    def close(self) -> None:
        pass


def test_idle_life_eases_to_a_breathing_blinking_neutral_and_back(make_rig):
    rig = make_rig()
    rig.app.tracker = Flaky(lost_from=1.0, lost_until=9.0)
    jaw, blink, pitch = [], [], []
    for _ in range(int(11 * FPS)):
        work = rig.app.step()
        jaw.append(float(work.expression.blendshapes[JAW]))
        blink.append(float(work.expression.blendshapes[BLINK]))
        pitch.append(float(work.expression.head[1, 2]))
    jaw, blink = np.array(jaw), np.array(blink)
    lost, back = int(1.0 * FPS), int(9.0 * FPS)
    assert jaw[lost - 1] > 0.5
    steps = np.abs(np.diff(jaw[lost:lost + int(2 * FPS)]))
    assert steps.max() < 0.15, "eases, never jumps"
    assert jaw[lost + int(2.5 * FPS):back].max() < 0.05, "at rest while lost"
    assert blink[lost + int(2 * FPS):back].max() > 0.8, "blinks while idle"
    assert np.ptp(pitch[lost + int(2 * FPS):back]) > 0.01, "breathes while idle"
    assert np.abs(np.diff(jaw[back:back + int(1 * FPS)])).max() < 0.2
    assert jaw[-1] > 0.5, "eases back when the face returns"


def test_blurred_camera_background_keeps_no_detail():
    rng = np.random.default_rng(1)
    detailed = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    assert BLUR_SIZE == (16, 9) and AMBIENT_SIZE == (4, 3)
    for faces in ((), ((500.0, 200.0, 200.0, 250.0),)):
        shown = blur_picture(detailed, faces).astype(float)
        # Everything shown is an enlargement of a 16x9 (4x3) picture: nothing finer survives.
        assert np.abs(np.diff(shown, axis=1)).max() < 30
        assert shown.std() < 10  # random detail averaged away


def test_camera_backdrop_scene_renders_without_the_camera_picture(make_rig):
    rig = make_rig()
    path = rig.app.director.scenes[1].path
    path.write_text(path.read_text().replace("[background]\ncolor = [0.0, 0.0, 0.0]",
                                             '[background]\ncamera = "segmented"'))
    rig.app.commands.put(Command("scene", "2"))
    for _ in range(3):
        rig.app.step()
    live = rig.app.director.current
    assert live.backdrop is not None and live.backdrop.fell_back  # no face box: never trusted
    image = rig.sink.frames[-1].image.astype(int)
    camera = rig.app.source.render(rig.app._last_frame.index).astype(int)
    counter = (slice(0, 12), slice(0, 60))  # the source's frame counter: sharp digits

    def detail(picture: np.ndarray) -> float:
        return float(np.abs(np.diff(picture[counter].mean(axis=2), axis=1)).mean())

    assert detail(camera) > 20
    assert detail(image) < detail(camera) / 5  # shown only as a soft blur
    assert tint_at_centre(rig.sink) == (0, 255, 0)


def test_the_voice_follows_the_scene_and_a_missing_preset_refuses_it(make_rig):
    from engine.voice.stream import VoiceMorph

    rig = make_rig(crossfade_s=0.2)
    director = rig.app.director
    voice = VoiceMorph(48000)
    director.listen(voice_follower(voice))
    for scene, preset in zip(director.scenes, ("calm-warm", "bright-character", "no-such-voice")):
        scene.path.write_text(scene.path.read_text().replace(
            "[background]", f'voice = "{preset}"\n[background]'))
    assert director.switch("2") and voice.preset.name == "bright-character"
    assert not director.switch("3")
    assert "no-such-voice" in director.refused.reason
    assert director.current.scene.name == "green" and voice.preset.name == "bright-character"
    assert director.switch("1") and voice.preset.name == "calm-warm"


def test_a_session_starts_on_the_first_scene_that_loads(gl, tmp_path):
    from engine.director import Director
    from engine.errors import EngineError
    from engine.gl.compositor import Compositor
    from engine.gl.programs import ShaderLibrary
    from engine.scene_loader import SceneLoader
    from engine.scenes import Scene
    from tests.core.quad_avatar import quad

    shaders = ShaderLibrary(gl.ctx)
    compositor = Compositor(gl.ctx, shaders, (64, 36))

    def load(scene: Scene):
        if scene.avatar == "broken":
            raise ValueError("corrupt model")
        return lambda: quad(gl.ctx, (1.0, 1.0, 1.0))

    scenes = [Scene("A", "broken", hotkey="1"), Scene("B", "fine", hotkey="2")]
    director = Director(scenes, compositor.layers, SceneLoader(load), initial="A")
    assert director.current.scene.name == "B"
    director.close()
    with pytest.raises(EngineError, match="no scene could be loaded; A: corrupt model"):
        Director(scenes[:1], compositor.layers, SceneLoader(load))
    compositor.release()
    shaders.release()


def test_avatars_load_once_and_preload_reports_problems(make_rig):
    rig = make_rig()
    director = rig.app.director
    loads = []
    original = director.loader.load_avatar
    director.loader.load_avatar = lambda scene: loads.append(scene.avatar) or original(scene)
    for key in ("2", "1", "2", "3", "1"):
        assert director.switch(key)
    assert loads == ["green", "blue"]  # red was loaded at start; nothing loads twice
    path = director.scenes[2].path
    path.write_text(path.read_text().replace('avatar = "blue"', 'avatar = "missing"'))
    director.scenes[2] = load_scene(path)
    problems = director.preload()
    assert len(problems) == 1 and problems[0].startswith("blue:")
