"""The privacy shutter cannot leak: every sequence a clinician can produce with the keys (B, M,
P held or not, V once or twice, scene keys) and the control page (switches with a wanted state,
the confirmed lift, the confirmed real voice), through the real app, checked on the voice's
switches AND on what the far end receives.

Offline the voice is ``PrecomputedVoice`` (a morphed voice track, no devices): what it drains
each frame is what the recorder and the virtual microphone receive, and the app's output stage
hands exactly that to the memory sink, where it is measured. The shutter runs on the app's own
offline clock, so holding P for 2 s is 60 frames and a test takes no wall-clock time to wait.
Named sequences check what each does exactly; random walks over every gesture check, after
each command, the rules that must always hold.

The live test runs the real ``VoiceEngine`` into a PulseAudio null sink and records its monitor,
as ``persona bench session`` does for ten minutes.
"""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest

from dataclasses import replace

from engine.clock import Clock
from engine.offline import PrecomputedVoice, morphed_demo_voice
from engine.scenes import load_scene
from engine.session_soak import (CALIBRATION_S, LEAK_LIMIT_DBFS, RATE, Microphone,
                                 MonitorRecorder, Step, Tap, listen, locate, run_script)
from engine.shutter import CONFIRM_S, PANIC_HOLD_S, Shutter
from engine.status import CONFIRM, LIFT, RELEASE, Command, VoiceStatus
from engine.voice.effects import rms_db
from engine.voice.live import VoiceEngine
from engine.voice.synthetic import speech_like
from tests.control.conftest import FPS, SIZE, Rig
from tests.voice.conftest import null_sink  # noqa: F401  (the fixture, for the live test)

TRACK_RATE = 16000
HIDDEN_DBFS = LEAK_LIMIT_DBFS  # the far end hears nothing of a hidden state: under −60 dBFS
# A second of speech is well above this even with its pauses (speech_like peaks near −6 dBFS
# and sits around −24 dBFS RMS; a pause drops a single frame to its −80 dBFS noise floor).
AUDIBLE_DBFS = -40.0
HOLD_FRAMES = round(PANIC_HOLD_S * FPS)


def frames(seconds: float) -> int:
    return round(seconds * FPS)


class TwoTrackVoice:
    """The precomputed voice as the app sees the live one, with the real voice as well.

    ``PrecomputedVoice`` plays a track that was morphed ahead and has no unmorphed signal to
    pass, so its bypass only changes what it reports; this plays two of them in step, the
    morphed track and the speaker's own, and lets the bypass choose, as the live engine's
    time-aligned dry path does.
    """

    def __init__(self, morphed: np.ndarray, real: np.ndarray) -> None:
        self.morphed = PrecomputedVoice(morphed, TRACK_RATE, FPS, "anonymous-deep")
        self.real = PrecomputedVoice(real, TRACK_RATE, FPS, "anonymous-deep")
        self.bypass = False

    @property
    def sample_rate(self) -> int:
        return TRACK_RATE

    def drain_recorded(self) -> np.ndarray:
        morphed, real = self.morphed.drain_recorded(), self.real.drain_recorded()
        return real if self.bypass else morphed

    def record_delay_s(self) -> float:
        return self.morphed.record_delay_s()

    def set_mute(self, mute: bool) -> None:
        self.morphed.set_mute(mute)
        self.real.set_mute(mute)

    def set_bypass(self, bypass: bool) -> None:
        self.bypass = bypass

    def set_preset(self, preset, crossfade_s: float = 0.3) -> None:
        """The track was morphed ahead."""

    def status(self) -> VoiceStatus:
        return replace((self.real if self.bypass else self.morphed).status(), bypass=self.bypass)


@pytest.fixture(scope="module")
def tracks() -> tuple[np.ndarray, np.ndarray]:
    """(morphed, real) voice, long enough for the longest test (a random walk that runs to its
    most gestures: about 7 minutes of frames): 8 s morphed once, looped."""
    morphed = morphed_demo_voice(8.0, "anonymous-deep", TRACK_RATE)
    real = speech_like(8.0, TRACK_RATE)  # what morphed_demo_voice morphs
    return np.tile(morphed, 60), np.tile(real, 60)


def add_privacy_scene(rig: Rig, folder) -> None:
    """A fourth scene, on key 4, that promises anonymity (as the shipped privacy scene does)."""
    path = folder / "privacy.toml"
    path.write_text('name = "privacy"\nhotkey = "4"\navatar = "blue"\nanonymous = true\n'
                    '[background]\ncolor = [0.0, 0.0, 0.0]\n[style]\nmirror = false\n')
    rig.app.director.scenes.append(load_scene(path))


