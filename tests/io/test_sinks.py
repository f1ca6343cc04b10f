"""Sink contracts: checks at the edge, close once, y4m, MP4 recorder, virtual camera, factory."""

from __future__ import annotations

import io
import logging
import os
import threading
import time

import av
import numpy as np
import pytest
import pyvirtualcam

from engine.capture.synthetic import SyntheticSource
from engine.errors import ConfigError, SinkError
from engine.output import Sink, first_working, make_sink, open_sinks
from engine.output.memory import MemorySink
from engine.output.null import NullSink
from engine.output.recorder import RecorderSink
from engine.output.virtualcam import VirtualCameraSink
from engine.output.y4m import Y4MSink, read_y4m
from engine.output.yuv import i420_to_rgb
from engine.types import AudioBlock, Frame

W, H, FPS = 96, 64, 30


def frames(count: int, size=(W, H)):
    source = SyntheticSource(size, FPS, realtime=False)
    source.start()
    return [source.latest() for _ in range(count)]


@pytest.mark.parametrize("make", [NullSink, MemorySink], ids=["null", "memory"])
def test_sink_contract(make):
    sink = make()
    assert isinstance(sink, Sink)
    with pytest.raises(RuntimeError):
        sink.write(frames(1)[0])  # before open
    with sink:
        sink.open(W, H, FPS)
        with pytest.raises(TypeError):
            sink.write(Frame(np.zeros((H, W, 3), np.float32), 0.0, 0))
        with pytest.raises(ValueError):
            sink.write(Frame(np.zeros((H, W + 2, 3), np.uint8), 0.0, 0))
        with pytest.raises(TypeError):
            sink.write(np.zeros((H, W, 3), np.uint8))
        for frame in frames(3):
            sink.write(frame)
    assert sink.frames_written == 3
    sink.close()
    with pytest.raises(RuntimeError):
        sink.write(frames(1)[0])


def test_memory_sink_copies_and_closes_once():
    sink = MemorySink(max_frames=2)
    sink.open(W, H, FPS)
    shown = frames(3)
    for frame in shown:
        sink.write(frame)
    shown[2].image[:] = 0  # the loop reuses its buffers
    assert sink.images.shape == (2, H, W, 3)
    assert sink.frames[-1].image.any()
    sink.close()
    sink.close()
    assert sink.closed_count == 1


def test_open_rejects_bad_sizes():
    with pytest.raises(ValueError):
        NullSink().open(0, H, FPS)
    with pytest.raises(TypeError):
        NullSink().open(float(W), H, FPS)
    with pytest.raises(SinkError, match="even"):
        Y4MSink(os.devnull).open(W + 1, H, FPS)


def test_y4m_file_parses_back_frame_by_frame(tmp_path):
    path = tmp_path / "out.y4m"
    shown = frames(5)
    with Y4MSink(path) as sink:
        sink.open(W, H, FPS)
        for frame in shown:
            sink.write(frame)
    header, planes = read_y4m(path)
    assert (header.width, header.height, header.fps, header.chroma) == (W, H, 30, "420")
    planes = list(planes)
    assert len(planes) == 5
    for frame, i420 in zip(shown, planes):
        back = i420_to_rgb(i420, W, H).astype(int)
        # 4:2:0 keeps luma per pixel but chroma per 2x2 block: compare on average.
        assert np.abs(back - frame.image).mean() < 6
    with av.open(str(path), format="yuv4mpegpipe") as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 5 and decoded[0].shape == (H, W, 3)
    assert np.abs(decoded[4].astype(int) - shown[4].image).mean() < 6


