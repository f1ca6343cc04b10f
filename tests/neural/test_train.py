"""``persona train``: a few steps of the tiny model on a real clip write a checkpoint in FOMM's
layout that loads strictly and resumes."""

from __future__ import annotations

import torch

from engine.cli import main
from engine.neural.checkpoint import LAYOUT, load_checkpoint
from engine.neural.model import TINY


def test_train_writes_a_fomm_checkpoint_that_loads_and_resumes(tmp_path, shared_asset, capsys):
    video = shared_asset("video/pyfeat_single_face.mp4")
    out = tmp_path / "tiny.pth.tar"
    args = ["train", str(video), "--out", str(out), "--size", "tiny", "--batch", "2",
            "--checkpoint-every", "2", "--consent", "test clip, MIT licence, research use"]
    assert main([*args, "--steps", "2"]) == 0
    printed = capsys.readouterr().out
    assert "face frames" in printed and "step 2/2" in printed and "reconstruction" in printed
    content = torch.load(out, weights_only=True)
    assert set(LAYOUT) <= set(content) and content["epoch"] == 2
    assert content["optimizer_generator"]["state"]  # Adam moments, for resuming
    assert content["training"]["videos"][0]["video"] == video.name
    first = load_checkpoint(out, TINY)
    assert main([*args, "--steps", "3", "--resume"]) == 0
    assert "resumed at step 2" in capsys.readouterr().out
    again = load_checkpoint(out, TINY)
    assert again.epoch == 3
    before = first.model.generator.state_dict()["final.weight"]
    assert not torch.equal(before, again.model.generator.state_dict()["final.weight"])


def test_train_needs_a_consent_statement(tmp_path, shared_asset):
    video = shared_asset("video/pyfeat_single_face.mp4")
    assert main(["train", str(video), "--out", str(tmp_path / "x.pth.tar")]) == 1
