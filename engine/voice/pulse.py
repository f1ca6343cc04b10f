"""A private PulseAudio server with null sinks: real audio devices on machines without any.

Tests and the soak benchmark use it to run the live engine against genuine PortAudio streams
(through ALSA's PulseAudio plugin): a null sink consumes what is played into it at the real
sample clock and its ``.monitor`` source plays it back for recording, exactly as a virtual
microphone cable would. A server already running (a desktop session) is reused and left alone;
otherwise one is started in temporary directories and stopped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

from engine.errors import DeviceError


def available() -> bool:
    return shutil.which("pulseaudio") is not None and shutil.which("pactl") is not None


def _server_running() -> bool:
    return subprocess.run(["pactl", "info"], capture_output=True, timeout=5).returncode == 0


@contextlib.contextmanager
def null_sinks(*names: str, default_sink: str | None = None,
               default_source: str | None = None) -> Iterator[None]:
    """Null sinks ``names`` exist inside the block; defaults are set for PortAudio's "pulse"."""
    if not available():
        raise DeviceError("pulseaudio/pactl not installed: cannot create null sinks")
    started = None
    saved = {key: os.environ.get(key) for key in ("XDG_RUNTIME_DIR", "HOME", "PULSE_SERVER")}
    temp = None
    try:
        if not _server_running():
            temp = tempfile.mkdtemp(prefix="persona-pulse-")
            os.environ["XDG_RUNTIME_DIR"] = os.path.join(temp, "run")
            os.environ["HOME"] = os.path.join(temp, "home")
            os.makedirs(os.environ["XDG_RUNTIME_DIR"], mode=0o700)
            os.makedirs(os.environ["HOME"])
            started = subprocess.Popen(
                ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
                 "--log-target=stderr", "-n", "--load=module-native-protocol-unix",
                 "--load=module-always-sink"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10.0
            while not _server_running():
                if started.poll() is not None or time.monotonic() > deadline:
                    raise DeviceError("could not start a private pulseaudio server")
                time.sleep(0.1)
        modules = []
        for name in names:
            result = subprocess.run(["pactl", "load-module", "module-null-sink",
                                     f"sink_name={name}", "rate=48000", "channels=1"],
                                    capture_output=True, text=True, timeout=10)
            if result.returncode != 0:
                raise DeviceError(f"pactl could not create null sink {name}: {result.stderr}")
            modules.append(result.stdout.strip())
        if default_sink:
            subprocess.run(["pactl", "set-default-sink", default_sink], check=True, timeout=10)
        if default_source:
            subprocess.run(["pactl", "set-default-source", default_source], check=True,
                           timeout=10)
        _rescan_portaudio()
        try:
            yield
        finally:
            for module in modules:
                subprocess.run(["pactl", "unload-module", module], capture_output=True,
                               timeout=10)
    finally:
        if started is not None:
            started.terminate()
            try:
                started.wait(timeout=5)
            except subprocess.TimeoutExpired:
                started.kill()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
        _rescan_portaudio()


def _rescan_portaudio() -> None:
    """PortAudio lists devices once, when it initialises; a process that touched it before the
    server (or its sinks) existed would not see them. Re-initialising re-reads the list
    (sounddevice's documented way; no stream may be open)."""
    import sounddevice

    sounddevice._terminate()
    sounddevice._initialize()
