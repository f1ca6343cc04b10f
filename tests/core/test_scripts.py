"""Expression scripts: one vocabulary (inline, TOML files, preview, docs), the performer playing
them, and `persona render` with a script file, --drive VIDEO, --avatar and the style flags."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from engine.config import Settings
from engine.errors import ConfigError
from engine.expression_script import (EXPRESSIONS, channels_of, parse_inline, parse_script_file,
                                      read_script, vocabulary)
from engine.performer import ScriptedPerformer
from engine.types import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES

ROOT = Path(__file__).resolve().parents[2]
GREETING = ROOT / "scenes" / "scripts" / "greeting.toml"


def persona(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def script(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


# -- the vocabulary ----------------------------------------------------------------------------------

def test_vocabulary_is_named_expressions_and_the_52_channels():
    assert vocabulary() == (*EXPRESSIONS, *BLENDSHAPE_NAMES)
    assert {"neutral", "smile", "laugh", "surprise", "sad", "angry", "talk"} <= set(EXPRESSIONS)
    for expression in EXPRESSIONS.values():
        assert set(expression.channels) <= set(BLENDSHAPE_NAMES)
    assert dict(channels_of("jawOpen")) == {"jawOpen": 1.0}


def test_docs_page_lists_the_vocabulary_as_the_code_has_it():
    page = (ROOT / "docs" / "scripts.md").read_text()
    for name, expression in EXPRESSIONS.items():
        channels = ", ".join(f"{c} {v:g}" for c, v in expression.channels.items()) or "-"
        assert f"| `{name}` | {expression.meaning} | {channels} |" in page, name
    rows = re.findall(r"^\| `([A-Za-z]+)` \|", page, re.M)
    assert rows == list(EXPRESSIONS), "the table has exactly the named expressions, in order"
    assert ", ".join(f"`{n}`" for n in BLENDSHAPE_NAMES) in page
    assert "docs/scripts.md" in (ROOT / "README.md").read_text()
    assert "scripts.md" in (ROOT / "docs" / "avatars.md").read_text()


def test_preview_tiles_are_named_from_the_vocabulary():
    from engine.avatar.preview import EXPRESSION_GROUPS

    names = [label for label, _ in EXPRESSION_GROUPS if " " not in label]  # gaze/head tiles
    assert set(names) <= set(vocabulary()) and len(names) >= 12


# -- inline scripts ----------------------------------------------------------------------------------

def test_inline_takes_raw_channels_and_named_expressions():
    poses = parse_inline("smile:0.8@1.5, jawOpen:0.6@1,talk")
    assert [(p.expression, p.intensity, p.hold_s) for p in poses] == [
        ("smile", 0.8, 1.5), ("jawOpen", 0.6, 1.0), ("talk", 1.0, 1.5)]


@pytest.mark.parametrize("text, message", [
    ("smile,grimace", r"unknown expression 'grimace'.*named expressions: neutral, smile.*jawOpen"),
    ("jawopen", r"did you mean 'jawOpen'"),
    ("smile:2.5", r"intensity must be from 0 to 2"),
    ("smile@0", r"more than 0"),
    ("smile@nan", r"more than 0"),
    ("", r"no expressions"),
])
def test_inline_errors_list_the_vocabulary(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_inline(text)


# -- script files ------------------------------------------------------------------------------------

def test_example_script_reads_and_plays_its_keys():
    poses = read_script(GREETING)
    assert [p.expression for p in poses][:3] == ["neutral", "smile", "talk"]
    assert sum(p.hold_s for p in poses) == pytest.approx(7.0)
    performer = ScriptedPerformer(poses, loop=False)
    smile = performer.state_at(2.1).blendshapes  # 0.8 s in: 1.3 s after the smile key started
    expected = EXPRESSIONS["smile"].channels["mouthSmileLeft"] * 1.1
    assert smile[BLENDSHAPE_INDEX["mouthSmileLeft"]] == pytest.approx(expected, abs=1e-5)
    wink = performer.state_at(6.0).blendshapes  # the raw-channel key
    assert wink[BLENDSHAPE_INDEX["eyeBlinkLeft"]] == pytest.approx(1.0)
    assert wink[BLENDSHAPE_INDEX["mouthSmileLeft"]] == pytest.approx(0.7, abs=1e-5)


def test_keys_ease_and_hold_as_written(tmp_path):
    poses = read_script(script(tmp_path, """
