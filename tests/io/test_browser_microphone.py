"""A real browser consumes our microphone: the live voice engine morphs a voice with a
pitch-shifting preset and plays it into a PulseAudio null sink on a private test server,
as a session playing into a virtual cable does; Chromium takes the default microphone with
getUserMedia, and the test checks what the page heard is the morphed voice (its pitch moved by
the preset's shift), not the input.

Chromium leaves monitor sources out of its microphone list, so the null sink's monitor is offered
as a remapped source — the same set-up docs/clinician.md gives for Linux.

The voice is the built-in synthetic talker: on a loaded two-core machine the path loses a few
blocks now and then, and the median F0 of read speech (a falling contour, two clusters of
values) then swung by up to two semitones between runs; the talker's single cluster does not.
"""

from __future__ import annotations

import subprocess
import time

import numpy as np
import pytest

from engine.voice.presets import VoicePreset
from tests.io.browser import chromium_page, unpack

RATE = 48000
# Pitch only: a preset that also widens or narrows intonation (the shipped character voices)
# makes the F0 distribution of a 3.5 s clip bimodal, and its median then jumps between modes.
PRESET = VoicePreset(pitch_semitones=-5.0)


@pytest.fixture
def virtual_microphone():
    """A null sink ``persona_voice`` (where the voice plays) and its monitor remapped as the
    source ``persona_microphone``, both defaults, on a private PulseAudio server."""
    from engine.voice.pulse import null_sinks
    from tests.conftest import require_programs

    require_programs("pulseaudio", "pactl")
    with null_sinks("persona_voice", default_sink="persona_voice"):
        loaded = subprocess.run(
            ["pactl", "load-module", "module-remap-source", "master=persona_voice.monitor",
             "source_name=persona_microphone", "channels=1"],
            capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        try:
            subprocess.run(["pactl", "set-default-source", "persona_microphone"], check=True,
                           timeout=10)
            yield
        finally:
            subprocess.run(["pactl", "unload-module", loaded], capture_output=True, timeout=10)


def _speak(engine, voice: np.ndarray) -> None:
    """Feed ``voice`` to the engine at a microphone's pace."""
    started = time.perf_counter()
    for i in range(0, len(voice), engine.hop):
        engine.push_input(voice[i:i + engine.hop])
        time.sleep(max(0.0, started + (i + engine.hop) / RATE - time.perf_counter()))


def test_chromium_hears_the_morphed_voice_through_a_virtual_microphone(virtual_microphone):
    from scipy.signal import resample_poly

    from engine.voice.live import VoiceEngine
    from engine.voice.synthetic import speech_like
    from tests.voice.conftest import median_f0

    voice = speech_like(3.0, RATE, seed=5)
    engine = VoiceEngine(sample_rate=RATE, preset=PRESET)
    with chromium_page("microphone.html") as page:
        page.wait_for_function("window.microphone_rate > 0 || window.microphone_error",
                               timeout=20_000)
        assert page.evaluate("window.microphone_error") is None
        heard_rate = int(page.evaluate("window.microphone_rate"))
        time.sleep(0.3)
        page.evaluate("window.heard.length = 0")  # from here on: our voice only
        engine.start(input=False, output="pulse")
        try:
            _speak(engine, voice)
            time.sleep(1.5)  # the last hops, the device buffers and Chromium's (about 0.7 s)
            morphed = engine.drain_recorded()  # the engine's recorder tap: what it played
        finally:
            engine.stop()
        chunks = page.evaluate("window.heard")
    heard = np.concatenate(unpack(chunks, "<i2")).astype(np.float32) / 32767
    assert np.abs(heard).max() > 0.05, "the page heard nothing"

    def semitones(signal: np.ndarray, signal_rate: int) -> float:
        """Median F0 of ``signal`` against the input's, in semitones (Harvest, at 16 kHz)."""
        at16 = resample_poly(signal, 16000, signal_rate).astype(np.float32)
        return float(12 * np.log2(median_f0(at16, 16000) / input_f0))

    input_f0 = median_f0(resample_poly(voice, 1, 3).astype(np.float32), 16000)

    # The browser heard the voice moved down by the preset's 5 semitones (the unmorphed input
    # measures 0), as the engine's own recorder tap has it (−5.02). Typically −5.08 to −5.12
    # at the browser; in 2 of about 12 runs on a busy machine Chromium's capture lost blocks
    # and the median of the 3 s clip read −5.76 and −6.22, so the bound is 1.5 semitones:
    # still far from the input's 0.
    heard_shift = semitones(heard, heard_rate)
    assert semitones(morphed, RATE) == pytest.approx(PRESET.pitch_semitones, abs=0.5)
    assert heard_shift == pytest.approx(PRESET.pitch_semitones, abs=1.5)