class Clinician:
    """Presses keys and page buttons on a real app and listens to what the far end receives."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.app = rig.app
        self._heard = 0  # audio blocks of the memory sink already listened to
        self.answered: str | None = None  # what the app said to the last commands sent

    def key(self, text: str, then: int = 1) -> np.ndarray:
        """A hotkey as the preview window sends it (``"blank"``, ``"panic:release"``)."""
        return self.send(Command.parse(text), then=then)

    def send(self, *commands: Command, then: int = 1) -> np.ndarray:
        """Queue ``commands``, run ``then`` (≥ 1) frames; the per-frame dBFS the far end
        received. ``answered`` is what the app said to them (a refusal), if anything."""
        for command in commands:
            self.app.commands.put(command)
        first = self.wait(1)
        status = self.app.status()
        # Said in the controls stage of that frame: its age is that one frame.
        fresh = status.message is not None and status.message_age_s < 1.5 / FPS
        self.answered = status.message if fresh else None
        return np.concatenate([first, self.wait(then - 1)])

    def wait(self, count: int) -> np.ndarray:
        """Run ``count`` frames; the per-frame dBFS the far end received."""
        levels = []
        for _ in range(count):
            self.app.step()
            blocks = self.rig.sink.audio[self._heard:]
            self._heard = len(self.rig.sink.audio)
            # One block per frame, never empty: an empty block would read as silence.
            assert len(blocks) == 1 and len(blocks[0].samples) >= TRACK_RATE // FPS - 1
            levels.append(rms_db(blocks[0].samples))
        return np.array(levels)

    def speak(self, seconds: float = 1.0) -> float:
        """Let a stretch pass; the RMS in dBFS of all the far end received over it."""
        levels = self.wait(frames(seconds))
        return float(10.0 * np.log10(np.mean(10.0 ** (levels / 10.0))))

    @property
    def voice(self):
        return self.app.voice.status()

    def hidden_and_silent(self, levels: np.ndarray) -> None:
        assert self.app.shutter.blank and self.voice.muted
        assert levels.max() < HIDDEN_DBFS, levels
        assert self.voice.output_db < HIDDEN_DBFS  # the voice's own meter says so too

    def speaking(self, real: bool = False) -> None:
        assert not self.app.shutter.blank and not self.voice.muted
        assert self.voice.bypass is real
        assert self.speak() > AUDIBLE_DBFS


@pytest.fixture
def clinician(gl, tmp_path, tracks):
    rig = Rig(gl, tmp_path)
    add_privacy_scene(rig, tmp_path)
    rig.app.voice = TwoTrackVoice(*tracks)
    # The app's offline clock times holds and confirmations: frames are the only time here.
    rig.app.shutter = Shutter(lambda: rig.app.voice, clock=rig.app.clock.now)
    person = Clinician(rig)
    person.wait(1)
    person.speaking()
    yield person
    rig.close()


# -- the card and the mute -------------------------------------------------------------------


def test_blank_then_mute_keeps_the_voice_muted_until_both_are_undone(clinician):
    clinician.hidden_and_silent(clinician.key("blank", then=frames(0.5)))
    # M while the card is up: the card stays silent and gives back a muted voice.
    clinician.hidden_and_silent(clinician.key("mute", then=frames(0.5)))
    # The page asking to unmute while the card is up changes only what the card gives back...
    clinician.hidden_and_silent(clinician.send(Command("mute", on=False), then=frames(0.5)))
    clinician.hidden_and_silent(clinician.send(Command("mute", on=True), then=frames(0.5)))
    levels = clinician.key("blank", then=frames(0.5))
    assert not clinician.app.shutter.blank and clinician.voice.muted
    assert levels.max() < HIDDEN_DBFS
    clinician.key("mute")
    clinician.speaking()


@pytest.mark.parametrize("before", [False, True])
def test_the_card_gives_back_exactly_the_mute_from_before(clinician, before):
    clinician.send(Command("mute", on=before), then=frames(0.5))
    clinician.hidden_and_silent(clinician.send(Command("blank", on=True), then=frames(1.0)))
    levels = clinician.send(Command("blank", on=False), then=frames(1.0))
    assert not clinician.app.shutter.blank and clinician.voice.muted is before
    if before:
        assert levels.max() < HIDDEN_DBFS
    else:
        clinician.speaking()


def test_mute_on_twice_changes_nothing_the_second_time(clinician):
    for _ in range(2):
        levels = clinician.send(Command("mute", on=True), then=frames(0.5))
        assert clinician.voice.muted and levels.max() < HIDDEN_DBFS
        assert clinician.answered is None
    # The card over it gives the mute back, not the state before the first request.
    clinician.hidden_and_silent(clinician.key("blank", then=frames(0.5)))
    levels = clinician.key("blank", then=frames(0.5))
    assert clinician.voice.muted and levels.max() < HIDDEN_DBFS
    clinician.send(Command("mute", on=False))
    clinician.speaking()


@pytest.mark.parametrize("apart", [0, 1], ids=["same frame", "next frame"])
def test_two_quick_blank_requests_do_not_keep_the_voice_muted(clinician, apart):
    # The second request must not take the card's own mute for the state to give back.
    clinician.app.commands.put(Command("blank", on=True))
    clinician.wait(apart)
    clinician.hidden_and_silent(clinician.send(Command("blank", on=True), then=frames(0.5)))
    clinician.send(Command("blank", on=False))
    clinician.speaking()


# -- panic -----------------------------------------------------------------------------------


def panic(clinician: Clinician) -> None:
    """P pressed and let go at once: panic on, everything hidden."""
    clinician.key("panic")
    clinician.hidden_and_silent(clinician.key(f"panic:{RELEASE}", then=frames(0.5)))
    assert clinician.app.shutter.panic and not clinician.voice.bypass


@pytest.mark.parametrize("attempt", [
    "blank", "mute", "voice", Command("blank", on=False), Command("mute", on=False),
    Command("voice", CONFIRM, on=False), Command("panic", on=False), "scene:2",
], ids=str)
def test_panic_refuses_every_attempt_to_show_or_unmute(clinician, attempt):
    panic(clinician)
    for _ in range(2):  # twice: V twice would otherwise confirm the real voice
        command = Command.parse(attempt) if isinstance(attempt, str) else attempt
        levels = clinician.send(command, then=frames(0.5))
        clinician.hidden_and_silent(levels)
        assert clinician.app.shutter.panic and not clinician.voice.bypass
        if command.name.value != "scene":  # a scene switch is allowed and says nothing
            assert clinician.answered is not None


def test_panic_is_lifted_only_by_holding_p_for_2_s(clinician):
    panic(clinician)
    clinician.hidden_and_silent(clinician.key(f"panic:{RELEASE}"))  # a stray release
    assert clinician.app.shutter.panic and clinician.answered is None
    # Held for a little less than 2 s: refused, and the answer says how long to hold.
    clinician.hidden_and_silent(clinician.key("panic", then=HOLD_FRAMES - 3))
    clinician.hidden_and_silent(clinician.key(f"panic:{RELEASE}", then=1))
    assert clinician.app.shutter.panic and "hold P" in clinician.answered
    # Held for a little more: lifted, but the card stays up and the voice stays muted.
    clinician.hidden_and_silent(clinician.key("panic", then=HOLD_FRAMES + 3))
    clinician.hidden_and_silent(clinician.key(f"panic:{RELEASE}", then=frames(0.5)))
    assert not clinician.app.shutter.panic and "lifted" in clinician.answered
    levels = clinician.key("blank", then=frames(0.5))
    assert not clinician.app.shutter.blank and clinician.voice.muted
    assert levels.max() < HIDDEN_DBFS
    clinician.key("mute")
    clinician.speaking()


@pytest.mark.parametrize("held", [1.0, 2.5])
def test_letting_go_of_p_after_the_page_lifted_the_panic_says_nothing(clinician, held):
    # It once answered "panic stays on: hold P" (a short hold) or lifted a second time.
    panic(clinician)
    clinician.key("panic", then=frames(0.5))  # P held...
    clinician.send(Command("panic", LIFT), then=frames(held - 0.5))  # ...while the page lifts
    assert not clinician.app.shutter.panic
    clinician.hidden_and_silent(clinician.key(f"panic:{RELEASE}", then=frames(0.5)))
    assert clinician.answered is None and not clinician.app.shutter.panic


def test_the_pages_confirmed_lift_ends_the_panic_and_leaves_the_card_up(clinician):
    clinician.send(Command("panic", on=True), then=1)  # the page's button
    clinician.hidden_and_silent(clinician.send(Command("panic", on=True), then=frames(0.5)))
    clinician.hidden_and_silent(clinician.send(Command("panic", LIFT), then=frames(0.5)))
    assert not clinician.app.shutter.panic
    clinician.hidden_and_silent(clinician.send(Command("panic", LIFT), then=frames(0.5)))
    assert clinician.app.shutter.blank  # a second lift changes nothing
    clinician.send(Command("mute", on=False))  # while the card is up: what it gives back
    clinician.hidden_and_silent(clinician.wait(frames(0.5)))
    clinician.send(Command("blank", on=False))
    clinician.speaking()


def test_panic_over_the_card_and_a_mute_keeps_the_voice_muted_after_it(clinician):
    clinician.key("mute")
    clinician.key("blank")
    panic(clinician)
    clinician.send(Command("panic", LIFT), then=frames(0.5))
    levels = clinician.key("blank", then=frames(0.5))
    assert clinician.voice.muted and levels.max() < HIDDEN_DBFS
    clinician.key("mute")
    clinician.speaking()


# -- the real voice --------------------------------------------------------------------------


def test_the_real_voice_needs_v_twice_within_3_s(clinician):
    clinician.key("voice")
    assert "press V again" in clinician.answered
    clinician.speaking(real=False)  # a second: still within the 3 s
    clinician.key("voice")
    assert clinician.answered is None
    clinician.speaking(real=True)
    clinician.key("voice")  # back to the morph: no confirmation needed
    clinician.speaking(real=False)
    # Two presses further apart than 3 s: each one only asks.
    clinician.key("voice", then=frames(CONFIRM_S + 0.5))
    clinician.key("voice")
    assert "press V again" in clinician.answered
    assert not clinician.voice.bypass


def test_the_pages_confirmed_request_switches_the_real_voice_on_at_once(clinician):
    clinician.send(Command("voice", CONFIRM, on=False))
    assert clinician.answered is None
    clinician.speaking(real=True)
    clinician.send(Command("voice", on=True))
    clinician.speaking(real=False)


@pytest.mark.parametrize("request_", [("voice", "voice"), (Command("voice", CONFIRM, on=False),)],
                         ids=["V twice", "confirmed"])
def test_a_scene_that_promises_anonymity_refuses_the_real_voice(clinician, request_):
    clinician.key("scene:4")
    assert clinician.app.director.current.scene.anonymous
    for item in request_:
        clinician.send(Command.parse(item) if isinstance(item, str) else item)
        assert "anonymity" in clinician.answered
    clinician.speaking(real=False)


def test_switching_into_an_anonymous_scene_turns_the_morph_back_on(clinician):
    clinician.key("voice")
    clinician.key("voice")
    clinician.speaking(real=True)
    clinician.key("scene:4")
    clinician.speaking(real=False)
    clinician.key("scene:1")  # leaving it does not bring the real voice back
    clinician.speaking(real=False)


# -- anything at all -------------------------------------------------------------------------


# What each walk must have gone through. (Entering the anonymous scene with the real voice on
# is rarer than that, and has its own test; every step of the walk checks its rule.)
WALK_COVERS = {"speaking", "muted", "card", "panic", "panic lifted by release",
               "panic lifted by lift", "real voice by V twice", "real voice confirmed"}
WALK_GESTURES = (150, 500)  # at least, and at most while something is not yet covered
PRESS, RELEASED = Command("panic"), Command("panic", RELEASE)  # P down, P up (the window's)


def gestures() -> list[list[tuple[Command, int]]]:
    """Everything a clinician can do, as (command, frames until the next one): single keys,
    V twice, P tapped or held (shorter and longer than the lift needs, with other keys pressed
    while it is held), and each of the control page's requests."""
    single = [Command.parse(text) for text in ("blank", "mute", "voice", "scene:1", "scene:4")]
    page = [Command("blank", on=True), Command("blank", on=False), Command("mute", on=True),
            Command("mute", on=False), Command("voice", on=True), Command("voice", on=False),
            Command("voice", CONFIRM, on=False), Command("panic", on=True),
            Command("panic", on=False), Command("panic", LIFT)]
    keys_while_held = [(Command.parse(text), 20) for text in ("blank", "mute", "voice")]
    return ([[(command, 1)] for command in single + page]
            + [[(Command("voice"), frames(1.0)), (Command("voice"), 1)],
               [(PRESS, 1), (RELEASED, 1)],
               [(PRESS, HOLD_FRAMES - 6), (RELEASED, 1)],
               [(PRESS, HOLD_FRAMES + 6), (RELEASED, 1)],
               [(PRESS, 10), *keys_while_held, (RELEASED, 1)]])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_sequence_of_switches_leaks(clinician, seed):
    """A long random walk over every gesture, with pauses of up to 3.5 s between them (so that
    confirmation windows both run out and do not), checking after each command what must
    always hold: the card or the panic on ⇒ muted and silent; panic ⇒ card up and the morph
    on; an anonymous scene ⇒ the morph on; the card, the mute and the panic end only by a
    command meant to end them; the real voice comes on only when confirmed."""
    app, shutter = clinician.app, lambda: clinician.app.shutter
    rng = random.Random(seed)
    choices = gestures()
    # Keys and V twice more often than P or the page's buttons, and scene 1 most: the walk
    # would otherwise spend most of its time in the panic (four gestures start it) or in the
    # anonymous scene, and seldom reach the real voice.
    weights = [1 if first.name.value == "panic" or first.on is not None else
               5 if first.argument == "1" else 3 for (first, _), *_ in choices]
    held_since: float | None = None  # when P went down, while it is down
    asked_at = -1e9  # the last request for the real voice
    speaking_levels = []
    seen: set[str] = set()  # what the walk went through, so that a seed that misses some fails
    for walked in range(WALK_GESTURES[1]):
        if walked >= WALK_GESTURES[0] and seen >= WALK_COVERS:
            break
        gesture = rng.choices(choices, weights)[0]
        pause = rng.choices([1, 3, 10, 30, frames(3.5)], [3, 3, 3, 2, 1])[0]
        for number, (command, then) in enumerate(gesture):
            before = (shutter().blank, shutter().panic, clinician.voice.muted,
                      clinician.voice.bypass)
            now = app.clock.now()  # the shutter's time when the command applies
            levels = clinician.send(command, then=then if number < len(gesture) - 1 else pause)
            blank, panicked, muted, bypass = (shutter().blank, shutter().panic,
                                              clinician.voice.muted, clinician.voice.bypass)
            context = f"seed {seed}: {command} after (blank, panic, muted, real) = {before}"
            if blank or panicked:
                assert muted, context
            if muted:
                assert levels.max() < HIDDEN_DBFS, context
            else:
                speaking_levels.extend(levels)
            if panicked:
                assert blank and not bypass, context
            if app.director.current.scene.anonymous:
                assert not bypass, context
            name, on = command.name.value, command.on
            if before[0] and not blank:  # the card came down: B, asked for, and no panic
                assert name == "blank" and on is not True and not before[1], context
            if before[2] and not muted:  # unmuted: by M or by the card giving the voice back
                assert name in ("mute", "blank") and on is not True and not before[1], context
            if before[1] and not panicked:  # the panic lifted: deliberately only
                held = held_since is not None and now - held_since >= PANIC_HOLD_S
                assert command.argument == LIFT or (command == RELEASED and held), context
                seen.add(f"panic lifted by {command.argument}")
            if bypass and not before[3]:  # the real voice: confirmed, where it is allowed
                confirmed = command.argument == CONFIRM or now - asked_at <= CONFIRM_S
                assert name == "voice" and confirmed and not before[1], context
                seen.add("real voice confirmed" if command.argument else "real voice by V twice")
            seen.add("panic" if panicked else "card" if blank else
                     "muted" if muted else "speaking")
            if name == "voice" and on is not True and not before[3]:
                asked_at = now
            held_since = now if command == PRESS else None if command == RELEASED else held_since
    assert seen >= WALK_COVERS, sorted(WALK_COVERS - seen)
    # What was not hidden was heard: the walk's speaking frames, together, are clearly audible.
    assert 10.0 * np.log10(np.mean(10.0 ** (np.array(speaking_levels) / 10.0))) > AUDIBLE_DBFS


