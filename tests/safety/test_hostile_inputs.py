"""A corpus of hostile inputs, one per problem found: each must be refused quickly with one line
naming what is wrong, never a traceback, a hang or a runaway render.

Command-line cases run the real ``persona`` in a subprocess (what a user sees: its exit code and
every line it prints, warnings included) with a timeout, so a regression fails instead of
hanging the suite. Files are built small in ``tmp_path``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.errors import AssetError
from engine.resources import PROJECT_ROOT
from tests.safety.hostile_files import TRIANGLE, glb, png_claiming, triangle_gltf

HANG_SECONDS = 20  # generous for a shared machine; each case takes well under a second or two
CYCLE = [{"children": [1], "mesh": 0}, {"children": [2]}, {"children": [0]}]  # 0 → 1 → 2 → 0
VRM1 = {"VRMC_vrm": {"specVersion": "1.0", "humanoid": {"humanBones": {}}}}


@dataclass
class Case:
    argv: list[str]
    stream: str = "stderr"  # where the one line goes: `scenes check` reports on stdout
    not_written: Path | None = None  # an output the command must not claim to have written


# -- building the hostile files --------------------------------------------------------------------

def write_model(tmp_path: Path, suffix: str, nodes: list[dict]) -> Path:
    path = tmp_path / f"model{suffix}"
    if suffix == ".gltf":
        path.write_text(json.dumps(triangle_gltf(nodes)))
    else:
        document = triangle_gltf(nodes, embedded=False)
        if suffix == ".vrm":
            document.update(extensionsUsed=["VRMC_vrm"], extensions=VRM1)
        path.write_bytes(glb(document, TRIANGLE))
    return path


def write_wav(path: Path, samples: int, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.zeros(samples, "<i2").tobytes())
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def consent_avatar(folder: Path, manifest_is_fifo: bool = False) -> Path:
    """An avatar folder with a real person's likeness (so signing and verifying read it)."""
    folder.mkdir()
    write_model(folder, ".glb", [{"mesh": 0}])
    manifest = folder / "avatar.toml"
    if manifest_is_fifo:
        fifo(manifest)
    else:
        manifest.write_text('kind = "gltf"\nmodel = "model.glb"\n\n[consent]\n'
                            'likeness = "Jane Example"\nconsented_by = "Jane Example"\n'
                            'date = 2026-01-15\nuses = ["demo"]\nexpires = 2027-01-31\n')
    return folder


# -- the command-line cases ------------------------------------------------------------------------

def model_cycle(suffix: str, command: str) -> Callable[[Path], Case]:
    def build(tmp_path: Path) -> Case:
        model = write_model(tmp_path, suffix, CYCLE)
        if command == "inspect":
            return Case(["avatar", "inspect", str(model)])
        # Loading for render: the preview draws the model with GL (it used to hang here).
        return Case(["avatar", "preview", str(model), "-o", str(tmp_path / "sheet.png")],
                    not_written=tmp_path / "sheet.png")
    return build


def many_instances(count: int) -> Callable[[Path], Case]:
    def build(tmp_path: Path) -> Case:
        return Case(["avatar", "inspect",
                     str(write_model(tmp_path, ".glb", [{"mesh": 0}] * count))])
    return build


def many_draws(tmp_path: Path) -> Case:
    document = triangle_gltf([{"mesh": 0}], embedded=False)
    document["meshes"][0]["primitives"] *= 600  # one mesh, 600 draw calls a frame
    (tmp_path / "model.glb").write_bytes(glb(document, TRIANGLE))
    return Case(["avatar", "inspect", str(tmp_path / "model.glb")])


def many_nodes(tmp_path: Path) -> Case:
    return Case(["avatar", "inspect", str(write_model(tmp_path, ".glb", [{}] * 20_000))])


def nested_json(tmp_path: Path) -> Case:
    path = tmp_path / "nested.gltf"
    path.write_text('{"asset": {"version": "2.0"}, "extras": ' + "[" * 100_000 + "]" * 100_000
                    + "}")
    return Case(["avatar", "inspect", str(path)])


