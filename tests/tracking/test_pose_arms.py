"""Upper-body tracking on real pictures (engine/tracking/pose.py, MediaPipe Pose 0.10.21), the
camera tracker carrying it when a scene asks, and the scene's mirror applied to the arms.

What the footage shows (looked at frame by frame): both clips frame the person from the chest
up, so the shoulder joints sit on the bottom edge (Pexels: partly below it, the left one at the
right edge) and elbows and wrists are out of the picture; MediaPipe still guesses them, with low visibility. The right thing for
the avatar there is its rest pose. The astronaut photo (scikit-image) shows the performer's
right upper arm hanging at her side, which must be followed.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.scenes import Style, stylize
from engine.tracking.media import read_frames
from engine.tracking.pose import (EASE_S, REST, PoseDetector, UpperBodyTracker, arm_angles, follow_weights,
                                  segment_directions, swing)
from engine.tracking.rotations import matrix_from_quat
from engine.types import Expression, Frame

# Frame stride and how many frames to read: 20 frames over each clip (Pexels: its first 10 s, sad
# to crying with a hand over the face).
CLIPS = {"video/WolfgangLanger_Pexels.mp4": (12, 240), "video/pyfeat_single_face.mp4": (4, 72)}


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_pose_on_footage_finds_the_shoulders_and_rests_the_unseen_arms(shared_asset, clip):
    tracker = UpperBodyTracker()
    seen, raw_angles, followed = [], [], []
    try:
        stride, frames = CLIPS[clip]
        for frame in read_frames(shared_asset(clip), frames):
            if frame.index % stride:
                continue
            arms = tracker.track(frame)
            followed.append(arm_angles(arms))
            landmarks = tracker.last
            if landmarks is None:
                continue
            width, height = frame.size
            seen.append(landmarks)
            shoulders = landmarks.image[:, 0]
            # The shoulders: the performer's left on the image's right, about the middle of the
            # frame, at the bottom edge (the joints lie under the visible shoulder line; in the
            # Pexels clip her left shoulder reaches the right edge).
            assert shoulders[0, 0] > shoulders[1, 0]
            assert 0.2 * width < shoulders[:, 0].mean() < 0.8 * width
            assert np.all((shoulders[:, 0] > -0.2 * width) & (shoulders[:, 0] < 1.2 * width))
            assert np.all((shoulders[:, 1] > 0.6 * height) & (shoulders[:, 1] < 1.5 * height))
            assert np.all(landmarks.visibility[:, 0] > 0.3)
            raw = swing(REST, segment_directions(landmarks.points))
            raw_angles.append(arm_angles(raw.astype(np.float32)))
    finally:
        tracker.close()
    assert len(seen) >= 0.9 * len(followed), f"a person in {len(seen)} of {len(followed)} frames"
    raw_angles = np.array(raw_angles)
    assert np.all(np.isfinite(raw_angles))
    # MediaPipe's arm estimate moves over the clip (both clips: the upper arm by several degrees)...
    assert np.all(raw_angles[:, :, 0].std(axis=0) > 1.0), raw_angles.std(axis=0)
    # ...but the elbows are out of the picture, so the avatar keeps its arms at rest.
    assert max(follow_weights(s)[:, :2].max() for s in seen) == 0.0
    np.testing.assert_array_equal(np.array(followed), 0.0)


def test_a_visible_arm_is_followed_on_a_photo():
    import skimage.data

    tracker = UpperBodyTracker(video=False)
    try:
        image = np.ascontiguousarray(skimage.data.astronaut())
        arms = tracker.track(Frame(image, 0.0, 0))  # a photo: followed at once, no easing in
    finally:
        tracker.close()
    weights = tracker.follower.weights
    assert weights[1, 0] == pytest.approx(1.0), weights  # her right upper arm, seen
    assert weights[0, 1] == 0.0 and weights[1, 1] == 0.0  # the forearms leave the picture
    upper = matrix_from_quat(arms[1, 0]) @ REST[1, 0]  # where the avatar's right upper arm points
    assert upper[1] < -0.8, upper  # hanging down...
    assert upper[0] < 0.0, upper  # ...on her right side (-x in the body frame)
    np.testing.assert_allclose(upper, segment_directions(tracker.last.points)[1, 0], atol=0.05)


def test_the_camera_tracker_runs_pose_only_when_asked():
    import skimage.data

    from engine.tracking.mediapipe_tracker import MediaPipeTracker
    from engine.tracking.threaded import ThreadedTracker

    image = np.ascontiguousarray(skimage.data.astronaut())
    inner = MediaPipeTracker()
    tracker = ThreadedTracker(lambda: inner)
    try:
        assert inner.track(Frame(image, 0.0, 0)).arms is None
        tracker.set_upper_body(True)  # what the session does when a scene enables it
        face = inner.track(Frame(image, 1 / 30, 1))
        assert face.found and face.arms.shape == (2, 3, 4) and face.arms.dtype == np.float32
        # The looks alternate: the first empty frame may still hold the other look's face.
        inner.track(Frame(np.zeros_like(image), 2 / 30, 2))
        blank = inner.track(Frame(np.zeros_like(image), 3 / 30, 3))
        assert not blank.found and blank.arms is not None  # arms ease on their own
        for n in range(4, 23):  # followed for 2/3 s: the seen segments ease in
            inner.track(Frame(image, n / 30, n))
        tracker.set_upper_body(False)  # a switch to a scene without upper body
        follower = inner._body.follower
        weights = [follower.weights.max()]
        assert weights[0] > 0.5
        for n in range(23, 80):
            arms = inner.track(Frame(image, n / 30, n)).arms
            if arms is None:
                break
            weights.append(follower.weights.max())
        # The arms eased down to rest over pose.EASE_S (no snap), then the pose model was freed.
        assert arms is None and inner._body is None
        assert np.all(np.diff(weights) < 0) and len(weights) >= EASE_S * 30 * weights[0] - 1
        assert np.diff(weights).min() >= -1 / (EASE_S * 30) - 1e-6
    finally:
        tracker.close()


def test_a_mirroring_scene_shows_the_left_arm_on_the_avatars_right():
    left_out = swing(REST[0, 0], np.array([1.0, 0.0, 0.0]))  # the performer's left arm out
    arms = np.tile(np.array([0.0, 0.0, 0.0, 1.0], np.float32), (2, 3, 1))
    arms[0, 0] = left_out
    expression = Expression(arms=arms)
    assert stylize(expression, Style(mirror=False)).arms[0, 0] == pytest.approx(left_out)
    shown = stylize(expression, Style(mirror=True)).arms
    np.testing.assert_allclose(shown[0], np.tile([0.0, 0.0, 0.0, 1.0], (3, 1)), atol=1e-7)
    # The avatar's right upper arm now points out to its right, as in a mirror.
    np.testing.assert_allclose(matrix_from_quat(shown[1, 0]) @ REST[1, 0], [-1.0, 0.0, 0.0],
                               atol=1e-6)
    assert stylize(Expression(), Style(mirror=True)).arms is None


def test_only_the_shipped_model_is_used():
    with pytest.raises(ValueError, match="would have to be downloaded"):
        PoseDetector(complexity=2)
