"""Checkpoints: the full vox-256 model in FOMM's layout round trip, and every way a file can be
wrong gives one line naming it; a pickle with code in it is refused, its code never run."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from engine.errors import AssetError
from engine.neural.checkpoint import LAYOUT, load_checkpoint, save_checkpoint
from engine.neural.model import TINY, VOX_256, Model


def _one_line(error: pytest.ExceptionInfo, *parts: str) -> str:
    text = str(error.value)
    assert "\n" not in text
    for part in parts:
        assert part in text, text
    return text


def test_vox256_saves_in_fomm_layout_reloads_strictly_and_animates(tmp_path, astronaut):
    from engine.neural.animator import Animator
    from engine.neural.bench import random_statistics

    model = Model.build(VOX_256, seed=0).eval()
    random_statistics(model)
    count = model.parameters_count()
    assert 55e6 < count < 65e6  # "about 60 M parameters"
    optimizers = {"generator": torch.optim.Adam(model.generator.parameters()).state_dict(),
                  "kp_detector": torch.optim.Adam(model.kp_detector.parameters()).state_dict()}
    path = tmp_path / "vox-cpk.pth.tar"
    save_checkpoint(path, model, epoch=12, optimizers=optimizers)
    content = torch.load(path, weights_only=True)
    assert set(LAYOUT) <= set(content) and content["epoch"] == 12
    assert content["kp_detector"]["down.weight"].shape == (3, 1, 13, 13)
    assert content["generator"]["bottleneck.r5.conv2.weight"].shape == (256, 256, 3, 3)
    assert content["generator"]["dense_motion_network.mask.weight"].shape == (11, 108, 7, 7)
    assert content["kp_detector"]["jacobian.weight"].shape == (40, 35, 7, 7)
    loaded = load_checkpoint(path, VOX_256)
    assert loaded.epoch == 12 and len(loaded.sha256) == 64
    for net, again in ((model.generator, loaded.model.generator),
                       (model.kp_detector, loaded.model.kp_detector)):
        for key, value in net.state_dict().items():
            assert torch.equal(value, again.state_dict()[key]), key
    from PIL import Image

    source = np.asarray(Image.fromarray(astronaut[0:300, 100:400]).resize((256, 256)))
    animator = Animator(loaded.model, "cpu")
    animator.set_source(source)
    picture = animator.animate(source[::-1].copy())  # any driving frame: the path runs through
    assert picture.shape == (256, 256, 3) and picture.dtype == np.uint8


class _Payload:
    """Pickles as a call to os.system: what a hostile checkpoint would carry."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_weights_only_refuses_a_pickle_with_code_and_never_runs_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth.tar"
    torch.save({"generator": _Payload(str(marker)), "kp_detector": {}}, path)
    with pytest.raises(AssetError) as error:
        load_checkpoint(path, TINY)
    _one_line(error, str(path), "weights-only")
    assert not marker.exists()


def test_a_truncated_checkpoint_is_one_line(tmp_path, tiny_checkpoint):
    data = tiny_checkpoint.read_bytes()
    path = tmp_path / "cut.pth.tar"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AssetError) as error:
        load_checkpoint(path, TINY)
    _one_line(error, str(path), "not a loadable")


def test_shape_mismatch_and_missing_keys_are_one_line_naming_them(tmp_path, tiny_model):
    content = {"generator": dict(tiny_model.generator.state_dict()),
               "kp_detector": dict(tiny_model.kp_detector.state_dict())}
    content["generator"]["final.weight"] = torch.zeros(3, 8, 5, 5)
    del content["kp_detector"]["kp.bias"]
    content["kp_detector"]["extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pth.tar"
    torch.save(content, path)
    with pytest.raises(AssetError) as error:
        load_checkpoint(path, TINY)
    _one_line(error, "kp_detector", "1 missing (kp.bias)", "1 unexpected (extra.weight)")
    del content["kp_detector"]["extra.weight"]
    content["kp_detector"]["kp.bias"] = tiny_model.kp_detector.kp.bias.detach()
    torch.save(content, path)
    with pytest.raises(AssetError) as error:
        load_checkpoint(path, TINY)
    _one_line(error, "generator", "shape mismatch",
              "final.weight (3, 8, 5, 5) vs model (3, 8, 7, 7)")


def test_the_wrong_size_the_wrong_hash_or_no_generator_is_refused(tmp_path, tiny_checkpoint):
    with pytest.raises(AssetError) as error:
        load_checkpoint(tiny_checkpoint, VOX_256)
    _one_line(error, "does not match the model")
    with pytest.raises(AssetError) as error:
        load_checkpoint(tiny_checkpoint, TINY, sha256="0" * 64)
    _one_line(error, "sha256", "changed")
    path = tmp_path / "half.pth.tar"
    torch.save({"kp_detector": {}}, path)
    with pytest.raises(AssetError) as error:
        load_checkpoint(path, TINY)
    _one_line(error, "no generator entry")
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(AssetError) as error:
        load_checkpoint(path, TINY)
    _one_line(error, "not a loadable")


def test_a_fifo_is_refused_without_waiting(tmp_path):
    path = tmp_path / "fifo.pth"
    os.mkfifo(path)
    with pytest.raises(AssetError) as error:
        load_checkpoint(path, TINY)
    _one_line(error, "not a regular file")