# -- live: the real voice engine on a null sink ----------------------------------------------


def _step(at: float, text: str | Command, *, refused: bool = False, **expect: bool) -> Step:
    command = Command.parse(text) if isinstance(text, str) else text
    return Step(at, command, expect, refused)


LIVE_SCRIPT = (
    _step(0.0, "blank", blank=True, muted=True),
    _step(2.0, "blank", blank=False, muted=False),
    _step(4.0, "mute", muted=True),
    _step(5.5, "blank", blank=True, muted=True),
    _step(7.0, "blank", blank=False, muted=True),
    _step(8.5, "mute", muted=False),
    _step(10.0, "panic", blank=True, panic=True, muted=True),
    _step(10.2, f"panic:{RELEASE}", panic=True),
    _step(11.0, "blank", refused=True, blank=True, panic=True),
    _step(11.2, "mute", refused=True, muted=True),
    _step(11.4, "voice", refused=True, real_voice=False),
    _step(12.0, Command("panic", LIFT), refused=True, blank=True, panic=False, muted=True),
    _step(13.0, "blank", blank=False, muted=True),
    _step(14.0, "mute", muted=False),
    _step(16.0, "voice", refused=True, real_voice=False),
    _step(16.5, "voice", real_voice=True),
    _step(19.5, "scene:4", real_voice=False),
    _step(22.0, "blank", blank=True, muted=True),  # ...and below, a leak is made behind it
)
LEAK_AT = 23.0  # the voice unmuted behind the shutter's back: the listening must catch it
LIVE_S = CALIBRATION_S + 25.0


