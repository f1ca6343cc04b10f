"""VMC/OSC in and out over the loopback interface."""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine.errors import DeviceError
from engine.tracking.head_pose import rotation_from_yaw_pitch_roll, yaw_pitch_roll
from engine.tracking.vmc import VMCSender, VMCTracker, rotation_from_unity, unity_quaternion
from engine.types import BLENDSHAPE_INDEX, Expression, Frame, blendshape_vector

BLANK = np.zeros((4, 4, 3), np.uint8)


def frame() -> Frame:
    return Frame(BLANK, time.perf_counter(), 0)


def wait_for(tracker: VMCTracker, predicate, timeout: float = 2.0):
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        face = tracker.track(frame())
        if predicate(face):
            return face
        time.sleep(0.01)
    return tracker.track(frame())


@pytest.fixture
def tracker():
    tracker = VMCTracker(port=0)  # any free port
    yield tracker
    tracker.close()


def test_sender_drives_receiver(tracker):
    assert not tracker.track(frame()).found  # nothing heard yet
    head = np.eye(4, dtype=np.float32)
    head[:3, :3] = rotation_from_yaw_pitch_roll(20, -10, 5)
    shapes = blendshape_vector({"jawOpen": 0.7, "eyeBlinkLeft": 1.0, "mouthSmileRight": 0.25})
    expression = Expression(shapes, head)
    VMCSender(port=tracker.address[1]).send(expression)
    jaw = BLENDSHAPE_INDEX["jawOpen"]
    face = wait_for(tracker, lambda f: f.found and f.blendshapes[jaw] > 0 and f.head[0, 0] < 0.99)
    assert face.found
    np.testing.assert_allclose(face.blendshapes, expression.blendshapes, atol=1e-6)
    np.testing.assert_allclose(yaw_pitch_roll(face.head), (20, -10, 5), atol=1e-3)


def test_messages_from_other_apps(tracker):
    from pythonosc.udp_client import SimpleUDPClient

    client = SimpleUDPClient("127.0.0.1", tracker.address[1])
    client.send_message("/VMC/Ext/Blend/Val", ["JawOpen", 0.5])  # other capitalisation
    client.send_message("/VMC/Ext/Blend/Val", ["NotAShape", 0.9])  # ignored
    client.send_message("/VMC/Ext/Blend/Val", [3])  # malformed: ignored
    client.send_message("/VMC/Ext/Bone/Pos", ["Head", 0.0, 0.0])  # too short: ignored
    client.send_message("/VMC/Ext/Blend/Val", ["mouthPucker", 7.0])  # clamped
    client.send_message("/VMC/Ext/Blend/Apply", [])
    face = wait_for(tracker, lambda f: f.found)  # Apply commits the blend values at once
    assert face.blendshapes[BLENDSHAPE_INDEX["jawOpen"]] == pytest.approx(0.5)
    assert face.blendshapes[BLENDSHAPE_INDEX["mouthPucker"]] == 1.0
    assert np.count_nonzero(face.blendshapes) == 2


def test_port_in_use_is_a_clear_error(tracker):
    with pytest.raises(DeviceError, match="cannot listen"):
        VMCTracker(port=tracker.address[1])


def test_quaternion_conversion_round_trips():
    rotation = rotation_from_yaw_pitch_roll(-35, 12, 20)
    np.testing.assert_allclose(rotation_from_unity(unity_quaternion(rotation)), rotation, atol=1e-9)
    # Turning to the person's left turns the avatar to its left: -y rotation in Unity's axes.
    x, y, z, w = unity_quaternion(rotation_from_yaw_pitch_roll(30, 0, 0))
    assert y < 0 and abs(x) < 1e-9 and abs(z) < 1e-9