def huge_png_source(tmp_path: Path) -> Case:
    (tmp_path / "big.png").write_bytes(png_claiming(20000, 20000))
    return Case(["run", "--source", str(tmp_path / "big.png"), "--sink", "null",
                 "--seconds", "0.1"])


def render(*flags: str, output: str = "out.mp4") -> Callable[[Path], Case]:
    def build(tmp_path: Path) -> Case:
        return Case(["render", *flags, "--silent", "-o", str(tmp_path / output)],
                    not_written=tmp_path / output)
    return build


def pitch(tmp_path: Path) -> Case:
    source = write_wav(tmp_path / "in.wav", 1600)
    return Case(["voice", "convert", str(source), str(tmp_path / "out.wav"), "--pitch", "1e9"],
                not_written=tmp_path / "out.wav")


def empty_wav(tmp_path: Path) -> Case:
    return Case(["voice", "profile", str(write_wav(tmp_path / "empty.wav", 0)),
                 "-o", str(tmp_path / "voice.toml")], not_written=tmp_path / "voice.toml")


def fifo_preset(tmp_path: Path) -> Case:
    source = write_wav(tmp_path / "in.wav", 1600)
    return Case(["voice", "convert", str(source), str(tmp_path / "out.wav"),
                 "--preset", str(fifo(tmp_path / "voice.toml"))])


def fifo_config(tmp_path: Path) -> Case:
    return render("--config", str(fifo(tmp_path / "settings.toml")), output="out.png")(tmp_path)


def binary_config(tmp_path: Path) -> Case:
    (tmp_path / "settings.toml").write_bytes(bytes(range(256)) * 4)
    return render("--config", str(tmp_path / "settings.toml"), output="out.png")(tmp_path)


def fifo_key(tmp_path: Path) -> Case:
    folder = consent_avatar(tmp_path / "jane")
    return Case(["avatar", "sign", str(folder), "--key", str(fifo(tmp_path / "signing.key"))])


def fifo_manifest(tmp_path: Path) -> Case:
    return Case(["avatar", "verify", str(consent_avatar(tmp_path / "jane", True))])


def fifo_scene(tmp_path: Path) -> Case:
    return Case(["scenes", "check", str(fifo(tmp_path / "scene.toml"))], stream="stdout")


def fifo_model(tmp_path: Path) -> Case:
    return Case(["avatar", "inspect", str(fifo(tmp_path / "model.glb"))])


def fifo_wav(tmp_path: Path) -> Case:
    return Case(["voice", "profile", str(fifo(tmp_path / "voice.wav")),
                 "-o", str(tmp_path / "voice.toml")])


CLI_CASES = {
    **{f"node cycle {suffix} {command}": model_cycle(suffix, command)
       for suffix in (".gltf", ".glb", ".vrm") for command in ("inspect", "preview")},
    "5000 mesh instances": many_instances(5000),
    "300 mesh instances": many_instances(300),
    "600 draws": many_draws,
    "20000 nodes": many_nodes,
    "nested JSON": nested_json,
    "20000x20000 PNG as --source": huge_png_source,
    "--fps 0": render("--fps", "0"),
    "--fps nan": render("--fps", "nan"),
    "--pitch 1e9": pitch,
    "script smile@1e9": render("--script", "smile@1e9"),
    "script smile@-1": render("--script", "smile@-1"),
    "script smile@nan": render("--script", "smile@nan"),
    "0-sample WAV": empty_wav,
    "FIFO --preset": fifo_preset,
    "FIFO --config": fifo_config,
    "binary --config": binary_config,
    "FIFO sign --key": fifo_key,
    "FIFO avatar.toml in verify": fifo_manifest,
    "FIFO scenes check": fifo_scene,
    "FIFO model file": fifo_model,
    "FIFO WAV": fifo_wav,
}


