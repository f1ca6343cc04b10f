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
    for spec in ("mediapipe", "mediapipe:mirror-average", f"replay:{path}", f"vmc:{free_port}"):
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


def test_the_mirror_averaging_driver_reads_a_mirrored_face_as_the_swapped_expression():
    import skimage.data

    from engine.tracking.blendshapes import SWAP
    from engine.types import Frame

    image = skimage.data.astronaut()
    tracker = open_tracker("mediapipe:mirror-average")
    try:
        face = tracker.track(Frame(image, 0.0, 0))
        mirror = tracker.track(Frame(np.ascontiguousarray(image[:, ::-1]), 1 / 30, 1))
    finally:
        tracker.close()
    assert face.found and mirror.found
    # The mirrored face sits elsewhere in the frame, so the tracker takes it as a new face (no
    # smoothing from the first): exactly swapped. One look a frame differs by 0.12 here.
    assert np.abs(face.blendshapes - mirror.blendshapes[SWAP]).max() < 1e-3


def test_replay_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match="nothere.jsonl"):
        open_tracker(f"replay:{tmp_path / 'nothere.jsonl'}")
