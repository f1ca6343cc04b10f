"""``persona doctor`` as a clinician runs it: a subprocess on this machine (no camera, no
v4l2loopback, no sound card, software GL), and against a real PulseAudio server set up with the
very lines docs/voice.md gives."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.doctor.pulse import (DESCRIPTION, MONITOR, SINK, SINK_COMMAND, SOURCE,
                                 SOURCE_COMMAND, parse_nodes)
from engine.doctor.tone import AMPLITUDE, RATE, analyse, tone
from tests.conftest import require_programs

ROOT = Path(__file__).resolve().parents[2]
VOICE_DOC = ROOT / "docs" / "voice.md"
CLINICIAN_DOC = ROOT / "docs" / "clinician.md"
# The command a clinician types: the console script installed beside this interpreter.
PERSONA = str(Path(sys.executable).parent / "persona")
REAL_MIC = "real_mic"  # a null source: the stand-in for the clinician's microphone
SPEAKERS = "speakers"  # a null sink: the stand-in for their headphones


def doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, list[dict], str]:
    result = subprocess.run([PERSONA, "doctor", "--json", *args],
                            capture_output=True, text=True, timeout=60, env=env)
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    report = json.loads(lines[-1])
    assert report["ok"] == (result.returncode == 0), result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, report["checks"], result.stdout


def found(checks: list[dict], what: str) -> dict:
    matching = [check for check in checks if check["what"] == what]
    assert len(matching) == 1, f"{what!r} in {[c['what'] for c in checks]}"
    return matching[0]


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a user with no settings file and no display; ``extra`` on top."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DISPLAY", "WAYLAND_DISPLAY", "PERSONA_CONFIG", "PULSE_SINK",
                          "PULSE_SOURCE")
           and not (key.startswith("PERSONA_") and key != "PERSONA_PATH")}
    env["HOME"] = str(tmp_path)
    return {**env, **extra}


# -- this machine: nothing a session needs besides the CPU ------------------------------------

@pytest.mark.skipif(bool(glob.glob("/dev/video*")), reason="this machine has video devices")
def test_a_bare_machine_gets_missing_with_the_fix_and_a_measured_frame_time(tmp_path):
    # No sound server either: a socket nobody listens on.
    env = isolated_env(tmp_path, PULSE_SERVER=f"unix:{tmp_path}/no-server")
    code, checks, stdout = doctor(env=env)
    assert code == 1
    lines = stdout.strip().splitlines()[:-1]
    assert len(lines) == len(checks)
    assert all(re.match(r"(ok|MISSING|WARNING): ", line) for line in lines), lines
    assert all(" — fix: " in line for line in lines if not line.startswith("ok")), lines

    camera = found(checks, "camera")
    assert camera["status"] == "MISSING" and "--camera" in camera["fix"]
    virtualcam = found(checks, "virtual camera")
    assert virtualcam["status"] == "MISSING"
    assert "sudo modprobe v4l2loopback" in virtualcam["fix"]
    assert "card_label='Persona Camera'" in virtualcam["fix"]
    assert found(checks, "display")["status"] == "MISSING"
    mic = found(checks, "virtual microphone")
    assert mic["status"] == "MISSING" and "sound server" in mic["detail"]

    graphics = found(checks, "graphics")
    renderer = graphics["figures"]["renderer"]
    software = "llvmpipe" in renderer.lower()
    assert graphics["status"] == ("WARNING" if software else "ok"), graphics
    frame = found(checks, "frame rate")
    assert 0 < frame["figures"]["frame_ms_p50"] < 10_000
    reachable = frame["figures"]["frame_ms_p50"] <= 0.8 * frame["figures"]["budget_ms"]
    assert (frame["status"] == "ok") == reachable, frame
    for check in checks:
        if check["check"] == "consent":  # the shipped scenes' avatars are all synthetic
            assert check["status"] == "ok", check


def test_display_missing_without_one_and_ok_under_xvfb(tmp_path):
    require_programs("Xvfb")
    code, checks, _ = doctor("--check", "display", env=isolated_env(tmp_path))
    assert code == 1 and found(checks, "display")["status"] == "MISSING"

    number = next(n for n in range(90, 140) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "320x240x24", "-nolisten",
                               "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            assert time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.05)
        code, checks, _ = doctor("--check", "display",
                                 env=isolated_env(tmp_path, DISPLAY=f":{number}"))
    finally:
        server.terminate()
        server.wait(10)
    assert code == 0 and found(checks, "display")["status"] == "ok"


def test_a_consent_refusal_is_missing_for_the_starting_scene(tmp_path):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    (scenes / "default.toml").write_text('name = "Real person"\nhotkey = "1"\n'
                                         'avatar = "real"\n')
    avatar = tmp_path / "avatars" / "real"
    avatar.mkdir(parents=True)
    shutil.copytree(ROOT / "avatars" / "default", avatar, dirs_exist_ok=True)
    manifest = (avatar / "avatar.toml").read_text()
    (avatar / "avatar.toml").write_text(manifest.replace('likeness = "synthetic"',
                                                         'likeness = "Jane Doe"'))
    env = isolated_env(tmp_path, PERSONA_PATH=str(tmp_path))
    code, checks, _ = doctor("--check", "consent", env=env)
    refused = found(checks, "consent, scene 'Real person' (key 1)")
    assert code == 1 and refused["status"] == "MISSING"
    assert "consent manifest is incomplete" in refused["detail"] and "sign" in refused["fix"]


# -- a real PulseAudio server, set up as docs/voice.md says ----------------------------------

def docs_pactl_lines() -> list[str]:
    """The ``pactl load-module`` lines of docs/voice.md (the ones that make the microphone)."""
    return [line.strip() for line in VOICE_DOC.read_text().splitlines()
            if line.strip().startswith("pactl load-module")]


def pactl(*args: str) -> str:
    return subprocess.run(["pactl", *args], capture_output=True, text=True, check=True,
                          timeout=10).stdout.strip()


@pytest.fixture(scope="module")
def pulse():
    """A real PulseAudio server with stand-ins for the clinician's headphones and microphone."""
    from engine.voice.pulse import null_sinks

    require_programs("pulseaudio", "pactl", "parec")
    with null_sinks(SPEAKERS, default_sink=SPEAKERS):
        module = pactl("load-module", "module-null-source", f"source_name={REAL_MIC}",
                       "description=Headset")
        pactl("set-default-source", REAL_MIC)
        try:
            yield
        finally:
            pactl("unload-module", module)