def persona(argv: list[str], home: Path) -> subprocess.CompletedProcess:
    """The real command line, as a user runs it, with a home of its own (no user settings,
    avatars or audit log) and no settings from the environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PERSONA_")}
    env.update(HOME=str(home), PERSONA_AUDIT_LOG="")
    return subprocess.run([sys.executable, "-m", "engine.cli", *argv], cwd=PROJECT_ROOT,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=HANG_SECONDS)


@pytest.mark.parametrize("build", CLI_CASES.values(), ids=CLI_CASES.keys())
def test_command_refuses_in_one_line(build, tmp_path):
    case = build(tmp_path)
    (tmp_path / "home").mkdir()
    result = persona(case.argv, tmp_path / "home")
    output = {"stdout": result.stdout, "stderr": result.stderr}
    message = output.pop(case.stream)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert len(message.strip().splitlines()) == 1, message
    assert output.popitem()[1] == "", output
    if case.not_written is not None:
        assert not case.not_written.exists()


# -- through the loaders, in this process ----------------------------------------------------------

class Hang(Exception):
    pass


def refused_quickly(call: Callable[[], object]) -> AssetError:
    """The AssetError ``call`` raises, within ``HANG_SECONDS``."""

    def alarm(signum, frame):
        raise Hang(f"took longer than {HANG_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(HANG_SECONDS)
    try:
        with pytest.raises(AssetError) as caught:
            call()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert len(str(caught.value).splitlines()) == 1
    return caught.value


def scene_with_background(tmp_path: Path, image: bytes):
    from engine.scenes import load_scene

    (tmp_path / "background.png").write_bytes(image)
    path = tmp_path / "scene.toml"
    path.write_text('name = "Hostile"\navatar = "default"\n\n[background]\n'
                    'image = "background.png"\n')
    return load_scene(path)


def real_png(width: int, height: int) -> bytes:
    """A genuine 1-channel PNG: a few hundred kilobytes that decode to width*height bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((height, width), np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("image", [
    pytest.param(lambda: png_claiming(20000, 20000), id="header claims 20000x20000"),
    # 81 megapixels: under Pillow's own bomb limit, over ours; it used to be decoded in full.
    pytest.param(lambda: real_png(9000, 9000), id="real 9000x9000"),
])
def test_huge_background_is_refused_before_decoding(image, tmp_path):
    from engine.scene_loader import load_background

    scene = scene_with_background(tmp_path, image())
    error = refused_quickly(lambda: load_background(scene))
    assert "background.png" in str(error)


def test_huge_embedded_texture_is_refused_before_decoding(tmp_path):
    from engine.avatar.gltf import load_model

    document = triangle_gltf([{"mesh": 0}])
    uri = "data:image/png;base64," + base64.b64encode(png_claiming(20000, 20000)).decode()
    document.update(images=[{"uri": uri}], textures=[{"source": 0}],
                    materials=[{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}])
    document["meshes"][0]["primitives"][0]["material"] = 0
    path = tmp_path / "textured.gltf"
    path.write_text(json.dumps(document))
    assert "images[0]" in str(refused_quickly(lambda: load_model(path)))


@pytest.mark.parametrize("suffix", [".gltf", ".glb", ".vrm"])
def test_node_cycle_is_refused_naming_the_node(suffix, tmp_path):
    from engine.avatar.gltf import load_model

    error = refused_quickly(lambda: load_model(write_model(tmp_path, suffix, CYCLE)))
    assert "node0" in str(error) and "cycle" in str(error)


def test_deep_hierarchy_is_refused(tmp_path):
    from engine.avatar.gltf import MAX_NODE_DEPTH, load_model

    chain = [{"children": [n + 1]} for n in range(MAX_NODE_DEPTH + 1)] + [{"mesh": 0}]
    error = refused_quickly(lambda: load_model(write_model(tmp_path, ".glb", chain)))
    assert "levels deep" in str(error)
