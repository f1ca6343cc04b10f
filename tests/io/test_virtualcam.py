"""The virtual camera sink up to pyvirtualcam's device boundary: pyvirtualcam runs for real, only
its backend (the driver: no v4l2loopback here) is a registered stand-in that keeps frames and
can be unplugged."""

from __future__ import annotations

import numpy as np
import pytest
import pyvirtualcam

from engine.errors import SinkError
from engine.output.factory import make_sink
from engine.output.virtualcam import VirtualCameraSink, find_device
from engine.output.yuv import i420_to_rgb
from engine.types import Frame

W, H, FPS = 64, 48, 30.0


class UnpluggableBackend:
    """A loopback device that takes I420 only and can be taken away and given back."""

    plugged = True
    sent: list[np.ndarray] = []
    opened_on: list[str | None] = []

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        if not UnpluggableBackend.plugged:
            raise RuntimeError("device not found")
        if pyvirtualcam.camera.decode_fourcc(fourcc) != "I420":
            raise RuntimeError("format not supported")
        UnpluggableBackend.opened_on.append(device)

    def send(self, frame):
        if not UnpluggableBackend.plugged:
            raise OSError("No such device")
        UnpluggableBackend.sent.append(frame.copy())

    def close(self):
        pass

    def device(self):
        return "/dev/video7"

    def native_fourcc(self):
        return pyvirtualcam.camera.encode_fourcc("I420")


@pytest.fixture
def backend():
    UnpluggableBackend.plugged, UnpluggableBackend.sent, UnpluggableBackend.opened_on = \
        True, [], []
    pyvirtualcam.register_backend("unpluggable", UnpluggableBackend)
    yield UnpluggableBackend
    del pyvirtualcam.camera.BACKENDS["unpluggable"]


def _frame(index: int) -> Frame:
    image = np.full((H, W, 3), (index * 20) % 256, np.uint8)
    return Frame(image, index / FPS, index)


def test_a_lost_device_drops_frames_then_comes_back(backend):
    sink = make_sink("virtualcam:unpluggable")
    sink.open(W, H, FPS)
    try:
        for i in range(5):
            sink.write(_frame(i))
        backend.plugged = False  # the module was unloaded, OBS's camera stopped
        for i in range(5, 5 + 45):  # 1.5 s: one failed look for it after a second
            sink.write(_frame(i))
        assert len(backend.sent) == 5 and sink.camera is None
        backend.plugged = True
        for i in range(50, 50 + 31):  # it is found at the next look, within a second
            sink.write(_frame(i))
    finally:
        sink.close()
    assert sink.reconnects == 1
    assert sink.frames_dropped + len(backend.sent) == 81
    assert 5 + 1 <= len(backend.sent) <= 5 + 31 and sink.frames_dropped >= 45
    # What arrives after the reconnect is the newest frame, in the negotiated format.
    last = i420_to_rgb(backend.sent[-1], W, H)
    assert abs(int(last.mean()) - (80 * 20) % 256) <= 2


def test_odd_sizes_are_refused_in_one_line(backend):
    with pytest.raises(SinkError, match="even frame sizes"):
        VirtualCameraSink(backend="unpluggable").open(W + 1, H, FPS)


def test_a_device_is_found_by_its_card_label(tmp_path):
    for number, label in ((0, "Integrated Webcam"), (9, "Persona Camera")):
        folder = tmp_path / f"video{number}"
        folder.mkdir()
        (folder / "name").write_text(label + "\n")
    assert find_device("persona", tmp_path) == "/dev/video9"
    assert find_device("/dev/video3", tmp_path) == "/dev/video3"
    with pytest.raises(SinkError, match="Integrated Webcam"):
        find_device("OBS", tmp_path)


def test_other_backends_get_the_device_name_as_given(backend):
    with VirtualCameraSink(backend="unpluggable", device="Persona Camera") as sink:
        sink.open(W, H, FPS)
    assert backend.opened_on == ["Persona Camera"]
