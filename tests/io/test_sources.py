"""Sources: contracts, real media files, and a camera that disappears mid-session."""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine.capture import open_source
from engine.capture.media import ImageSource, VideoFileSource
from engine.capture.synthetic import SyntheticSource
from engine.capture.webcam import WebcamSource, find_device
from engine.errors import AssetError, ConfigError, DeviceError


def check_frame(frame, size=None):
    assert frame.image.dtype == np.uint8 and frame.image.ndim == 3 and frame.image.shape[2] == 3
    if size is not None:
        assert frame.size == size


def test_synthetic_source_moves_and_is_deterministic():
    with SyntheticSource((160, 90), 30.0, realtime=False) as source:
        first, second = source.latest(), source.latest()
    check_frame(first, (160, 90))
    assert (first.index, second.index) == (0, 1)
    assert not np.array_equal(first.image, second.image)
    assert np.array_equal(SyntheticSource((160, 90)).render(1), second.image)


def test_video_file_plays_once_offline(shared_asset):
    source = VideoFileSource(shared_asset("video/pyfeat_single_face.mp4"), loop=False,
                             realtime=False)
    source.start()
    frames = []
    while not source.finished:
        frame = source.latest()
        if not source.finished:
            frames.append(frame)
    source.close()
    check_frame(frames[0], (640, 360))
    assert 50 <= len(frames) <= 80  # 2.4 s at its own rate
    assert [f.index for f in frames] == list(range(len(frames)))


def test_video_file_loops_in_realtime_at_its_own_pace(shared_asset):
    source = VideoFileSource(shared_asset("video/pyfeat_single_face.mp4"), loop=True)
    source.start()
    seen = set()
    started = time.perf_counter()
    while time.perf_counter() - started < 0.5:
        seen.add(source.latest().index)
        time.sleep(0.01)
    source.close()
    elapsed = time.perf_counter() - started
    assert max(seen) <= elapsed * source.fps + 2  # never runs ahead of the clock


def test_image_source_and_errors(tmp_path, shared_asset):
    source = ImageSource(shared_asset("face/pyfeat_single_face.jpg"))
    source.start()
    a, b = source.latest(), source.latest()
    check_frame(a)
    assert b.index == a.index + 1 and b.t_capture >= a.t_capture
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(AssetError, match="broken.jpg"):
        ImageSource(broken).start()
    with pytest.raises(AssetError, match="missing.png"):
        ImageSource(tmp_path / "missing.png").start()


def test_open_source_specs(tmp_path):
    assert isinstance(open_source("synthetic"), SyntheticSource)
    assert isinstance(open_source("clip.mp4"), VideoFileSource)
    assert isinstance(open_source("face.PNG"), ImageSource)
    assert isinstance(open_source("webcam:0"), WebcamSource)
    with pytest.raises(ConfigError, match="notes.txt"):
        open_source("notes.txt")


class FlakyCamera:
    """Stands in for cv2.VideoCapture (no camera exists on these machines): delivers frames,
    then fails as an unplugged camera does, until the test plugs it back in."""

    plugged = True
    opened = 0

    def __init__(self, *args) -> None:
        FlakyCamera.opened += 1
        self.alive = FlakyCamera.plugged
        self.count = 0

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.alive

    def read(self):
        if not (self.alive and FlakyCamera.plugged):
            return False, None
        self.count += 1
        time.sleep(0.005)
        image = np.full((48, 64, 3), (10, 20, 30 + self.count % 200), np.uint8)  # BGR
        return True, image

    def release(self) -> None:
        self.alive = False


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_webcam_unplugged_mid_run_keeps_last_frame_and_recovers(caplog):
    FlakyCamera.plugged, FlakyCamera.opened = True, 0
    source = WebcamSource(0, (64, 48), 30.0, opener=FlakyCamera)
    source.start()
    try:
        assert wait_for(lambda: source.latest() is not None)
        frame = source.latest()
        assert tuple(frame.image[0, 0]) == (frame.image[0, 0, 0], 20, 10)  # BGR → RGB
        FlakyCamera.plugged = False
        assert wait_for(lambda: source.lost)
        held = source.latest()
        time.sleep(0.1)
        assert source.latest() is held  # the loop keeps getting the last good frame
        assert "stopped sending frames" in caplog.text
        FlakyCamera.plugged = True
        assert wait_for(lambda: not source.lost)
        assert wait_for(lambda: source.latest().index > held.index)
        assert source.reconnects == 1 and "is back" in caplog.text
    finally:
        source.close()


def test_webcam_missing_at_start_is_a_clear_error():
    FlakyCamera.plugged = False
    with pytest.raises(DeviceError, match="could not be opened"):
        WebcamSource(3, opener=FlakyCamera).start()
    FlakyCamera.plugged = True


def test_camera_by_unknown_name_lists_cameras():
    with pytest.raises(DeviceError, match="no camera named like 'NoSuchCam'"):
        find_device("NoSuchCam")
    assert find_device("2") == 2 and find_device(None) == 0
