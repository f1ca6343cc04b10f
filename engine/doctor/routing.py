"""The doctor's virtual-microphone checks on Linux (PulseAudio, or PipeWire through
pipewire-pulse): the sink and the source Zoom lists exist, Persona's voice reaches them (a test
tone, recorded back), and Persona does not listen to its own output (the feedback loop).

PortAudio reaches the sound server through ALSA's "pulse" (or "default") device, which plays
into ``$PULSE_SINK`` when set, else the server's default sink, and records ``$PULSE_SOURCE`` or
the default source. That is how the devices the voice morph opens are mapped to sinks and
sources here.
"""

from __future__ import annotations

import os

from engine.doctor.audio import VoiceDevices
from engine.doctor.findings import MISSING, OK, WARNING, Finding
from engine.doctor.pulse import (DESCRIPTION, MONITOR, SINK, SINK_COMMAND, SOURCE,
                                 SOURCE_COMMAND, Node, Server)
from engine.doctor.tone import parec_available, round_trip
from engine.errors import DeviceError
from engine.voice.devices import AudioDevice

SERVER_DEVICES = ("pulse", "default", "sysdefault", "pipewire")  # ALSA devices of the server
RUN_LINE = f"PULSE_SINK={SINK} persona run --preview --voice --output pulse"
OTHER_SOUND_DB = -60.0  # above this, something besides Persona plays into the microphone


def check_virtual_mic(chosen: VoiceDevices | None) -> list[Finding]:
    from engine.doctor.pulse import available, server

    if not available():
        return [Finding("virtualmic", MISSING, "virtual microphone", "pactl is not installed",
                        "sudo apt install pulseaudio-utils (it works with PipeWire too)")]
    try:
        found = server()
    except DeviceError as error:
        return [Finding("virtualmic", MISSING, "virtual microphone", str(error),
                        "log in to a desktop session (or start pipewire-pulse or pulseaudio), "
                        "then run this again")]
    if found.sink(SINK) is None:
        return [Finding("virtualmic", MISSING, "virtual microphone",
                        f"no sink {SINK!r} on {found.name}: there is nothing for Zoom to take "
                        "Persona's voice from", f"{SINK_COMMAND} && {SOURCE_COMMAND}")]
    meeting = meeting_source(found)
    findings = [_sink_finding(found, meeting)]
    if found.default_sink == SINK:
        others = [node.name for node in found.sinks if node.name != SINK]
        headphones = others[0] if others else "YOUR_HEADPHONES"
        findings.append(Finding("virtualmic", WARNING, "speakers",
                                f"the default sink is {DESCRIPTION}: every program's sound, "
                                "Zoom's too, goes into the microphone and your client hears "
                                "themselves", f"pactl set-default-sink {headphones} (sinks here: "
                                f"{', '.join(others) or 'none'}); only Persona goes into "
                                f"{SINK}, by PULSE_SINK={SINK}"))
    if chosen is None:
        return findings + [Finding("virtualmic", MISSING, "voice routing",
                                   "not checked: no audio devices", "see the audio lines")]
    findings.append(_input_finding(found, chosen.input))
    findings.append(_routing_finding(found, chosen.output, meeting))
    return findings


def meeting_source(found: Server) -> Node | None:
    """The source a meeting app lists for Persona: the remap (or PipeWire loopback) source,
    else the sink's monitor, which many apps hide."""
    return (found.source(SOURCE)
            or next((node for node in found.sources if node.master == MONITOR), None))


def ours(found: Server, name: str) -> bool:
    """Whether source ``name`` carries Persona's own output."""
    node = found.source(name)
    return name in (MONITOR, SOURCE) or (node is not None and node.master == MONITOR)


def _sink_finding(found: Server, meeting: Node | None) -> Finding:
    if meeting is None:
        return Finding("virtualmic", WARNING, "virtual microphone",
                       f"sink {SINK!r} exists, but only its monitor ('Monitor of "
                       f"{found.sink(SINK).description}') carries it: Zoom and browsers often "
                       "hide monitors", SOURCE_COMMAND)
    return Finding("virtualmic", OK, "virtual microphone",
                   f"sink {SINK!r} and source {meeting.name!r} ({meeting.description!r}) on "
                   f"{found.name}; in Zoom choose {meeting.description!r} as the microphone")