@pytest.fixture
def persona_mic(pulse):
    """The virtual microphone, made by running docs/voice.md's lines in a shell."""
    modules = [subprocess.run(["bash", "-c", line], capture_output=True, text=True, check=True,
                              timeout=10).stdout.strip() for line in docs_pactl_lines()]
    try:
        yield
    finally:
        pactl("set-default-source", REAL_MIC)
        for module in reversed(modules):
            pactl("unload-module", module)


def pulse_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # The fixture's private server is reached through these (engine.voice.pulse sets them).
    keep = {key: os.environ[key] for key in ("XDG_RUNTIME_DIR", "PULSE_SERVER")
            if key in os.environ}
    return {**isolated_env(tmp_path), **keep, **extra}


def test_docs_make_the_microphone_the_doctor_looks_for(persona_mic):
    assert docs_pactl_lines() == [SINK_COMMAND, SOURCE_COMMAND]
    sinks = {node.name: node for node in parse_nodes(pactl("list", "sinks"))}
    sources = {node.name: node for node in parse_nodes(pactl("list", "sources"))}
    assert sinks[SINK].description == DESCRIPTION
    assert sources[SOURCE].description == DESCRIPTION and sources[SOURCE].master == MONITOR
    assert sources[MONITOR].monitor_of == SINK


def test_set_up_as_documented_everything_is_ok(persona_mic, tmp_path):
    env = pulse_env(tmp_path, PULSE_SINK=SINK)
    code, checks, stdout = doctor("--check", "audio", "--check", "virtualmic", "--output",
                                  "pulse", env=env)
    assert code == 0, stdout
    assert all(check["status"] == "ok" for check in checks), stdout
    assert DESCRIPTION in found(checks, "virtual microphone")["detail"]
    assert "'Headset'" in found(checks, "microphone input")["detail"]
    routing = found(checks, "voice routing")
    assert routing["figures"]["recorded"] == SOURCE
    assert routing["figures"]["other_db"] < -60  # nothing but Persona plays into the sink
    assert routing["figures"]["tone_db"] == pytest.approx(20 * np.log10(AMPLITUDE / np.sqrt(2)),
                                                          abs=1.5)


def test_without_pulse_sink_the_voice_goes_to_the_speakers(persona_mic, tmp_path):
    code, checks, stdout = doctor("--check", "virtualmic", "--output", "pulse",
                                  env=pulse_env(tmp_path))
    routing = found(checks, "voice routing")
    assert code == 1 and routing["status"] == "MISSING", stdout
    assert "did not reach" in routing["detail"] and f"PULSE_SINK={SINK}" in routing["fix"]


