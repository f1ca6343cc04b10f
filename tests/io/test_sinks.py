"""Sinks: y4m read back frame by frame (ours and FFmpeg's reader), MP4 with audio decoded by
PyAV, the virtual camera through pyvirtualcam up to the device boundary, alternatives tried in
order with one error listing every reason."""

from __future__ import annotations

import os
import threading

import av
import numpy as np
import pytest
import pyvirtualcam

from engine.errors import ConfigError, SinkError
from engine.output.factory import make_sink, open_sinks
from engine.output.memory import MemorySink
from engine.output.recorder import RecorderSink
from engine.output.virtualcam import VirtualCameraSink, install_hint
from engine.output.y4m import Y4MSink, read_y4m
from engine.output.yuv import i420_to_rgb
from engine.types import AudioBlock, Frame

SIZE = (64, 48)
FPS = 30.0


def frames(count: int) -> list[Frame]:
    """Distinct flat colours, easy to recognise after 4:2:0 and compression."""
    out = []
    for n in range(count):
        image = np.empty((SIZE[1], SIZE[0], 3), np.uint8)
        image[:] = ((n * 40) % 256, 255 - (n * 40) % 256, 128)
        out.append(Frame(image, n / FPS, n))
    return out


def test_y4m_file_reads_back_frame_by_frame(tmp_path):
    path = tmp_path / "out.y4m"
    sent = frames(5)
    with Y4MSink(path) as sink:
        sink.open(*SIZE, FPS)
        for frame in sent:
            sink.write(frame)
    header, planes = read_y4m(path)
    assert (header.width, header.height, header.fps) == (64, 48, 30)
    received = [i420_to_rgb(p, *SIZE) for p in planes]
    assert len(received) == 5
    for original, back in zip(sent, received):
        assert np.abs(original.image.astype(int) - back.astype(int)).max() <= 4
    # FFmpeg's own demuxer agrees.
    with av.open(str(path), format="yuv4mpegpipe") as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 5 and decoded[0].shape == (48, 64, 3)


def test_y4m_named_pipe_with_a_live_reader(tmp_path):
    path = tmp_path / "cam.y4m"
    os.mkfifo(path)
    received = []

    def reader() -> None:
        header, planes = read_y4m(path)
        for plane in planes:
            received.append(plane)
            if len(received) == 3:
                return

    thread = threading.Thread(target=reader)
    thread.start()
    sink = Y4MSink(path)
    sink.open(*SIZE, FPS)
    for frame in frames(200):  # the sink drops what a slow reader cannot take, never blocks
        sink.write(frame)
        if len(received) >= 3:
            break
        threading.Event().wait(0.005)
    thread.join(timeout=10)
    sink.close()  # the reader has gone away: closing must not hang or raise
    assert len(received) == 3


def test_recorder_mp4_with_audio_decodes_in_sync(tmp_path):
    path = tmp_path / "rec.mp4"
    rate = 48000
    sink = RecorderSink(path, audio_rate=rate)
    sink.open(*SIZE, FPS)
    tone = np.sin(2 * np.pi * 440 * np.arange(rate // 30) / rate).astype(np.float32) * 0.3
    for frame in frames(60):
        sink.write(frame)
        sink.write_audio(AudioBlock(tone, rate, frame.t_capture))
    sink.close()
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        video_frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    assert video_frames == 60
    assert abs(samples / rate - video_frames / FPS) <= 1 / FPS + 1024 / rate


def test_recorder_to_a_stream_writes_fragmented_mp4(tmp_path):
    path = tmp_path / "stream.mp4"
    with open(path, "wb") as stream:
        sink = RecorderSink(stream=stream)
        sink.open(*SIZE, FPS)
        for frame in frames(10):
            sink.write(frame)
        sink.close()
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 10


def test_sink_checks_frames_at_the_edge():
    sink = MemorySink()
    sink.open(*SIZE, FPS)
    with pytest.raises(TypeError):
        sink.write(Frame(np.zeros((48, 64, 3), np.float32), 0.0, 0))
    with pytest.raises(ValueError):
        sink.write(Frame(np.zeros((10, 10, 3), np.uint8), 0.0, 0))
    sink.close()
    sink.close()
    assert sink.closed_count == 1


class RecordingCamera:
    """A pyvirtualcam backend that keeps what it is sent: the real library up to the device,
    which these machines do not have (no v4l2loopback)."""

    sent: list[np.ndarray] = []

    def __init__(self, width, height, fps, fourcc, device, **kwargs) -> None:
        self.width, self.height = width, height

    def device(self) -> str:
        return "recording-camera"

    def native_fourcc(self):
        return None

    def send(self, frame: np.ndarray) -> None:
        RecordingCamera.sent.append(frame.copy())

    def close(self) -> None:
        pass


@pytest.fixture
def recording_backend():
    pyvirtualcam.register_backend("persona-test", RecordingCamera)
    RecordingCamera.sent = []
    yield "persona-test"
    pyvirtualcam.camera.BACKENDS.pop("persona-test", None)


def test_virtual_camera_through_pyvirtualcam(recording_backend):
    sink = VirtualCameraSink(backend="persona-test")
    sink.open(*SIZE, FPS)
    for frame in frames(3):
        sink.write(frame)
    sink.close()
    assert len(RecordingCamera.sent) == 3
    assert sink.fmt in ("RGB", "BGR", "I420", "RGBA")


def test_no_virtual_camera_names_what_to_install():
    sink = VirtualCameraSink(backend="v4l2loopback" if "v4l2loopback" in
                             pyvirtualcam.camera.BACKENDS else None)
    with pytest.raises(SinkError) as error:
        sink.open(*SIZE, FPS)
    assert "v4l2loopback" in str(error.value)
    assert "v4l2loopback" in install_hint("Linux") and "OBS" in install_hint("Windows")


def test_alternatives_fall_back_and_failures_list_every_reason(tmp_path):
    sinks = open_sinks([f"virtualcam|y4m:{tmp_path / 'fallback.y4m'}"], *SIZE, FPS)
    assert type(sinks[0]).__name__ == "Y4MSink"
    for sink in sinks:
        sink.close()
    with pytest.raises(SinkError) as error:
        open_sinks([f"virtualcam|y4m:{tmp_path / 'no' / 'such' / 'dir.y4m'}"], *SIZE, FPS)
    message = str(error.value)
    assert "VirtualCamera" in message and "dir.y4m" in message
    with pytest.raises(ConfigError, match="unknown sink 'carrier-pigeon'"):
        make_sink("carrier-pigeon")
