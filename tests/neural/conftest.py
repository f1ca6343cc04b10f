"""Shared pieces of the neural tests: torch on 2 threads, a tiny model and its checkpoint."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_model():
    from engine.neural.bench import random_statistics
    from engine.neural.model import TINY, Model

    model = Model.build(TINY, seed=3).eval()
    random_statistics(model, seed=4)
    return model


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_model):
    from engine.neural.checkpoint import save_checkpoint

    path = tmp_path_factory.mktemp("neural") / "tiny.pth.tar"
    save_checkpoint(path, tiny_model, epoch=7)
    return path


@pytest.fixture(scope="session")
def astronaut():
    from skimage import data

    return data.astronaut()
