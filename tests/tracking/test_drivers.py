"""Every face-input driver is a ``Tracker`` and is chosen by name."""

from __future__ import annotations

import socket


import numpy as np
import pytest

from engine.errors import ConfigError
from engine.tracking.base import Tracker
from engine.tracking.drivers import open_tracker
from engine.tracking.replay import record_track
from engine.types import FaceState


def test_drivers_by_name(tmp_path):
    path = tmp_path / "take.jsonl"
    with open(path, "w") as sink:
        record_track(sink).write(FaceState(t=0.0, found=True, blendshapes=np.zeros(52, np.float32)))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    for spec in ("mediapipe", f"replay:{path}", f"vmc:{free_port}"):
        tracker = open_tracker(spec)
        try:
            assert isinstance(tracker, Tracker), spec
        finally:
            tracker.close()
            tracker.close()  # closing twice is allowed


@pytest.mark.parametrize("spec", ["webcam", "replay:", "vmc:port", "vmc:70000", "mediapipe:x"])
def test_unknown_drivers_are_named_in_the_error(spec):
    with pytest.raises(ConfigError, match="tracker"):
        open_tracker(spec)


def test_replay_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match="nothere.jsonl"):
        open_tracker(f"replay:{tmp_path / 'nothere.jsonl'}")
