"""Audio devices through sounddevice (PortAudio): listing and choosing by name.

sounddevice is imported inside the functions so that a machine without PortAudio still runs
everything else, and gets one clear message when it asks for a device.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import DeviceError


@dataclass(frozen=True)
class AudioDevice:
    index: int
    name: str
    host_api: str
    inputs: int
    outputs: int
    default_rate: float
    default_input: bool = False
    default_output: bool = False


def sounddevice():
    """The sounddevice module, or a DeviceError saying what is missing."""
    try:
        import sounddevice as module
    except (ImportError, OSError) as error:
        raise DeviceError(f"audio devices unavailable: {error} (install PortAudio, e.g. "
                          "apt install libportaudio2)") from error
    return module


def list_devices() -> list[AudioDevice]:
    sd = sounddevice()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except sd.PortAudioError as error:
        raise DeviceError(f"cannot list audio devices: {error}") from error
    return [AudioDevice(i, d["name"], apis[d["hostapi"]]["name"], d["max_input_channels"],
                        d["max_output_channels"], d["default_samplerate"],
                        i == default_in, i == default_out)
            for i, d in enumerate(devices)]


def find_device(spec: str | int | None, kind: str) -> int | None:
    """The index of the ``kind`` ("input"/"output") device named by ``spec``.

    ``None`` means the system default (returned as None so PortAudio picks it); an int or a
    string of digits is an index; anything else is a case-insensitive name substring, and must
    match exactly one device of that kind (an exact name match wins over substrings).
    """
    if spec is None or spec == "":
        return None
    devices = [d for d in list_devices() if (d.inputs if kind == "input" else d.outputs) > 0]
    if isinstance(spec, int) or str(spec).isdigit():
        index = int(spec)
        if any(d.index == index for d in devices):
            return index
        raise DeviceError(f"no {kind} device with index {index}; {_names(devices)}")
    wanted = str(spec).lower()
    exact = [d for d in devices if d.name.lower() == wanted]
    matches = exact or [d for d in devices if wanted in d.name.lower()]
    if len(matches) == 1:
        return matches[0].index
    if not matches:
        raise DeviceError(f"no {kind} device matches {spec!r}; {_names(devices)}")
    raise DeviceError(f"{kind} device {spec!r} is ambiguous: "
                      + ", ".join(f"{d.index}: {d.name}" for d in matches))


def _names(devices: list[AudioDevice]) -> str:
    if not devices:
        return "no devices of that kind exist"
    return "available: " + ", ".join(f"{d.index}: {d.name}" for d in devices)
