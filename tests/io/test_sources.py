"""Source contracts: synthetic, still image, video file, webcam (with a fake device), factory."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest

from engine.capture import Source, open_source
from engine.capture.image import ImageSource
from engine.capture.synthetic import SyntheticSource
from engine.capture.video import VideoFileSource
from engine.capture.webcam import WebcamSource, find_camera
from engine.errors import AssetError, ConfigError, DeviceError


def check_frame(frame, size):
    assert frame.image.dtype == np.uint8
    assert frame.image.shape == (size[1], size[0], 3)
    assert frame.image.flags.c_contiguous
    assert frame.t_capture <= time.perf_counter()


def test_synthetic_is_deterministic_and_moves():
    source = SyntheticSource((160, 96), 30, realtime=False)
    assert isinstance(source, Source)
    assert source.latest() is None  # not started
    with source:
        frames = [source.latest() for _ in range(3)]
    for frame in frames:
        check_frame(frame, (160, 96))
    assert [f.index for f in frames] == [0, 1, 2]
    assert not np.array_equal(frames[0].image, frames[1].image)
    np.testing.assert_array_equal(frames[2].image, SyntheticSource((160, 96)).render(2))


def test_synthetic_realtime_follows_the_clock():
    with SyntheticSource((64, 64), fps=50) as source:
        first = source.latest()
        time.sleep(0.1)
        later = source.latest()
    assert later.index - first.index >= 3


def test_image_source_fits_and_counts(shared_asset):
    path = shared_asset("face/pyfeat_single_face.jpg")
    with ImageSource(path, size=(320, 240)) as source:
        a, b = source.latest(), source.latest()
    check_frame(a, (320, 240))
    assert (a.index, b.index) == (0, 1)
    assert not a.image.flags.writeable  # shared between frames: nobody may scribble on it
    assert source.latest() is None  # closed


def test_image_source_rejects_corrupt_and_missing_files(tmp_path):
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 20)
    with pytest.raises(AssetError, match="broken.png"):
        ImageSource(corrupt).start()
    with pytest.raises(AssetError, match="nope.jpg"):
        ImageSource(tmp_path / "nope.jpg").start()


def test_video_offline_plays_every_frame_once(shared_asset):
    path = shared_asset("video/pyfeat_single_face.mp4")
    with VideoFileSource(path, size=(320, 240), loop=False, realtime=False) as source:
        frames = []
        while (frame := source.latest()) is not None:
            frames.append(frame)
        assert source.finished
        assert source.latest() is None
    assert len(frames) == 72  # the sample's frame count
    assert [f.index for f in frames] == list(range(72))
    check_frame(frames[0], (320, 240))


def test_video_loops(shared_asset):
    path = shared_asset("video/pyfeat_single_face.mp4")
    with VideoFileSource(path, size=(160, 120), loop=True, realtime=False) as source:
        frames = [source.latest() for _ in range(80)]
        assert not source.finished
    np.testing.assert_array_equal(frames[72].image, frames[0].image)


def test_video_realtime_paces_by_file_rate(shared_asset):
    path = shared_asset("video/pyfeat_single_face.mp4")
    with VideoFileSource(path, size=(160, 120), realtime=True) as source:
        first = source.latest()
        assert first is not None and first.image.shape == (120, 160, 3)  # shown from the start
        time.sleep(0.3)
        later = source.latest()
        assert source.latest() is later  # the newest frame until the next is due
    # 0.3 s at 30 fps: about 9 frames on, decoded by the source's own thread.
    assert 5 <= later.index - first.index <= 12
    assert source._position >= later.index - first.index


def test_live_sources_hand_each_new_frame_to_listeners_on_their_thread(shared_asset):
    """The camera's thread announces every frame it publishes, the same frame ``latest`` then
    returns; a listener that raises is dropped and the picture goes on."""
    heard: list[tuple[int, int]] = []

    def broken(frame):
        raise RuntimeError("listener bug")

    source = VideoFileSource(shared_asset("video/pyfeat_single_face.mp4"), size=(160, 120))
    source.listen(lambda frame: heard.append((frame.index, threading.get_ident())))
    source.listen(broken)
    with source:
        capture_thread = source._thread.ident
        time.sleep(0.3)
        last = source.latest()
    indices = [index for index, _ in heard]
    assert indices == list(range(indices[0], indices[0] + len(indices)))  # each once, in order
    assert last.index == indices[-1] and len(indices) >= 5
    # The first frame is published by start() itself; every later one by the capture thread.
    assert {thread for _, thread in heard[1:]} == {capture_thread}

    plan = FakeCamera(good=10**6, shade=50)
    webcam = WebcamSource(0, size=(64, 48), open_capture=lambda *args: plan)
    seen: list[int] = []
    webcam.listen(lambda frame: seen.append(frame.index))
    with webcam:
        time.sleep(0.1)
        newest = webcam.latest()
    assert seen[: newest.index + 1] == list(range(newest.index + 1))


def test_video_rejects_non_video(tmp_path):
    junk = tmp_path / "clip.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(AssetError, match="clip.mp4"):
        VideoFileSource(junk).start()


class FakeCamera:
    """Stands in for cv2.VideoCapture (no webcam exists here): delivers ``good`` frames, then
    fails every read, as an unplugged camera does."""

    def __init__(self, good: int, shade: int, opened: bool = True):
        self.good, self.shade, self.opened = good, shade, opened
        self.reads = 0
        self.released = False

    def isOpened(self):  # noqa: N802
        return self.opened

    def read(self):
        self.reads += 1
        time.sleep(0.002)
        if self.reads > self.good:
            return False, None
        image = np.full((48, 64, 3), self.shade, np.uint8)
        image[..., 0] = 255  # blue in BGR
        return True, image

    def release(self):
        self.released = True


def test_webcam_survives_unplug_and_comes_back(caplog):
    plan = [FakeCamera(good=5, shade=10), FakeCamera(0, 0, opened=False),
            FakeCamera(0, 0, opened=False), FakeCamera(good=10**6, shade=200)]
    opened = []

    def open_capture(index, size, fps):
        camera = plan.pop(0) if len(plan) > 1 else plan[0]
        opened.append(camera)
        return camera

    caplog.set_level(logging.WARNING, logger="engine.capture.webcam")
    source = WebcamSource(0, size=(64, 48), open_capture=open_capture, retry_delay=0.01)
    with source:
        first = source.latest()
        check_frame(first, (64, 48))
        assert tuple(first.image[0, 0]) == (10, 10, 255)  # converted BGR → RGB
        deadline = time.monotonic() + 5
        while source.reconnects == 0 and time.monotonic() < deadline:
            frame = source.latest()
            assert frame is not None  # the last good frame stays while the camera is away
            time.sleep(0.005)
        assert source.reconnects == 1
        while source.latest().image[0, 0, 1] != 200 and time.monotonic() < deadline:
            time.sleep(0.005)
        back = source.latest()
    assert tuple(back.image[0, 0]) == (200, 200, 255)
    assert back.index >= 5
    messages = [r.getMessage() for r in caplog.records]
    assert sum("stopped sending" in m for m in messages) == 1
    assert sum("is back" in m for m in messages) == 1
    assert len(opened) == 4 and all(camera.released for camera in opened)


def test_webcam_missing_at_start_is_a_clear_error():
    source = WebcamSource(3, open_capture=lambda *_: FakeCamera(0, 0, opened=False))
    with pytest.raises(DeviceError, match="webcam 3 could not be opened"):
        source.start()


def test_webcam_silent_at_start_is_a_clear_error():
    source = WebcamSource(0, open_capture=lambda *_: FakeCamera(0, 0), first_frame_timeout=0.2)
    with pytest.raises(DeviceError, match="no picture"):
        source.start()


def test_webcam_found_by_name(tmp_path):
    for index, name in ((0, "Integrated Camera: Integrated C"), (2, "HD Pro Webcam C920")):
        (tmp_path / f"video{index}").mkdir()
        (tmp_path / f"video{index}" / "name").write_text(name + "\n")
    assert find_camera("c920", root=tmp_path) == 2
    with pytest.raises(DeviceError, match="HD Pro Webcam C920"):
        find_camera("Logitech Brio", root=tmp_path)


def test_open_source_specs(shared_asset, tmp_path):
    assert isinstance(open_source("synthetic", size=(64, 64)), SyntheticSource)
    assert open_source("webcam").device == 0
    assert open_source("webcam:2").device == 2
    assert open_source("webcam:C920").device == "C920"
    video = open_source(str(shared_asset("video/pyfeat_single_face.mp4")), loop=False)
    assert isinstance(video, VideoFileSource) and not video.loop
    assert isinstance(open_source(str(shared_asset("face/pyfeat_single_face.jpg"))), ImageSource)
    with pytest.raises(AssetError, match="missing.mp4"):
        open_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(ConfigError, match="webcam"):
        open_source("telepathy")


def test_webcam_close_stops_its_capture_thread():
    before = threading.active_count()
    with WebcamSource(0, size=(64, 48), open_capture=lambda *_: FakeCamera(10**6, 1)):
        assert threading.active_count() == before + 1
    assert threading.active_count() == before
