"""Loading models and avatar folders: formats, VRM expressions, malformed files, manifests."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from engine.avatar.commands import inspect_lines
from engine.avatar.gltf import load_model
from engine.avatar.loader import load_avatar, open_avatar
from engine.avatar.mapping import ExpressionMap, normalise
from engine.errors import AssetError, ConfigError, ConsentError
from engine.types import BLENDSHAPE_INDEX, blendshape_vector


def test_vrm0_expressions_and_head_bone(shared_asset):
    model = load_model(shared_asset("vrm/Godette_vrm_v4.vrm"))
    assert model.vrm_version == "0.x"
    assert {"aa", "blink", "happy", "lookUp"} <= set(model.expressions)
    assert model.nodes[model.bones["head"]].name.lower().startswith("head")
    mapping = ExpressionMap(model)
    weights = mapping.weights(blendshape_vector({"jawOpen": 1.0}))
    aa = model.expressions["aa"].binds[0]
    assert weights[mapping.offsets[aa.instance] + aa.target] == pytest.approx(aa.weight)


@pytest.mark.parametrize("sample, happy, blink_shown", [
    # happy is binary and blends blink: above 0.5 it is 1 and hides the blink, below it is 0.
    ("vrm/VRMC_vrm_expressions_isBinary_Overrides.vrm", 0.6, 0.0),
    ("vrm/VRMC_vrm_expressions_isBinary_Overrides.vrm", 0.4, 1.0),
    # blink is binary and overridden: any happy at all suppresses it completely.
    ("vrm/VRMC_vrm_expressions_isBinary_Overridden.vrm", 0.2, 0.0),
    ("vrm/VRMC_vrm_expressions_isBinary_Overridden.vrm", 0.0, 1.0),
])
def test_vrm1_is_binary_and_override_rules(shared_asset, sample, happy, blink_shown):
    model = load_model(shared_asset(sample))
    assert model.vrm_version == "1.0"
    mapping = ExpressionMap(model)
    values = mapping.expression_weights(blendshape_vector({
        "cheekSquintLeft": happy, "cheekSquintRight": happy,  # happy's sources
        "eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}))
    shown = dict(zip(mapping.expression_names, values))
    assert shown["blink"] == pytest.approx(blink_shown)


def test_names_match_tolerantly():
    assert normalise("blendShape1.EyeBlink_L") == normalise("eyeBlinkLeft")
    assert normalise("ARKit_jawOpen") == normalise("jawOpen")
    assert normalise("mouth-smile-R") == normalise("mouthSmileRight")


def test_inspect_lists_undriven_channels(shared_asset):
    lines = inspect_lines(str(shared_asset("vrm/Godette_vrm_v4.vrm")))
    text = "\n".join(lines)
    assert "VRM 0.x" in text and "FaceMesh" in text
    assert "drive nothing:" in text and "tongueOut" in text


# -- malformed files: AssetError naming the file and the field ------------------------------------


def _gltf_json(shared_asset) -> dict:
    return json.loads(shared_asset("gltf/SimpleMorph/SimpleMorph.gltf").read_text())


def test_truncated_glb(tmp_path, shared_asset):
    data = shared_asset("vrm/Godette_vrm_v4.vrm").read_bytes()
    path = tmp_path / "cut.glb"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AssetError, match=r"cut\.glb.*(GLB|truncated)"):
        load_model(path)
    path.write_bytes(data[:10])
    with pytest.raises(AssetError, match=r"cut\.glb.*GLB header"):
        load_model(path)


def test_bad_json(tmp_path):
    path = tmp_path / "broken.gltf"
    path.write_text('{"asset": {"version": "2.0"}, "nodes": [')
    with pytest.raises(AssetError, match=r"broken\.gltf: JSON"):
        load_model(path)


def test_out_of_range_accessor(tmp_path, shared_asset):
    data = _gltf_json(shared_asset)
    data["meshes"][0]["primitives"][0]["attributes"]["POSITION"] = 99
    path = tmp_path / "bad_accessor.gltf"
    path.write_text(json.dumps(data))
    with pytest.raises(AssetError, match=r"bad_accessor\.gltf.*POSITION.*accessors\[99\]"):
        load_model(path)


def test_accessor_reading_past_its_buffer(tmp_path, shared_asset):
    data = _gltf_json(shared_asset)
    position = data["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
    data["accessors"][position]["count"] = 10_000
    path = tmp_path / "overrun.gltf"
    path.write_text(json.dumps(data))
    with pytest.raises(AssetError, match=rf"overrun\.gltf.*accessors\[{position}\]"):
        load_model(path)


def test_buffer_uri_may_not_leave_the_model_folder(tmp_path):
    data = {"asset": {"version": "2.0"}, "buffers": [{"uri": "../../etc/passwd", "byteLength": 4}],
            "bufferViews": [{"buffer": 0, "byteLength": 4}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": 1, "type": "SCALAR"}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}], "nodes": [{"mesh": 0}]}
    path = tmp_path / "escape.gltf"
    path.write_text(json.dumps(data))
    with pytest.raises(AssetError, match=r"escape\.gltf.*buffers\[0\]\.uri.*outside"):
        load_model(path)


def test_unknown_extension_is_ignored(tmp_path, shared_asset):
    data = _gltf_json(shared_asset)
    data["extensionsUsed"] = ["EXT_made_up"]
    path = tmp_path / "extended.gltf"
    path.write_text(json.dumps(data))
    assert load_model(path).extensions_ignored == ["EXT_made_up"]


# -- avatar folders ---------------------------------------------------------------------------------


def _avatar_folder(tmp_path, shared_asset, manifest: str):
    folder = tmp_path / "cube"
    folder.mkdir()
    source = shared_asset("gltf/AnimatedMorphCube/AnimatedMorphCube.gltf")
    for file in source.parent.glob("AnimatedMorphCube.*"):
        shutil.copy(file, folder / file.name)
    (folder / "avatar.toml").write_text(manifest)
    return folder


def test_avatar_folder_loads_with_its_manifest(gl, tmp_path, shared_asset):
    from engine.gl.programs import ShaderLibrary

    folder = _avatar_folder(tmp_path, shared_asset, '''
kind = "gltf"
model = "AnimatedMorphCube.gltf"
shading = "toon"
[expressions]
jawOpen = "target0"
[consent]
likeness = "synthetic"
''')
    shaders = ShaderLibrary(gl.ctx)
    loaded = load_avatar(str(folder), gl, shaders, use="therapy")
    avatar = loaded.avatar
    try:
        assert loaded.manifest.consent == {"likeness": "synthetic"}
        assert avatar.toon is True
        thin = avatar.mapping.targets.index((0, 0, "target0"))
        weights = avatar.mapping.weights(blendshape_vector({"jawOpen": 1.0}))
        assert weights[thin] == 1.0
    finally:
        avatar.release()
        shaders.release()


@pytest.mark.parametrize("manifest, error, message", [
    ('model = "AnimatedMorphCube.gltf"\nshading = "shiny"\n', ConfigError, "shading"),
    ('model = "missing.glb"\n', ConfigError, "missing.glb"),
    ('model = "../outside.glb"\n', ConfigError, "outside the avatar folder"),
    ('model = "AnimatedMorphCube.gltf"\nmodle = 1\n', ConfigError, "modle"),
    ('model = "AnimatedMorphCube.gltf"\n[expressions]\njawOpen = "nothing"\n[consent]\n'
     'likeness = "synthetic"\n', ConfigError,
     "nothing"),
    ('model = "AnimatedMorphCube.gltf"\n', ConsentError, "consent"),
])
def test_bad_manifests_name_the_field(gl, tmp_path, shared_asset, manifest, error, message):
    from engine.gl.programs import ShaderLibrary

    folder = _avatar_folder(tmp_path, shared_asset, manifest)
    with pytest.raises(error, match=message):
        load_avatar(str(folder), gl, ShaderLibrary(gl.ctx))


def test_a_bare_model_is_refused_live_but_opens_for_tools(gl, shared_asset):
    from engine.gl.programs import ShaderLibrary

    shaders = ShaderLibrary(gl.ctx)
    path = shared_asset("vrm/Godette_vrm_v4.vrm")
    with pytest.raises(ConsentError, match="Godette_vrm_v4.vrm"):
        load_avatar(str(path), gl, shaders)
    loaded = open_avatar(path, gl, shaders)
    avatar = loaded.avatar
    assert loaded.manifest.consent == {}
    assert np.all(avatar.mapping.direct[:, BLENDSHAPE_INDEX["tongueOut"]] == 0)
    avatar.release()
    shaders.release()
