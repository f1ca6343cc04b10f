"""What the PulseAudio (or PipeWire's pipewire-pulse) server has, asked through ``pactl``.

Also the one name of Persona's virtual microphone, so the doctor's fixes and docs/voice.md say
the same thing: Persona plays into the null sink ``persona_mic``; meeting apps record from the
source ``persona_mic_source``, which carries that sink's monitor. Both are described as
"Persona Microphone", which is what Zoom lists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from engine.errors import DeviceError

SINK = "persona_mic"
MONITOR = f"{SINK}.monitor"
SOURCE = "persona_mic_source"
DESCRIPTION = "Persona Microphone"
# The lines of docs/voice.md. The quoting is what both PulseAudio's and pipewire-pulse's module
# argument parsers need for a description with a space in it.
SINK_COMMAND = (f"pactl load-module module-null-sink sink_name={SINK} rate=48000 channels=1 "
                f"\"sink_properties='device.description=\\\"{DESCRIPTION}\\\"'\"")
SOURCE_COMMAND = (f"pactl load-module module-remap-source master={MONITOR} source_name={SOURCE} "
                  f"\"source_properties='device.description=\\\"{DESCRIPTION}\\\"'\"")
PACTL_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Node:
    """A sink or source as ``pactl list`` describes it."""

    name: str
    description: str
    monitor_of: str | None = None  # sources: the sink this monitors
    master: str | None = None  # remap sources: the source they carry


@dataclass(frozen=True)
class Server:
    name: str  # "pulseaudio", or "PulseAudio (on PipeWire 1.0.5)"
    default_sink: str
    default_source: str
    sinks: list[Node]
    sources: list[Node]

    def sink(self, name: str) -> Node | None:
        return next((node for node in self.sinks if node.name == name), None)

    def source(self, name: str) -> Node | None:
        return next((node for node in self.sources if node.name == name), None)


def available() -> bool:
    return shutil.which("pactl") is not None


def pactl(*args: str) -> str:
    """``pactl``'s output, in English whatever the desktop's language (it is parsed)."""
    env = dict(os.environ, LC_ALL="C")
    try:
        result = subprocess.run(["pactl", *args], capture_output=True, text=True, env=env,
                                timeout=PACTL_TIMEOUT_S)
    except FileNotFoundError as error:
        raise DeviceError("pactl is not installed") from error
    except subprocess.TimeoutExpired as error:
        raise DeviceError(f"the sound server did not answer pactl {args[0]} within "
                          f"{PACTL_TIMEOUT_S:g} s") from error
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no answer"])[-1]
        raise DeviceError(f"no PulseAudio/PipeWire sound server answers ({reason})")
    return result.stdout


def server() -> Server:
    info = dict(_fields(pactl("info")))
    return Server(info.get("Server Name", "?"), info.get("Default Sink", ""),
                  info.get("Default Source", ""), parse_nodes(pactl("list", "sinks")),
                  parse_nodes(pactl("list", "sources")))


def _fields(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        key, colon, value = line.strip().partition(":")
        if colon:
            pairs.append((key.strip(), value.strip()))
    return pairs


def parse_nodes(text: str) -> list[Node]:
    """Sinks or sources from ``pactl list sinks|sources`` (blocks that start unindented)."""
    nodes = []
    block: list[str] = []
    for line in [*text.splitlines(), "end"]:
        if line and not line[0].isspace():
            if block:
                nodes.append(_node(block))
            block = []
        elif line.strip():
            block.append(line)
    return nodes


def _node(lines: list[str]) -> Node:
    fields: dict[str, str] = {}
    properties: dict[str, str] = {}
    for line in lines:
        key, equals, value = line.strip().partition(" = ")
        if equals and line.startswith("\t\t"):
            properties[key] = value.strip().strip('"')
            continue
        key, colon, value = line.strip().partition(":")
        if colon and line.startswith("\t") and not line.startswith("\t\t"):
            fields.setdefault(key.strip(), value.strip())
    monitor_of = fields.get("Monitor of Sink")
    return Node(fields.get("Name", ""), fields.get("Description", ""),
                None if monitor_of in (None, "n/a") else monitor_of,
                properties.get("device.master_device"))
