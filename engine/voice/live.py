"""``VoiceEngine``: live voice morphing between real audio devices.

Three kinds of thread, and what each may do:

- PortAudio's callbacks (input, output, monitor) only copy samples into or out of lock-free
  ``SampleRing`` buffers and bump counters. They never wait, allocate little, and catch every
  exception: a failure there would otherwise stop the stream.
- One worker thread runs ``VoiceMorph`` (pyworld releases the GIL while it analyses, so the
  callbacks and the video loop keep running) and fans its output out to the output, monitor and
  recorder rings. It also watches the streams and reopens a lost device every few seconds,
  reporting it through ``state()["status"]`` instead of raising.
- The application's threads call the controls, read ``level()`` / ``state()`` and drain the
  recorder tap. Controls are plain attribute writes the worker picks up at its next hop.

Input and output devices run on separate streams (a microphone and a virtual cable rarely share a
clock): the worker trims the output ring back to its target when the two clocks drift apart.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from engine.status import VoiceStatus
from engine.errors import DeviceError
from engine.voice.effects import rms_db
from engine.voice.offline import live_block_size
from engine.voice.presets import VoicePreset, load_preset
from engine.voice.ring import SampleRing
from engine.voice.stream import VoiceMorph

log = logging.getLogger(__name__)

DRIFT_WINDOW_S = 2.0
# A mute silences what the output rings already hold at the next device block, with a fade this
# long (no click). The morph mutes only what it produces from its next hop on, and after a stall
# the rings can hold a few hundred milliseconds said before the mute (measured: 400 ms of speech
# heard after a mute behind a 300 ms backlog).
GATE_FADE_S = 0.0025
DeviceSpec = str | int | None | bool  # name substring / index, None = default, False = none


@dataclass
class VoiceSettings:
    sample_rate: int = 48000
    preset: VoicePreset | str = "identity"
    device_block_ms: float = 5.0  # PortAudio callback size
    safety_ms: float = 10.0  # extra output buffering for hops delayed by a busy machine
    device_latency: str | float = "low"  # PortAudio's suggested latency ("low", "high", seconds)
    record_seconds: float = 10.0  # recorder tap capacity if nobody drains it
    reconnect_s: float = 2.0  # retry interval for lost devices
    seed: int = 0


@dataclass
class VoiceCounters:
    """Problems counted since start. ``*_caused_by_us`` are the engine's own; the rest are the
    device's or the system's (PortAudio flags)."""

    hops: int = 0
    output_callbacks: int = 0
    output_underruns: int = 0  # output ran short while input waited or a hop ran: ours
    input_starved: int = 0  # output ran short because no input arrived (upstream)
    input_dropped: int = 0  # input ring full (worker late): ours
    monitor_underruns: int = 0
    device_input_overflows: int = 0  # PortAudio: the device's own buffer overflowed
    device_output_underflows: int = 0  # PortAudio: the device's own buffer ran dry
    callback_errors: int = 0
    drift_trims: int = 0  # samples trimmed because input and output clocks differ (or full)
    reconnects: int = 0
    worker_max_ms: float = 0.0

    def caused_by_us(self) -> int:
        return self.output_underruns + self.input_dropped + self.callback_errors


class VoiceEngine:
    """Live voice morph: ``start()``, switch presets while it runs, ``stop()``."""

    def __init__(self, settings: VoiceSettings | None = None, **overrides) -> None:
        self.settings = settings or VoiceSettings(**overrides)
        preset = self.settings.preset
        self._preset = load_preset(preset) if isinstance(preset, str) else preset
        rate = self.settings.sample_rate
        self.morph = VoiceMorph(rate, self._preset, seed=self.settings.seed)
        self.hop = live_block_size(self.morph)
        self.device_block = max(32, int(rate * self.settings.device_block_ms / 1000.0))
        # Output waits one hop plus one device block (a hop in progress can finish) plus a
        # safety margin for hops a busy machine delays (p99.9 ≈ 12 ms on a loaded 2-core box).
        self.output_target = (self.hop + self.device_block
                              + int(rate * self.settings.safety_ms / 1000.0))
        # Half a second of room: a worker stalled by a busy machine catches up afterwards (it
        # runs ~3x faster than real time) instead of dropping microphone samples; the output
        # side is then trimmed back to its target so latency does not creep up.
        self._input_ring = SampleRing(rate // 2)
        self._output_ring = SampleRing(rate // 2)
        self._monitor_ring = SampleRing(rate // 2)
        self._record_ring = SampleRing(int(self.settings.record_seconds * rate))
        self.counters = VoiceCounters()
        self._scratch = np.zeros(8 * self.device_block, np.float32)
        self._monitor_scratch = np.zeros(8 * self.device_block, np.float32)
        self._input_db = self._output_db = -120.0
        self._status = "stopped"
        self._devices: dict[str, DeviceSpec] = {}
        self._streams: dict[str, object] = {}
        self._lost: dict[str, float] = {}  # role → time of the next reopen attempt
        self._worker: threading.Thread | None = None
        self._running = False
        self._output_primed = False
        self._saved_switch_interval = sys.getswitchinterval()
        self._worker_busy = False
        self._lowest_fill: dict[str, int | None] = {}  # per output role, since the last check
        # Surplus the worker wants dropped, per role. Only the callback reads a ring, so only the
        # callback drops from it: a trim from the worker racing the callback's read could lose
        # the read position's update and replay stale samples — speech from before a mute.
        self._trim: dict[str, int] = {}
        self._preset_requests: deque[tuple[VoicePreset, float]] = deque()
        # The callbacks' own mute over what is queued (``set_mute``): asked state, and the gain
        # each output role last played at.
        self._gate_closed = False
        self._gate_gain: dict[str, float] = {}
        fade = max(1, int(rate * GATE_FADE_S))
        self._fade_out = np.linspace(1.0, 0.0, fade, dtype=np.float32)
        self._fade_in = self._fade_out[::-1].copy()

    # -- life cycle -------------------------------------------------------------------------------
    def start(self, input: DeviceSpec = None, output: DeviceSpec = None,
              monitor: DeviceSpec = False) -> None:
        """Open the devices (None = system default, False = none) and start morphing.

        With ``input=False`` the application feeds samples through ``push_input`` (the demo's
        synthetic voice); with ``output=False`` the morphed audio only reaches the recorder tap.
        Raises DeviceError naming the device if one cannot be opened at start.
        """
        if self._running:
            return
        self._devices = {"input": input, "output": output, "monitor": monitor}
        self._running = True
        try:
            for role, spec in self._devices.items():
                if spec is not False:
                    self._open(role)
        except Exception:
            self._running = False
            self._close_all()
            raise
        self._status = "running"
        # PortAudio's callbacks need the GIL; the default 5 ms switch interval could hold them
        # up behind the worker's numpy work for most of a device block.
        self._saved_switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._saved_switch_interval, 0.001))
        self._worker = threading.Thread(target=self._work, name="voice-worker", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        if self._worker is not None:
            self._worker.join(timeout=2.0)
            self._worker = None
        self._close_all()
        sys.setswitchinterval(self._saved_switch_interval)
        self._status = "stopped"

    def __enter__(self) -> VoiceEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- controls ---------------------------------------------------------------------------------
    def set_preset(self, preset: VoicePreset | str, crossfade_s: float = 0.3) -> None:
        """Switch voice, gliding over ``crossfade_s``; a bad name raises before anything changes."""
        self._preset = load_preset(preset) if isinstance(preset, str) else preset
        self._preset_requests.append((self._preset, crossfade_s))

    def set_bypass(self, bypass: bool) -> None:
        self.morph.set_bypass(bypass)

    def set_mute(self, mute: bool) -> None:
        """Mute at once: the morph stops producing speech from its next hop, and the output
        callbacks silence what the rings still hold from before. Unmuting opens the callbacks
        at once (what the rings hold then was produced muted) and leaves the morph to wait
        until nothing said behind the mute is left in its pipeline."""
        self._gate_closed = mute
        self.morph.set_mute(mute)

    def reset_counters(self) -> None:
        """Start counting problems afresh (e.g. after the devices have settled)."""
        self.counters = VoiceCounters()

    def push_input(self, samples: np.ndarray) -> int:
        """Feed input samples when started with ``input=False``; returns how many were dropped."""
        dropped = self._input_ring.write(np.asarray(samples, np.float32).reshape(-1))
        self.counters.input_dropped += dropped
        return dropped

    # -- read-outs --------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        """The device rate: what ``drain_recorded`` returns samples at."""
        return self.settings.sample_rate

    def level(self) -> tuple[float, float]:
        """Recent (input, output) RMS in dBFS, for the HUD meter."""
        return self._input_db, self._output_db

    def drain_recorded(self) -> np.ndarray:
        """Morphed samples (output rate, mono float32) produced since the last call."""
        return self._record_ring.read()

    def record_delay_s(self) -> float:
        """How long before a morphed sample is produced it was said: the morph's algorithmic
        latency and, on average, half an input device block (a block arrives when its last
        sample is taken). A live recorder places audio by when it was said, as it places frames
        by when they were captured."""
        return self.morph.latency_ms / 1000.0 + 0.5 * self.device_block / self.settings.sample_rate

    def status(self) -> VoiceStatus:
        """What the HUD, the control page and the loop's switches read."""
        return VoiceStatus(muted=self.morph.muted, bypass=self.morph.bypassed,
                           preset=self._preset.name, input_db=round(self._input_db, 1),
                           output_db=round(self._output_db, 1),
                           sample_rate=self.settings.sample_rate,
                           running=self._status == "running")

    def state(self) -> dict:
        """Everything the engine counts, for benchmarks and diagnosis."""
        c = self.counters
        return {
            "status": self._status,
            "preset": self._preset.name,
            "bypass": self.morph.bypassed,
            "muted": self.morph.muted,
            "sample_rate": self.settings.sample_rate,
            "latency_ms": self.latency_ms(),
            "input_db": round(self._input_db, 1),
            "output_db": round(self._output_db, 1),
            "limiter_db": round(self.morph.limiter_reduction_db, 1),
            "hops": c.hops,
            "output_callbacks": c.output_callbacks,
            "problems_caused_by_us": c.caused_by_us(),
            "output_underruns": c.output_underruns,
            "input_starved": c.input_starved,
            "input_dropped": c.input_dropped,
            "device_input_overflows": c.device_input_overflows,
            "device_output_underflows": c.device_output_underflows,
            "reconnects": c.reconnects,
            "worker_max_ms": round(c.worker_max_ms, 2),
        }

    def latency_ms(self) -> float:
        """Algorithmic latency plus this engine's buffering (device drivers add their own)."""
        rate = self.settings.sample_rate
        return self.morph.latency_ms + 1000.0 * (self.output_target + self.device_block) / rate

    # -- worker -----------------------------------------------------------------------------------
    def _work(self) -> None:
        _raise_thread_priority()
        next_health_check = 0.0
        next_drift_check = time.monotonic() + DRIFT_WINDOW_S
        idle = min(0.002, self.hop / self.settings.sample_rate / 4)
        while self._running:
            try:
                while self._preset_requests:  # deque: appends and pops are atomic
                    self.morph.set_preset(*self._preset_requests.popleft())
                if self._input_ring.available() >= self.hop:
                    self._run_hop()
                else:
                    time.sleep(idle)
                now = time.monotonic()
                if now >= next_health_check:
                    self._check_devices(now)
                    next_health_check = now + 0.25
                if now >= next_drift_check:
                    self._correct_drift()
                    next_drift_check = now + DRIFT_WINDOW_S
            except Exception:  # one bad hop must not end the voice: log it and carry on
                log.exception("voice worker: hop failed")
                self.counters.callback_errors += 1
                time.sleep(0.01)

    def _correct_drift(self) -> None:
        """Trim the output queue's steady surplus (input clock faster than the output's).

        The lowest fill the output callbacks saw over the last window is the surplus that was
        never needed; bursts of callbacks (PulseAudio's ALSA plugin asks in bursts) move the
        fill around but not its minimum, so this never cuts audio the device was about to ask
        for. A slower input clock shows up as input starvation instead and needs no action.
        """
        for role in ("output", "monitor"):
            lowest = self._lowest_fill.get(role)
            self._lowest_fill[role] = None
            if lowest is not None and lowest > self.output_target + self.hop:
                self._trim[role] = lowest - self.output_target  # dropped by the next callback

    def _run_hop(self) -> None:
        started = time.perf_counter()
        self._worker_busy = True
        try:
            block = self._input_ring.read(self.hop)
            out = self.morph.process(block)
        finally:
            self._worker_busy = False
        self.counters.hops += 1
        if "output" in self._streams:
            self.counters.drift_trims += self._output_ring.write(out)
        if "monitor" in self._streams:
            self._monitor_ring.write(out)
        self._record_ring.write(out)
        self._input_db = 0.8 * self._input_db + 0.2 * rms_db(block)
        self._output_db = 0.8 * self._output_db + 0.2 * rms_db(out)
        elapsed_ms = 1000.0 * (time.perf_counter() - started)
        if self.counters.hops > 5:  # the first hops include pyworld's warm-up
            self.counters.worker_max_ms = max(self.counters.worker_max_ms, elapsed_ms)

    # -- devices ----------------------------------------------------------------------------------
    def _open(self, role: str) -> None:
        from engine.voice.devices import find_device, sounddevice

        sd = sounddevice()
        kind = "input" if role == "input" else "output"
        device = find_device(self._devices[role], kind)
        callback = {"input": self._input_callback, "output": self._output_callback,
                    "monitor": self._monitor_callback}[role]
        stream_class = sd.InputStream if role == "input" else sd.OutputStream
        try:
            stream = stream_class(device=device, channels=1, samplerate=self.settings.sample_rate,
                                  blocksize=self.device_block, dtype="float32",
                                  latency=self.settings.device_latency,
                                  callback=callback)
            if role == "output":
                self._output_primed = False
                self._output_ring.write(np.zeros(self.output_target, np.float32))
            stream.start()
        except sd.PortAudioError as error:
            name = self._devices[role] if self._devices[role] is not None else "default"
            raise DeviceError(f"cannot open {role} device {name!r}: {error}") from error
        self._streams[role] = stream

    def _check_devices(self, now: float) -> None:
        for role, spec in self._devices.items():
            if spec is False:
                continue
            stream = self._streams.get(role)
            if stream is not None and stream.active:
                continue
            if role not in self._lost:
                self._lost[role] = now
                log.warning("voice: %s device stopped; retrying every %.0f s", role,
                            self.settings.reconnect_s)
                self._status = f"{role} device lost; retrying"
                self._close(role)
            if now >= self._lost[role]:
                try:
                    self._open(role)
                except DeviceError as error:
                    self._status = f"{role} device lost ({error}); retrying"
                    self._lost[role] = now + self.settings.reconnect_s
                else:
                    del self._lost[role]
                    self.counters.reconnects += 1
                    log.warning("voice: %s device reopened", role)
                    if not self._lost:
                        self._status = "running"

    def _close(self, role: str) -> None:
        stream = self._streams.pop(role, None)
        if stream is None:
            return
        try:
            stream.abort()
            stream.close()
        except Exception as error:  # a lost device may fail to close; nothing else to do
            log.debug("voice: closing %s stream: %s", role, error)

    def _close_all(self) -> None:
        for role in list(self._streams):
            self._close(role)

    # -- PortAudio callbacks: copy samples, count, never raise ------------------------------------
    def _input_callback(self, indata, frames, time_info, status) -> None:
        try:
            if status.input_overflow:
                self.counters.device_input_overflows += 1
            self.counters.input_dropped += self._input_ring.write(indata[:, 0])
        except Exception:
            self.counters.callback_errors += 1

    def _play(self, role: str, ring, scratch: np.ndarray, outdata, frames: int) -> bool:
        """Copy up to ``frames`` samples from ``ring`` into the device buffer, zero-filling the
        rest and noting the ring's lowest fill; True when the block was complete."""
        trim = self._trim.pop(role, 0)
        if trim:
            trimmed = ring.discard(trim)
            if role == "output":
                self.counters.drift_trims += trimmed
        fill = ring.available()
        lowest = self._lowest_fill.get(role)
        if lowest is None or fill < lowest:
            self._lowest_fill[role] = fill
        # The preallocated buffer fits the block size asked for; a host API that ignores it
        # gets a fresh array rather than a false underrun.
        got = ring.read(frames, out=scratch if frames <= len(scratch) else None)
        self._gate(role, got)
        outdata[:len(got), 0] = got
        if len(got) == frames:
            return True
        outdata[len(got):, 0] = 0.0
        return False

    def _gate(self, role: str, block: np.ndarray) -> None:
        """Apply the mute to samples leaving for a device, in place: silence while closed,
        a short fade where it opens or closes."""
        gain = self._gate_gain.get(role, 1.0)
        wanted = 0.0 if self._gate_closed else 1.0
        if gain == wanted:
            if wanted == 0.0:
                block[:] = 0.0
            return
        fade = (self._fade_out if wanted == 0.0 else self._fade_in)[:len(block)]
        block[:len(fade)] *= fade
        block[len(fade):] *= wanted
        self._gate_gain[role] = wanted

    def _output_callback(self, outdata, frames, time_info, status) -> None:
        try:
            self.counters.output_callbacks += 1
            if status.output_underflow:
                self.counters.device_output_underflows += 1
            if self._play("output", self._output_ring, self._scratch, outdata, frames):
                self._output_primed = True
            elif self._output_primed:  # before the first full block a short read is expected
                if self._worker_busy or self._input_ring.available() >= self.hop:
                    self.counters.output_underruns += 1
                else:
                    self.counters.input_starved += 1
        except Exception:
            outdata.fill(0)
            self.counters.callback_errors += 1

    def _monitor_callback(self, outdata, frames, time_info, status) -> None:
        try:
            if not self._play("monitor", self._monitor_ring, self._monitor_scratch, outdata,
                              frames):
                self.counters.monitor_underruns += 1
        except Exception:
            outdata.fill(0)
            self.counters.callback_errors += 1


def _raise_thread_priority() -> None:
    """Ask for real-time scheduling for the calling (worker) thread, as audio servers do.

    Needs CAP_SYS_NICE or an rtprio limit; without it, try a better nice value; without that,
    run as is. The worker uses about a third of one core, so this cannot starve the machine.
    """
    thread = threading.get_native_id()
    try:
        os.sched_setscheduler(thread, os.SCHED_FIFO, os.sched_param(10))
        log.debug("voice worker: real-time priority")
        return
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, thread, -10)
    except (AttributeError, OSError):
        log.debug("voice worker: normal priority (no permission to raise it)")