def test_other_sound_in_the_microphone_is_a_warning(persona_mic, tmp_path):
    # A sine generator playing into the sink: what a loopback from the real microphone, or Zoom
    # using "Persona Microphone" as its speaker, would do.
    sine = pactl("load-module", "module-sine", f"sink={SINK}", "frequency=440")
    try:
        code, checks, stdout = doctor("--check", "virtualmic", "--output", "pulse",
                                      env=pulse_env(tmp_path, PULSE_SINK=SINK))
    finally:
        pactl("unload-module", sine)
    routing = found(checks, "voice routing")
    assert code == 0 and routing["status"] == "WARNING", stdout
    assert "so does other sound" in routing["detail"] and routing["figures"]["other_db"] > -60


@pytest.mark.parametrize("default_source", [MONITOR, SOURCE])
def test_default_source_on_persona_is_the_feedback_loop(persona_mic, tmp_path, default_source):
    pactl("set-default-source", default_source)
    code, checks, stdout = doctor("--check", "virtualmic", "--output", "pulse",
                                  env=pulse_env(tmp_path, PULSE_SINK=SINK))
    loop = found(checks, "microphone input")
    assert code == 1 and loop["status"] == "MISSING", stdout
    assert "feedback loop" in loop["detail"]
    assert loop["fix"].startswith(f"pactl set-default-source {REAL_MIC}")


def test_no_sink_yet_gives_the_documented_lines(pulse, tmp_path):
    code, checks, _ = doctor("--check", "virtualmic", env=pulse_env(tmp_path))
    mic = found(checks, "virtual microphone")
    assert code == 1 and mic["status"] == "MISSING"
    assert mic["fix"] == f"{SINK_COMMAND} && {SOURCE_COMMAND}"


# -- Windows and macOS: the virtual cable, judged from the device list ----------------------

def cable_devices(output: str, microphone: str):
    from engine.doctor.audio import VoiceDevices
    from engine.voice.devices import AudioDevice

    devices = [AudioDevice(0, "Microphone (USB Headset)", "Windows WASAPI", 1, 0, 48000.0),
               AudioDevice(1, "Speakers (USB Headset)", "Windows WASAPI", 0, 2, 48000.0),
               AudioDevice(2, "CABLE Input (VB-Audio Virtual Cable)", "Windows WASAPI", 0, 2,
                           48000.0),
               AudioDevice(3, "CABLE Output (VB-Audio Virtual Cable)", "Windows WASAPI", 2, 0,
                           48000.0)]
    by_name = {device.name.split(" (")[0]: device for device in devices}
    return VoiceDevices(devices, by_name[microphone], by_name[output])


def test_windows_cable_routing_and_feedback():
    from engine.doctor.audio import check_cable

    good = check_cable(cable_devices("CABLE Input", "Microphone"), "Windows")
    assert [(f.what, f.status) for f in good] == [("voice routing", "ok")]
    assert "'CABLE Output'" in good[0].detail
    speakers = check_cable(cable_devices("Speakers", "Microphone"), "Windows")
    assert speakers[0].status == "MISSING" and '--output "CABLE Input"' in speakers[0].fix
    loop = check_cable(cable_devices("CABLE Input", "CABLE Output"), "Windows")
    assert [(f.what, f.status) for f in loop] == [("voice routing", "ok"),
                                                  ("microphone input", "MISSING")]
    no_cable = cable_devices("Speakers", "Microphone")
    no_cable.devices[2:] = []
    assert check_cable(no_cable, "Windows")[0].fix.startswith("install VB-Audio")


# -- the tone analysis on its own ------------------------------------------------------------

def test_tone_analysis_finds_the_tone_and_what_surrounds_it():
    rng = np.random.default_rng(1)
    hiss = 0.01 * rng.standard_normal(RATE).astype(np.float32)  # -40 dBFS of something else
    recording = np.concatenate([tone() + hiss[:len(tone())], hiss[:RATE // 4]])
    result = analyse(recording)
    assert result.arrived and result.other_db == pytest.approx(-40, abs=1.5)
    silence = analyse(np.zeros(RATE, np.float32))
    assert not silence.arrived and silence.other_db == -120.0
    assert not analyse(hiss).arrived


def test_the_clinician_quick_start_uses_the_names_the_doctor_checks():
    text = CLINICIAN_DOC.read_text()
    assert text.index("persona doctor") < text.index("## ")  # the first thing to run
    for needed in (SINK_COMMAND, SOURCE_COMMAND, "Persona Camera", f"PULSE_SINK={SINK}",
                   "--voice", "pactl set-default-source", "modprobe v4l2loopback",
                   "OBS Virtual Camera", "VB-Cable", "BlackHole", "hud.md",
                   "## What the switches do"):
        assert needed in text, needed
