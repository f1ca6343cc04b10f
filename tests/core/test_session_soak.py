"""The scripted session (``persona bench session``): the real app as ``persona run`` builds it,
the live voice engine on a PulseAudio null sink, a clinician's script of scene switches, card,
mute, panic and real-voice requests, and the sink's monitor recorded and searched for leaks.

The benchmark's default is a ten-minute session (``persona bench session --json``, run by hand
or nightly: it takes ten minutes of real time). Here it runs for one minute: the calibration
stretch and one whole cycle of the script, so every switch and every refusal happens once.
"""

from __future__ import annotations

from engine.session_soak import CALIBRATION_S, CYCLE, CYCLE_S, LEAK_LIMIT_DBFS, bench_session
from tests.conftest import require_programs

# speech_like sits around −23 dBFS RMS; the morph keeps it there. Anything below −40 dBFS in a
# stretch meant to be heard would be a broken path, not a quieter voice.
AUDIBLE_DBFS = -40.0


def test_a_scripted_session_never_leaks_and_is_heard_in_between():
    require_programs("pulseaudio", "pactl")
    figures = bench_session(CALIBRATION_S + CYCLE_S)
    # Every command did what the script says, and was refused exactly where it says.
    assert figures["commands"] == len(CYCLE)
    assert figures["state_mismatches"] == 0
    assert figures["refused"] == sum(step.refused for step in CYCLE)
    assert figures["real_voice_in_anonymous_frames"] == 0
    # Nothing was heard while hidden, and most of each hidden stretch was listened to.
    assert figures["leak_max_dbfs"] < LEAK_LIMIT_DBFS, figures
    assert figures["hidden_intervals"] >= 4
    assert figures["hidden_measured_s"] > 0.7 * figures["hidden_s"], figures
    # And everything in between was heard.
    assert figures["speaking_median_dbfs"] > AUDIBLE_DBFS, figures
    assert figures["speaking_quietest_stretch_dbfs"] > AUDIBLE_DBFS, figures
    assert figures["stage_errors"] == 0