def test_y4m_named_pipe_feeds_a_reader_and_survives_it_leaving(tmp_path, caplog):
    path = tmp_path / "camera.y4m"
    os.mkfifo(path)
    received: list[np.ndarray] = []

    def reader(count):
        with open(path, "rb") as pipe:
            header, planes = read_y4m(pipe)
            for i420 in planes:
                received.append(i420)
                if len(received) >= count:
                    return  # leave early: the writer sees EPIPE

    caplog.set_level(logging.WARNING, logger="engine.output.y4m")
    sink = Y4MSink(path)
    sink.open(W, H, FPS)
    for frame in frames(3):
        sink.write(frame)  # nobody listening yet: dropped, never blocking
    thread = threading.Thread(target=reader, args=(4,))
    thread.start()
    deadline = time.monotonic() + 10
    shown = frames(40)
    for frame in shown:
        if not thread.is_alive() or time.monotonic() > deadline:
            break
        sink.write(frame)
        time.sleep(0.02)
    thread.join(5)
    for frame in shown[:10]:
        sink.write(frame)  # the reader is gone: still no exception
        time.sleep(0.01)
    sink.close()
    assert len(received) == 4
    assert received[0].shape == (H * 3 // 2, W)
    assert any("went away" in r.getMessage() for r in caplog.records)
    assert sink.frames_dropped >= 3


def test_y4m_stdout_consumer_leaving_is_a_message_not_a_crash(caplog):
    class GonePipe(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            raise BrokenPipeError(32, "Broken pipe")

    sink = Y4MSink("-")
    sink._stream = GonePipe()  # what sys.stdout.buffer becomes when `| ffmpeg` quits
    sink._send_to_stream(b"FRAME\n")
    assert sink._consumer_gone
    assert "closed the pipe" in caplog.text


def decode_mp4(source):
    with av.open(source) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        images = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        video_seconds = float(video.duration * video.time_base)
        audio_seconds = float(audio.duration * audio.time_base) if audio else None
        return images, video.codec_context.name, video_seconds, audio_seconds


def test_recorder_writes_playable_h264_with_audio_in_sync(tmp_path):
    path = tmp_path / "out.mp4"
    rate = 48000
    shown = frames(45)
    with RecorderSink(path, audio_rate=rate) as sink:
        sink.open(W, H, FPS)
        tone = (0.3 * np.sin(np.arange(rate // FPS) * 0.05)).astype(np.float32)
        for frame in shown:
            sink.write(frame)
            sink.write_audio(AudioBlock(tone, rate))
        with pytest.raises(ValueError, match="Hz"):
            sink.write_audio(AudioBlock(tone, 16000))
    images, codec, video_seconds, audio_seconds = decode_mp4(str(path))
    assert codec == "h264"
    assert len(images) == 45 and images[0].shape == (H, W, 3)
    assert abs(video_seconds - 1.5) < 1e-6
    assert abs(audio_seconds - video_seconds) <= 1 / FPS
    assert np.abs(images[10].astype(int) - shown[10].image).mean() < 12


def test_recorder_capture_timing_repeats_a_frame_for_a_dropped_slot(tmp_path):
    path = tmp_path / "live.mp4"
    shown = frames(10)
    with RecorderSink(path, timing="capture") as sink:
        sink.open(W, H, FPS)
        for i, frame in enumerate(shown):
            # Slots 5 and 6 were dropped by the loop: frame 4 fills them, the rate stays constant.
            slot = i if i < 5 else i + 2
            sink.write(Frame(frame.image, 100.0 + slot / FPS, i))
        assert sink.frames_repeated == 2
    images, _, video_seconds, _ = decode_mp4(str(path))
    assert len(images) == 12
    assert abs(video_seconds - 12 / FPS) < 1e-6
    error = [np.abs(images[n].astype(int) - shown[4].image).mean() for n in (4, 5, 6)]
    assert max(error) < 12 and np.abs(images[7].astype(int) - shown[5].image).mean() < 12


def test_recorder_capture_timing_leaves_out_a_second_frame_for_a_written_slot(tmp_path):
    """Two frames for one slot (the loop caught up after a late frame, or drew the same camera
    frame twice): the second is left out, so the frames after it stay at their own slots; with
    it bumped to the next slot, every later frame would be a slot late."""
    path = tmp_path / "caught_up.mp4"
    shown = frames(8)
    taken = [0, 1, 2, 4.1, 4.3, 5, 6, 6]  # slots: 3 dropped, 4 taken twice, 6 the same moment
    with RecorderSink(path, timing="capture") as sink:
        sink.open(W, H, FPS)
        for frame, slot in zip(shown, taken):
            sink.write(Frame(frame.image, 100.0 + slot / FPS, frame.index))
        assert (sink.frames_left_out, sink.frames_repeated) == (2, 1)
    images, _, video_seconds, _ = decode_mp4(str(path))
    assert len(images) == 7 and abs(video_seconds - 7 / FPS) < 1e-6
    kept = [0, 1, 2, 2, 3, 5, 6]  # which frame each slot shows: 3 repeats 2; 4 is frame 3
    for image, index in zip(images, kept):
        assert np.abs(image.astype(int) - shown[index].image).mean() < 12, index


def test_recorder_capture_timing_keeps_frames_that_come_faster_than_real_time(tmp_path):
    """A fake clock's session with a live recorder: the capture times are microseconds apart;
    every frame is kept, one slot each, in order."""
    path = tmp_path / "fast.mp4"
    shown = frames(6)
    with RecorderSink(path, timing="capture") as sink:
        sink.open(W, H, FPS)
        for n, frame in enumerate(shown):
            sink.write(Frame(frame.image, 100.0 + n * 1e-5, frame.index))
        assert sink.frames_left_out == 0
    images, _, _, _ = decode_mp4(str(path))
    assert len(images) == 6
    assert all(np.abs(image.astype(int) - frame.image).mean() < 12
               for image, frame in zip(images, shown))


def test_recorder_streams_fragmented_mp4():
    stream = io.BytesIO()
    with RecorderSink(stream=stream, audio_rate=16000) as sink:
        sink.open(W, H, FPS)
        for frame in frames(8):
            sink.write(frame)
            sink.write_audio(AudioBlock(np.zeros(16000 // FPS, np.float32), 16000))
    data = stream.getvalue()
    assert b"moof" in data and b"mvex" in data  # fragmented, no seeking back
    stream.seek(0)
    images, _, _, _ = decode_mp4(stream)
    assert len(images) == 8


class RecordingBackend:
    """A pyvirtualcam backend standing in for the device driver (no v4l2loopback here): the real
    library code runs up to the device boundary, where frames are kept."""

    accepts = ("I420",)
    sent: list[np.ndarray] = []
    closed = 0

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        fmt = pyvirtualcam.camera.decode_fourcc(fourcc)
        if pyvirtualcam.PixelFormat(fmt).name not in self.accepts:
            raise RuntimeError(f"format {fmt} not supported")
        self.width, self.height = width, height

    def send(self, frame):
        RecordingBackend.sent.append(frame.copy())

    def close(self):
        RecordingBackend.closed += 1

    def device(self):
        return "/dev/fake-loopback"

    def native_fourcc(self):
        return pyvirtualcam.camera.encode_fourcc("I420")


@pytest.fixture
def recording_backend():
    RecordingBackend.sent, RecordingBackend.closed = [], 0
    pyvirtualcam.register_backend("recording", RecordingBackend)
    yield RecordingBackend
    del pyvirtualcam.camera.BACKENDS["recording"]


def test_virtual_camera_negotiates_format_and_sends(recording_backend):
    shown = frames(3)
    with VirtualCameraSink(backend="recording") as sink:
        sink.open(W, H, FPS)
        assert sink.fmt == "I420"  # RGB and BGR were refused, I420 accepted
        for frame in shown:
            sink.write(frame)
    sink.close()
    assert recording_backend.closed == 1
    assert len(recording_backend.sent) == 3
    back = i420_to_rgb(recording_backend.sent[2], W, H).astype(int)
    assert np.abs(back - shown[2].image).mean() < 6


def test_virtual_camera_without_device_says_what_to_install(recording_backend):
    recording_backend.accepts = ()
    try:
        with pytest.raises(SinkError, match="v4l2loopback|OBS") as caught:
            VirtualCameraSink(backend="recording").open(W, H, FPS)
        assert "not supported" in str(caught.value)
    finally:
        recording_backend.accepts = ("I420",)
    with pytest.raises(SinkError, match="unknown"):
        VirtualCameraSink(backend="no-such-backend").open(W, H, FPS)


def test_virtual_camera_on_this_machine_has_no_device():
    # The real v4l2loopback backend, on a machine with no loopback device.
    if any(os.path.exists(f"/dev/video{i}") for i in range(10)):
        pytest.skip("this machine has video devices")
    with pytest.raises(SinkError, match="modprobe v4l2loopback"):
        VirtualCameraSink(backend="v4l2loopback").open(W, H, FPS)


def test_first_working_lists_every_reason(tmp_path):
    with pytest.raises(SinkError) as caught:
        first_working([VirtualCameraSink(backend="nope"), Y4MSink(tmp_path / "no" / "dir.y4m")],
                      W, H, FPS)
    message = str(caught.value)
    assert "nope" in message and "dir.y4m" in message
    fallback, skipped = first_working([VirtualCameraSink(backend="nope"), NullSink()], W, H, FPS)
    assert isinstance(fallback, NullSink) and fallback.is_open
    assert len(skipped) == 1 and "nope" in skipped[0]


def test_open_sinks_from_specs(tmp_path):
    sinks = open_sinks(["null", f"virtualcam:nope|y4m:{tmp_path / 'a.y4m'}",
                        str(tmp_path / "b.mp4")], W, H, FPS)
    assert [type(s).__name__ for s in sinks] == ["NullSink", "Y4MSink", "RecorderSink"]
    for sink in sinks:
        sink.write(frames(1)[0])
        sink.close()
    with pytest.raises(ConfigError, match="expected one of"):
        make_sink("hologram")
    with pytest.raises(SinkError):
        open_sinks(["memory", "virtualcam:nope"], W, H, FPS)


def test_recorder_disk_failure_is_a_sink_error_not_a_hang():
    class FullDisk(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            raise OSError(28, "No space left on device")

    sink = RecorderSink(stream=FullDisk())
    shown = frames(60)
    with pytest.raises(SinkError, match="No space left"):
        sink.open(W, H, FPS)
        for frame in shown:
            sink.write(frame)
        sink.close()
    for frame in shown[:20]:
        sink.write(frame)  # reported once; the loop goes on without the recording
    sink.close()
    sink.close()
