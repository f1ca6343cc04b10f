"""Fixtures for the tracking tests: real face photos and one tracker per kind, shared."""

from __future__ import annotations

import numpy as np
import pytest

from engine.types import Frame


@pytest.fixture(scope="session")
def photos(shared_asset):
    """Real frontal face photos: scikit-image's astronaut (pip-shipped) and the shared samples."""
    import skimage.data

    from engine.tracking.media import read_image

    return {
        "astronaut": skimage.data.astronaut(),
        "pyfeat": read_image(shared_asset("face/pyfeat_single_face.jpg")),
        "obama": read_image(shared_asset("face/obama_official_portrait_2012.jpg")),
    }


@pytest.fixture(scope="session")
def photo_tracker():
    """A tracker that treats every frame as an unrelated photo."""
    from engine.tracking.mediapipe_tracker import MediaPipeTracker

    tracker = MediaPipeTracker(video=False)
    yield tracker
    tracker.close()


@pytest.fixture(scope="session")
def track_photo(photo_tracker):
    def track(image: np.ndarray):
        return photo_tracker.track(Frame(np.ascontiguousarray(image), 0.0, 0))

    return track


@pytest.fixture(scope="session")
def video_tracks(shared_asset):
    """Every frame's FaceState for the shared videos, tracked once for all tests."""
    from engine.tracking.media import read_frames
    from engine.tracking.mediapipe_tracker import MediaPipeTracker

    tracks = {}
    for name in ("pyfeat_single_face.mp4", "WolfgangLanger_Pexels.mp4"):
        tracker = MediaPipeTracker()
        try:
            frames = read_frames(shared_asset(f"video/{name}"))
            tracks[name] = [tracker.track(frame) for frame in frames]
        finally:
            tracker.close()
    return tracks
