"""`persona avatar inspect`: the channel → target/expression table with weights, the channels
that drive nothing, and a proposed [expressions] block that loads when pasted."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from engine.avatar.commands import inspect_lines
from engine.avatar.gltf_kind import configure, read_model
from engine.avatar.mapping import channel_routes
from engine.types import BLENDSHAPE_NAMES

KHRONOS = ("gltf/SimpleMorph/SimpleMorph.gltf", "gltf/AnimatedMorphCube/AnimatedMorphCube.gltf")


def table(lines: list[str]) -> dict[str, str]:
    """The channel rows of inspect's table: channel → what it moves."""
    start = next(i for i, line in enumerate(lines) if line.startswith("channel map"))
    rows = {}
    for line in lines[start + 1:start + 1 + len(BLENDSHAPE_NAMES)]:
        channel, moves = line.split(maxsplit=1)
        rows[channel] = moves
    return rows


def block(lines: list[str]) -> str:
    """The proposed lines from the ``[expressions]`` header on (commented or not)."""
    start = next(i for i, line in enumerate(lines) if line.lstrip("# ") == "[expressions]")
    return "\n".join(lines[start:]) + "\n"


def avatar_folder(tmp_path: Path, model: Path, expressions: str) -> Path:
    """An avatar folder around (a copy of) ``model`` with ``expressions`` pasted in."""
    folder = tmp_path / "pasted"
    folder.mkdir()
    for part in model.parent.iterdir():
        shutil.copy(part, folder)
    (folder / "avatar.toml").write_text(f'kind = "gltf"\nmodel = "{model.name}"\n\n{expressions}')
    return folder


def loaded_mapping(folder: Path):
    from engine.safety import strict_toml

    data = strict_toml.load(folder / "avatar.toml")
    return read_model(configure(folder, data, "avatar.toml")).mapping


@pytest.mark.parametrize("sample", KHRONOS)
def test_khronos_morph_samples_say_nothing_is_driven_and_give_a_template(
        tmp_path, shared_asset, sample):
    model = shared_asset(sample)
    lines = inspect_lines(str(model))
    rows = table(lines)
    assert list(rows) == list(BLENDSHAPE_NAMES)
    assert all(moves == "- drives nothing" for moves in rows.values())
    text = "\n".join(lines)
    assert "no names (target0, target1)" in text
    proposal = block(lines)
    assert proposal.startswith("# [expressions]\n# jawOpen = \"target0\"\n")
    assert all(line.startswith("#") for line in proposal.splitlines())
    # Pasted as printed it loads (all comments); uncommented it maps what it says.
    assert not channel_routes(loaded_mapping(avatar_folder(tmp_path, model, proposal)))["jawOpen"]
    uncommented = re.sub(r"^# ", "", proposal, flags=re.M)
    (tmp_path / "pasted" / "avatar.toml").write_text(
        f'kind = "gltf"\nmodel = "{model.name}"\n\n{uncommented}')
    routes = channel_routes(loaded_mapping(tmp_path / "pasted"))
    assert routes["jawOpen"] == ["target0 1"]
    assert routes["mouthSmileLeft"] == ["target1 1"]


def test_named_targets_get_a_block_guessed_from_their_names(tmp_path, shared_asset):
    original = shared_asset("gltf/SimpleMorph/SimpleMorph.gltf")
    data = json.loads(original.read_text())
    data["meshes"][0]["extras"] = {"targetNames": ["Smile", "Blink_L"]}
    folder = tmp_path / "named"
    folder.mkdir()
    model = folder / "named.gltf"
    model.write_text(json.dumps(data))
    lines = inspect_lines(str(model))
    proposal = block(lines)
    assert proposal == ("[expressions]\neyeBlinkLeft = \"Blink_L\"\n"
                        "mouthSmileLeft = { Smile = 0.5 }\nmouthSmileRight = { Smile = 0.5 }\n")
    (folder / "avatar.toml").write_text(f'kind = "gltf"\nmodel = "named.gltf"\n\n{proposal}')
    routes = channel_routes(loaded_mapping(folder))
    assert routes["eyeBlinkLeft"] == ["Blink_L 1"]
    assert routes["mouthSmileLeft"] == routes["mouthSmileRight"] == ["Smile 0.5"]
    # Once pasted, inspect shows the table driven and proposes nothing more.
    again = inspect_lines(str(folder))
    assert table(again)["eyeBlinkLeft"] == "Blink_L 1"
    assert not any(line.startswith("[expressions]") for line in again)


def test_vrm_table_shows_presets_with_weights(shared_asset):
    lines = inspect_lines(str(shared_asset("vrm/Godette_vrm_v4.vrm")))
    rows = table(lines)
    assert rows["jawOpen"] == "aa 1 (VRM) → ah 1"
    # A smile drives the closed-smile preset (relaxed), not Godette's open "oh" happy.
    assert rows["mouthSmileLeft"] == "relaxed 0.5 (VRM) → uu 0.25, look_up 0.125"
    assert rows["cheekSquintLeft"].startswith("happy 0.5 (VRM) → oh 0.25")
    assert rows["tongueOut"] == "- drives nothing"
    undriven = next(line for line in lines if line.startswith("drive nothing:"))
    assert {c for c, moves in rows.items() if moves == "- drives nothing"} == \
        set(undriven.removeprefix("drive nothing: ").split(", "))
    assert not any(line.startswith("[expressions]") for line in lines)  # presets drive it


def test_arkit_named_model_drives_everything_directly():
    lines = inspect_lines("default")
    rows = table(lines)
    assert rows["jawOpen"].startswith("jawOpen 1")
    assert not any(moves == "- drives nothing" for moves in rows.values())
