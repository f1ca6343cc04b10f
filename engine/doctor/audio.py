"""The doctor's audio-device checks: which microphone and output the voice morph would open
(chosen as ``VoiceEngine`` chooses them, by ``engine.voice.devices``), and, on Windows and macOS,
whether that output is the virtual cable that meeting apps take as a microphone."""

from __future__ import annotations

import platform
from dataclasses import dataclass

from engine.config import Settings
from engine.doctor.findings import MISSING, OK, Finding, within
from engine.errors import EngineError
from engine.voice.devices import AudioDevice

DEVICES_TIMEOUT_S = 10.0  # PortAudio asks every host API, a sound server among them


@dataclass(frozen=True)
class VoiceDevices:
    """The devices a live session's voice morph opens (None where no such device exists)."""

    devices: list[AudioDevice]
    input: AudioDevice | None
    output: AudioDevice | None


@dataclass(frozen=True)
class Cable:
    """A virtual audio cable: what Persona plays into, and what the meeting app records from."""

    name: str
    persona_side: str  # part of the output device's name
    meeting_side: str  # part of the input device's name the meeting app picks
    install: str


CABLES = {
    "Windows": Cable("VB-Audio Virtual Cable", "CABLE Input", "CABLE Output",
                     "install VB-Audio Virtual Cable (vb-audio.com/Cable), then restart"),
    "Darwin": Cable("BlackHole", "BlackHole", "BlackHole",
                    "install BlackHole 2ch (brew install blackhole-2ch), then restart"),
}


def voice_devices(settings: Settings) -> VoiceDevices:
    """The devices list and the ones the configured (or default) input and output resolve to."""
    from engine.voice.devices import find_device, list_devices

    def probe() -> VoiceDevices:
        devices = list_devices()
        chosen = {}
        for kind, spec in (("input", settings.audio_input), ("output", settings.audio_output)):
            index = find_device(spec, kind)
            if index is None:  # the system default, as PortAudio will pick it
                marked = [d for d in devices if getattr(d, f"default_{kind}")]
                chosen[kind] = marked[0] if marked else None
            else:
                chosen[kind] = next(d for d in devices if d.index == index)
        return VoiceDevices(devices, chosen["input"], chosen["output"])

    return within(DEVICES_TIMEOUT_S, probe, "audio devices")


def check_audio_devices(settings: Settings) -> tuple[list[Finding], VoiceDevices | None]:
    """Findings on the microphone and output the voice would use; the devices for later checks."""
    try:
        chosen = voice_devices(settings)
    except EngineError as error:
        return [Finding("audio", MISSING, "audio devices", str(error),
                        "persona devices lists them; pick with --input/--output NAME")], None
    findings = []
    for kind, device, fix in (
            ("audio input", chosen.input, "plug in a microphone or headset, or choose one with "
             "--input NAME (persona devices lists them)"),
            ("audio output", chosen.output, "choose one with --output NAME (persona devices "
             "lists them)")):
        if device is None:
            findings.append(Finding("audio", MISSING, kind, "none: the voice morph cannot start",
                                    fix))
        else:
            findings.append(Finding("audio", OK, kind, f"{device.name} ({device.host_api}), "
                                    f"{device.default_rate:.0f} Hz"))
    return findings, chosen


def check_cable(chosen: VoiceDevices, system: str | None = None) -> list[Finding]:
    """Windows/macOS: the virtual cable exists, Persona plays into it and does not listen to it."""
    system = system or platform.system()
    cable = CABLES[system]
    has = [d for d in chosen.devices if cable.persona_side.lower() in d.name.lower()
           and d.outputs > 0]
    if not has:
        return [Finding("virtualmic", MISSING, "virtual microphone", f"no {cable.name} output "
                        f"({cable.persona_side!r}) among the audio devices", cable.install)]
    findings = []
    output = chosen.output
    if output is not None and cable.persona_side.lower() in output.name.lower():
        findings.append(Finding("virtualmic", OK, "voice routing",
                                f"Persona plays into {output.name}; in Zoom choose "
                                f"{cable.meeting_side!r} as the microphone"))
    else:
        name = output.name if output is not None else "no device"
        findings.append(Finding("virtualmic", MISSING, "voice routing",
                                f"Persona's voice would play on {name}, not into {cable.name}: "
                                "Zoom would hear your real microphone",
                                f"persona run --voice --output \"{cable.persona_side}\""))
    source = chosen.input
    if source is not None and cable.meeting_side.lower() in source.name.lower():
        findings.append(Finding("virtualmic", MISSING, "microphone input",
                                f"Persona would listen to {source.name}, its own output: a "
                                "feedback loop", "make your real microphone the system's "
                                "default input, or persona run --voice --input NAME"))
    return findings
