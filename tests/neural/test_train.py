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


def test_tps_equivariance_is_zero_for_the_identity_and_positive_otherwise(tiny_model):
    from engine.neural.train import RandomWarp, equivariance

    frames = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        kp = tiny_model.kp_detector(frames)
        identity = RandomWarp(torch.eye(2, 3).expand(2, 2, 3), torch.zeros(2, 25, 2))
        value, jacobian = equivariance(tiny_model, frames, kp, identity)
        assert float(value) < 1e-5 and float(jacobian) < 1e-5
        spline = RandomWarp(torch.eye(2, 3).expand(2, 2, 3),
                            torch.randn(2, 25, 2, generator=torch.Generator().manual_seed(1))
                            * 0.05)
        value, jacobian = equivariance(tiny_model, frames, kp, spline)
        assert float(value) > 1e-3 and float(jacobian) > 1e-3


def test_the_tps_jacobian_is_the_derivative_of_the_map():
    from engine.neural.train import RandomWarp

    warp = RandomWarp.random(2, torch.Generator().manual_seed(2), "cpu")
    warp.weights = warp.weights * 20  # a strongly bent map
    points = torch.rand(2, 4, 2, generator=torch.Generator().manual_seed(3)) * 2 - 1
    numeric = torch.autograd.functional.jacobian(warp.points, points)  # (2, 4, 2, 2, 4, 2)
    expected = torch.stack([torch.stack([numeric[b, n, :, b, n] for n in range(4)])
                            for b in range(2)])
    assert torch.allclose(warp.jacobian(points), expected, atol=1e-5)


def test_train_reads_clips_of_face_squares(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    clip = tmp_path / "clip.npz"
    np.savez(clip, faces=rng.integers(0, 256, (6, 64, 64, 3), dtype=np.uint8))
    out = tmp_path / "small.pth.tar"
    assert main(["train", str(clip), "--out", str(out), "--size", "tiny", "--steps", "1",
                 "--batch", "2", "--synthetic"]) == 0
    assert "clip.npz: 6 face frames" in capsys.readouterr().out
    content = torch.load(out, weights_only=True)
    assert content["training"]["tps"] and content["training"]["seconds"] > 0
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, faces=rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8))
    assert main(["train", str(wrong), "--out", str(out), "--size", "tiny", "--steps", "1",
                 "--synthetic"]) == 1