[[key]]
at = 1.0
channels = { jawOpen = 0.8 }
ease = "linear"
ease_s = 1.0
head = { yaw = 20 }

[[key]]
at = 3.0
expression = "neutral"
ease = "hold"
"""))
    assert [p.expression for p in poses] == ["neutral", "jawOpen", "neutral"]  # rests first
    performer = ScriptedPerformer(poses, loop=False)
    jaw = BLENDSHAPE_INDEX["jawOpen"]
    at = {t: performer.state_at(t).blendshapes[jaw] for t in (0.9, 1.5, 2.0, 2.9, 3.01)}
    assert at[0.9] == 0.0 and at[1.5] == pytest.approx(0.4, abs=1e-5)  # linear, half-way
    assert at[2.0] == pytest.approx(0.8, abs=1e-5) and at[2.9] == pytest.approx(0.8, abs=1e-5)
    assert at[3.01] == 0.0  # "hold" jumps
    from engine.tracking.head_pose import yaw_pitch_roll

    yaw = yaw_pitch_roll(performer.state_at(2.5).head)[0]
    assert abs(abs(yaw) - 20) < 4  # 20 degrees plus the slow sway


@pytest.mark.parametrize("body, message", [
    ('[[key]]\nat = 0\nexpression = "smiel"\n',
     r"s\.toml:1: key 1: expression: unknown expression 'smiel'; did you mean 'smile'\?"
     r".*named expressions"),
    ('[[key]]\nat = 0\nexpression = "smile"\n\n[[key]]\nat = 1\nchannels = { jawOpn = 1 }\n',
     r"s\.toml:5: key 2: channels\.jawOpn: not an ARKit channel; did you mean 'jawOpen'"),
    ('[[key]]\nat = 2\nexpression = "smile"\n[[key]]\nat = 1\nexpression = "sad"\n',
     r"key 2: at: 1 s is not after"),
    ('[[key]]\nat = 0\nexpression = "smile"\nintensity = 3\n', r"key 1: intensity: must be a"),
    ('[[key]]\nat = 0\nexpression = "smile"\nease = "bounce"\n', r"key 1: ease: .*linear"),
    ('[[key]]\nat = 0\nexpression = "smile"\nspeed = 1\n', r"key 1: speed: unknown field"),
    ('[[key]]\nat = 0\nexpression = "smile"\nchannels = { jawOpen = 1 }\n', r"not both"),
    ('[[key]]\nat = 0\nexpression = "smile"\nhead = { yaw = 90 }\n', r"head\.yaw: .*-60 to 60"),
    ('duration = 1\n[[key]]\nat = 2\nexpression = "smile"\n', r"duration: .*before the last"),
    ('title = "x"\n', r"unknown field 'title'"),
    ('[[key]]\nat = 0\nexpression = "smile"\nat = 1\n', r"s\.toml:4"),  # TOML syntax
])
def test_script_file_errors_name_the_file_key_and_field(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        read_script(script(tmp_path, body))


def test_script_file_is_bounded(tmp_path):
    path = script(tmp_path, "# " + "x" * (300 * 1024))
    with pytest.raises(ConfigError, match="s.toml"):
        read_script(path)
    many = "".join(f"[[key]]\nat = {i}\nexpression = \"smile\"\n" for i in range(10_001))
    with pytest.raises(ConfigError, match="10001 keys"):
        parse_script_file(tmp_path / "many.toml", many)


# -- the render command ------------------------------------------------------------------------------

def test_render_scene_takes_avatar_and_style():
    from engine.offline import render_scene

    settings = Settings().updated({"scene": "expressive"}, "test")
    scene = render_scene(settings, "toon", {"intensity": 0.5, "mirror": False})
    assert scene.avatar == "toon" and scene.name == "Expressive"
    assert (scene.style.intensity, scene.style.mirror) == (0.5, False)
    assert scene.style.exaggeration == 0.75  # not named: the scene's own
    with pytest.raises(ConfigError, match=r"--avatar: no avatar 'tooon'"):
        render_scene(settings, "tooon")


def _frames(path: Path) -> tuple[list[np.ndarray], float, bool]:
    with av.open(str(path)) as container:
        rate = float(container.streams.video[0].average_rate)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        return frames, rate, bool(container.streams.audio)


def test_render_mp4_from_a_script_file_with_another_avatar(tmp_path):
    output = tmp_path / "greeting.mp4"
    result = persona("render", "--script", str(GREETING), "--avatar", "toon", "--size", "320x180",
                     "--fps", "10", "--silent", "--seconds", "3", "-o", str(output))
    assert result.returncode == 0, result.stderr
    frames, rate, audio = _frames(output)
    assert (len(frames), rate, audio) == (30, 10.0, False)
    # Neutral at first, smiling by 2 s: the script plays.
    assert np.abs(frames[5].astype(int) - frames[20].astype(int)).mean() > 0.3


def test_render_driven_by_a_recorded_video(tmp_path, shared_asset):
    video = shared_asset("video/WolfgangLanger_Pexels.mp4")
    output = tmp_path / "driven.mp4"
    result = persona("render", "--drive", str(video), "--seconds", "2", "--size", "320x180",
                     "-o", str(output))
    assert result.returncode == 0, result.stderr
    frames, rate, audio = _frames(output)
    assert rate == pytest.approx(24000 / 1001, abs=0.01)  # the video's own rate
    assert len(frames) == int(2 * 24000 / 1001)
    assert audio, "the video's audio, morphed, is the voice"
    motion = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(frames, frames[5:])]
    assert max(motion) > 0.3, "the avatar follows the person in the video"
    result = persona("render", "--drive", str(video), "--script", "smile", "-o",
                     str(tmp_path / "x.mp4"))
    assert result.returncode == 1 and "--drive" in result.stderr


def test_render_with_a_photo_avatar(tmp_path):
    """--avatar takes any kind: a photo avatar built from a picture of our own generated
    persona (a synthetic likeness), smiling and opening its jaw."""
    from PIL import Image

    from engine.avatar.loader import open_avatar
    from engine.avatar.photo.build import build_photo_avatar
    from engine.safety.likeness import Consent
    from engine.avatar.preview import render_tiles
    from engine.gl.context import GLContext
    from engine.gl.programs import ShaderLibrary
    from engine.scenes import Framing
    from engine.types import Expression

    with GLContext.headless() as gl:
        shaders = ShaderLibrary(gl.ctx)
        persona_avatar = open_avatar("default", gl, shaders).avatar
        persona_avatar.set_framing(Framing(zoom=1.6))
        picture, = render_tiles(persona_avatar, gl, shaders, [("neutral", Expression())],
                                (512, 512), background=(0.85, 0.85, 0.85))
        persona_avatar.release()
        shaders.release()
    folder = build_photo_avatar(picture, "persona.png", "rendered", tmp_path / "photo",
                                Consent(person=None, consented_by=None, note=None,
                                        uses=("demo",), synthetic=True, public_key=None))
    output = tmp_path / "sheet.png"
    result = persona("render", "--avatar", str(folder), "--script",
                     "neutral@0.5,smile@0.6,jawOpen@0.6", "--size", "320x180", "-o", str(output))
    assert result.returncode == 0, result.stderr
    sheet = np.asarray(Image.open(output).convert("RGB")).astype(int)
    neutral, smile, jaw = (sheet[48:228, 8 + i * 328:8 + i * 328 + 320] for i in range(3))
    assert np.abs(neutral - smile).mean() > 0.2 and np.abs(neutral - jaw).mean() > 0.2
