"""``tools/make_neural_footage.py``: a held-out persona's footage, a fraction of a second of each
performance, is written as face squares (and the held-out render kept); the scripts follow the
seed."""

from __future__ import annotations

import importlib.util
import json
import random

import numpy as np

from engine.resources import PROJECT_ROOT


def _tool():
    path = PROJECT_ROOT / "tools" / "make_neural_footage.py"
    spec = importlib.util.spec_from_file_location("make_neural_footage", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_footage_maker_writes_face_squares_of_a_held_out_persona(tmp_path, shared_asset):
    shared_asset("video/WolfgangLanger_Pexels.mp4")  # the driving video must be there
    tool = _tool()
    index = tool.make(tmp_path, 64, seed=3, drive_seconds=0.4, script_seconds=0.6, scripts=1,
                      max_frames=8, splits=("heldout",), only=("juniper",))
    assert [(c["identity"], c["performance"]) for c in index["clips"]] == \
        [("juniper", "drive"), ("juniper", "script0")]
    for clip in index["clips"]:
        faces = np.load(tmp_path / clip["file"])["faces"]
        assert faces.dtype == np.uint8 and faces.shape[1:] == (64, 64, 3)
        assert 2 <= len(faces) == clip["faces"] <= 8
        assert faces.std() > 10  # a picture, not a flat square
        assert (tmp_path / clip["file"]).with_suffix(".mp4").is_file()
    assert json.loads((tmp_path / "index_heldout.json").read_text())["seed"] == 3


def test_scripts_follow_the_seed_and_turn_the_head():
    tool = _tool()
    first = tool.random_script(random.Random(5), 6.0)
    assert first == tool.random_script(random.Random(5), 6.0)
    assert first != tool.random_script(random.Random(6), 6.0)
    assert first.count("[[key]]") >= 5 and "yaw =" in first
