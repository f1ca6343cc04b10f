"""VMC protocol (Virtual Motion Capture, OSC over UDP) in and out.

In: ``VMCTracker`` listens on a UDP port for what an iPhone ARKit app, a VTuber tracker or an EMG
rig sends — ``/VMC/Ext/Blend/Val (name, value)`` collected until ``/VMC/Ext/Blend/Apply``, and
``/VMC/Ext/Bone/Pos ("Head", px, py, pz, qx, qy, qz, qw)`` — and serves it as a ``Tracker``.
Blendshape names are the 52 ARKit names, matched without regard to case ("EyeBlinkLeft" and
"eyeBlinkLeft" are the same); others are ignored.

Out: ``VMCSender`` sends an ``Expression`` the same way, so Persona can drive other apps.

VMC uses Unity's left-handed axes (+x the avatar's right, +y up, +z the avatar's forward, towards
the viewer). The engine's face frame has +x the person's left, so
a rotation converts by mirroring x: quaternion (x, y, z, w) ↔ (x, -y, -z, w).
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from engine.errors import DeviceError
from engine.tracking.head_pose import FACING_CAMERA
from engine.tracking.rotations import matrix_from_quat, quat_from_matrix
from engine.types import BLENDSHAPE_NAMES, NUM_BLENDSHAPES, Expression, FaceState, Frame

log = logging.getLogger(__name__)

DEFAULT_PORT = 39539  # the VMC protocol's customary performer→marionette port
STALE_S = 0.5  # no message for this long: the sender is gone, the face is lost
HEAD_DISTANCE_CM = 60.0  # VMC sends no camera; place the head at a typical webcam distance
_BY_LOWER_NAME = {name.lower(): i for i, name in enumerate(BLENDSHAPE_NAMES)}
_MIRROR_X = np.array([1.0, -1.0, -1.0, 1.0])  # quaternion (x, y, z, w) between the two frames


def unity_quaternion(rotation: np.ndarray) -> np.ndarray:
    """(x, y, z, w) in VMC/Unity axes for a (3, 3) head rotation in template axes."""
    return quat_from_matrix(rotation) * _MIRROR_X


def rotation_from_unity(quaternion) -> np.ndarray:
    """(3, 3) head rotation in template axes from a VMC/Unity (x, y, z, w) quaternion."""
    return matrix_from_quat(np.asarray(quaternion, np.float64) * _MIRROR_X)


class VMCTracker:
    """``Tracker`` fed by VMC messages on ``host:port`` (127.0.0.1 unless told otherwise)."""

    def __init__(self, port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> None:
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_server import ThreadingOSCUDPServer

        dispatcher = Dispatcher()
        dispatcher.map("/VMC/Ext/Blend/Val", self._on_blend)
        dispatcher.map("/VMC/Ext/Blend/Apply", self._on_apply)
        dispatcher.map("/VMC/Ext/Bone/Pos", self._on_bone)
        self._lock = threading.Lock()
        self._pending = np.zeros(NUM_BLENDSHAPES, np.float32)
        self._shapes = np.zeros(NUM_BLENDSHAPES, np.float32)
        self._head = np.eye(3)
        self._heard: float | None = None  # perf_counter of the last message
        try:
            self._server = ThreadingOSCUDPServer((host, port), dispatcher)
        except OSError as error:
            raise DeviceError(f"VMC: cannot listen on udp {host}:{port} ({error.strerror}); "
                              "is another VMC receiver running?") from error
        self.address = self._server.server_address
        self._thread = threading.Thread(target=self._server.serve_forever, name="vmc-in",
                                        daemon=True)
        self._thread.start()
        log.info("VMC: listening on udp %s:%d", *self.address)

    def _on_blend(self, address: str, *args) -> None:
        if len(args) < 2 or not isinstance(args[0], str):
            return
        index = _BY_LOWER_NAME.get(args[0].lower())
        try:
            value = float(args[1])
        except (TypeError, ValueError):
            return
        if index is not None and np.isfinite(value):
            with self._lock:  # held back until Apply: a half-updated face would twitch
                self._pending[index] = min(1.0, max(0.0, value))

    def _on_apply(self, address: str, *args) -> None:
        with self._lock:
            self._shapes = self._pending.copy()
            self._heard = time.perf_counter()

    def _on_bone(self, address: str, *args) -> None:
        if len(args) < 8 or args[0] != "Head":
            return
        try:
            quaternion = np.array(args[4:8], np.float64)
        except (TypeError, ValueError):
            return
        if not np.isfinite(quaternion).all() or np.linalg.norm(quaternion) < 1e-6:
            return
        with self._lock:
            self._head = rotation_from_unity(quaternion)
            self._heard = time.perf_counter()

    def track(self, frame: Frame) -> FaceState:
        with self._lock:
            heard, shapes, rotation = self._heard, self._shapes.copy(), self._head.copy()
        if heard is None or time.perf_counter() - heard > STALE_S:
            return FaceState.lost(frame.t_capture)
        head = np.eye(4, dtype=np.float32)
        head[:3, :3] = FACING_CAMERA @ rotation
        head[2, 3] = HEAD_DISTANCE_CM
        return FaceState(t=frame.t_capture, found=True, head=head, blendshapes=shapes,
                         confidence=1.0)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=1.0)
            self._server = None


class VMCSender:
    """Sends expressions to a VMC receiver (a VTuber app, another Persona) at ``host:port``."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        from pythonosc.udp_client import SimpleUDPClient

        self._client = SimpleUDPClient(host, port)

    def send(self, expression: Expression, t: float | None = None) -> None:
        """One frame: the VMC time stamp, every blendshape, the head bone, then Apply."""
        from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
        from pythonosc.osc_message_builder import OscMessageBuilder

        def message(address: str, *values) -> object:
            builder = OscMessageBuilder(address=address)
            for value in values:
                builder.add_arg(value)
            return builder.build()

        bundle = OscBundleBuilder(IMMEDIATELY)
        bundle.add_content(message("/VMC/Ext/OK", 1))
        bundle.add_content(message("/VMC/Ext/T", float(time.perf_counter() if t is None else t)))
        for name, value in zip(BLENDSHAPE_NAMES, expression.blendshapes):
            bundle.add_content(message("/VMC/Ext/Blend/Val", name, float(value)))
        qx, qy, qz, qw = unity_quaternion(np.asarray(expression.head, np.float64)[:3, :3])
        bundle.add_content(message("/VMC/Ext/Bone/Pos", "Head", 0.0, 0.0, 0.0,
                                   float(qx), float(qy), float(qz), float(qw)))
        bundle.add_content(message("/VMC/Ext/Blend/Apply"))  # last: the frame is complete
        self._client.send(bundle.build())