def waveform_match(microphone: Microphone, recorder: MonitorRecorder, start: float) -> float:
    """How closely the far end heard what was spoken, sample by sample, in the second from
    ``start``: the best normalised correlation over four quarter seconds, each looked for in
    the 600 ms after it was spoken. About 1 when the real voice passes (its path only delays
    it), low for the morph, which re-synthesises every pitch period."""
    heard = recorder.samples()
    best = 0.0
    for quarter in range(4):
        at = start + quarter * 0.25
        expected = recorder.index_at(at)
        best = max(best, locate(microphone.spoken(at, RATE // 4), heard, expected,
                                expected + int(0.6 * RATE))[1])
    return best


def test_live_voice_on_a_null_sink_goes_silent_behind_every_switch(gl, tmp_path, null_sink):
    """The card, the mute, the card over a mute and the panic with refused attempts, the real
    voice and the anonymous scene, heard through the null sink. At the end the voice is unmuted
    behind the card by hand, as a bug would: the listening must find that leak, and only that."""
    rig = Rig(gl, tmp_path)
    add_privacy_scene(rig, tmp_path)
    app = rig.app
    app.clock = Clock(FPS)  # a live session's pace: the voice runs in real time
    voice = VoiceEngine(sample_rate=RATE, preset="calm-warm")
    app.voice = voice
    tap = Tap()  # what the app hands its recorder
    tap.open(*SIZE, FPS)
    app.sinks.append(tap)
    microphone = Microphone(voice, speech_like(20.0, RATE, seed=11))
    recorder = MonitorRecorder()
    steps = [(CALIBRATION_S + step.at, step) for step in LIVE_SCRIPT]
    leak = threading.Timer(CALIBRATION_S + LEAK_AT, voice.set_mute, (False,))
    try:
        recorder.start()
        voice.start(input=False, output="pulse")
        microphone.start()
        leak.start()
        run = run_script(app, iter(steps), LIVE_S)
        time.sleep(1.0)  # the last frames' audio reaches the far end
    finally:
        leak.cancel()
        microphone.stop()
        voice.stop()
        recorder.stop()
        rig.close()
    assert run.mismatches == 0 and run.refused == 5 and run.anonymous_real == 0
    heard = listen(tap, recorder, np.array(run.times), np.array(run.hidden))
    assert heard.hidden_intervals == 4 and heard.unaligned_edges == 0
    # Nothing was heard in the three hidden stretches the shutter kept; the made leak was heard
    # where it was made, in what the recorder was given and at the far end.
    made = CALIBRATION_S + LIVE_SCRIPT[-1].at
    assert heard.leaks and all(abs(began - made) < 0.2 for _, began, _, _ in heard.leaks)
    assert {where for where, *_ in heard.leaks} == {"recorder", "far end"}
    assert min(into for *_, into, _ in heard.leaks) > LEAK_AT - LIVE_SCRIPT[-1].at - 0.1
    assert max(level for *_, level in heard.leaks) > AUDIBLE_DBFS
    # The fade and the slack leave most of each hidden stretch to listen to.
    assert heard.hidden_measured_s > 0.8 * heard.hidden_s
    assert min(heard.speaking_levels) > AUDIBLE_DBFS, heard.speaking_levels
    # The real voice really passed while it was on, and the morph came back in scene 4.
    start = run.times[0] + CALIBRATION_S
    assert waveform_match(microphone, recorder, start + 17.5) > 0.9
    assert waveform_match(microphone, recorder, start + 20.5) < 0.5