def _server_side(device: AudioDevice, variable: str, default: str, nodes: list[Node]) -> str | None:
    """The sink or source a PortAudio device ends up on; None for a device of its own
    (a sound card opened directly)."""
    if device.name.lower() in SERVER_DEVICES:
        return os.environ.get(variable) or default
    # PortAudio's own PulseAudio host API names its devices by description.
    return next((node.name for node in nodes if node.description == device.name), None)


def _input_finding(found: Server, device: AudioDevice | None) -> Finding:
    if device is None:
        return Finding("virtualmic", MISSING, "microphone input", "no input device",
                       "see the audio input line")
    source = _server_side(device, "PULSE_SOURCE", found.default_source, found.sources)
    if source is None:
        return Finding("virtualmic", OK, "microphone input",
                       f"Persona listens to {device.name} directly, not to the sound server")
    node = found.source(source)
    label = node.description if node else source
    if ours(found, source):
        return Finding("virtualmic", MISSING, "microphone input",
                       f"Persona would listen to {label!r}, its own output: a feedback loop "
                       f"(and Zoom's 'same as system' microphone would be the morph of "
                       f"itself)", _real_mic_fix(found))
    if node is not None and node.monitor_of:
        return Finding("virtualmic", WARNING, "microphone input",
                       f"Persona would listen to {label!r}, what a sink plays, not a "
                       "microphone", _real_mic_fix(found))
    return Finding("virtualmic", OK, "microphone input",
                   f"Persona listens to {label!r}, not to its own output")


def _real_mic_fix(found: Server) -> str:
    if os.environ.get("PULSE_SOURCE") and ours(found, os.environ["PULSE_SOURCE"]):
        return "unset PULSE_SOURCE"
    real = [node for node in found.sources if node.monitor_of is None and not ours(found,
                                                                                    node.name)]
    if not real:
        return ("plug in a microphone, then make it the default source: pactl "
                "set-default-source ITS_NAME (pactl list short sources)")
    names = ", ".join(f"{node.name} ({node.description})" for node in real)
    return f"pactl set-default-source {real[0].name} (microphones here: {names})"


def _routing_finding(found: Server, device: AudioDevice | None, meeting: Node | None) -> Finding:
    if device is None:
        return Finding("virtualmic", MISSING, "voice routing", "no output device",
                       "see the audio output line")
    sink = _server_side(device, "PULSE_SINK", found.default_sink, found.sinks)
    if sink is None:
        goes_to = f"{device.name} directly"
    else:
        node = found.sink(sink)
        goes_to = node.description if node else sink
    fix = (f"start Persona, and this check, as {RUN_LINE} (or move Persona's stream to "
           f"{DESCRIPTION} in pavucontrol's Playback tab)")
    if not parec_available():
        how = "by configuration only (parec, from pulseaudio-utils, is not installed)"
        if sink == SINK:
            return Finding("virtualmic", OK, "voice routing",
                           f"Persona's voice ({device.name}) goes into {DESCRIPTION}, {how}")
        return Finding("virtualmic", MISSING, "voice routing",
                       f"Persona's voice ({device.name}) would play on {goes_to!r}, not into "
                       f"{DESCRIPTION}, {how}", fix)
    recorded = meeting.name if meeting is not None else MONITOR
    try:
        result = round_trip(device.index, recorded)
    except DeviceError as error:
        return Finding("virtualmic", MISSING, "voice routing", f"test tone: {error}", fix)
    figures = {"tone_db": result.tone_db, "other_db": result.other_db
               if result.other_db is not None else "not measured", "recorded": recorded}
    if not result.arrived:
        return Finding("virtualmic", MISSING, "voice routing",
                       f"a test tone played on Persona's output ({device.name}, which goes to "
                       f"{goes_to!r}) did not reach {recorded!r}: Zoom would hear silence and "
                       "the voice would come out elsewhere", fix, figures)
    if result.other_db is not None and result.other_db > OTHER_SOUND_DB:
        return Finding("virtualmic", WARNING, "voice routing",
                       f"the test tone reached {recorded!r}, but so does other sound "
                       f"({result.other_db:.0f} dBFS around the tone): a loopback from "
                       "your real microphone, or a program using it as its speaker",
                       f"in pavucontrol's Playback tab move everything but Persona off "
                       f"{DESCRIPTION}; unload loopbacks into {SINK} (pactl list short modules)",
                       figures)
    others = ("nothing else plays there" if result.other_db is not None
              else "other sound not measured")
    return Finding("virtualmic", OK, "voice routing",
                   f"a test tone played on Persona's output ({device.name}) reached "
                   f"{recorded!r} at {result.tone_db:.0f} dBFS; {others}", figures=figures)
