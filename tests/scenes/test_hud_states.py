"""The HUD over a real session (the control tests' Rig at 640x360 with the precomputed voice the
demo renders with): privacy flags a clinician cannot miss, also with the HUD hidden; the face line
during the card; two level meters that move; App.say's message for a few seconds; the detail
view with the frame watchdog and the warnings the terminal held back."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest

from engine.clock import Clock
from engine.hud import MESSAGE_SHOWN_S, Hud, detail_lines, face_label, flags
from engine.logs import REPEATS
from engine.offline import PrecomputedVoice
from engine.status import CONFIRM, Command
from engine.voice.synthetic import speech_like
from tests.control.conftest import FPS, Rig
from tests.core.test_clock import FakeTime
from tests.core.test_watchdog import BlockingTracker

SIZE = (640, 360)
RATE = 48000
TOP_RIGHT = (slice(8, 40), slice(440, 632))  # the first flag
TOP_LEFT = (slice(8, 100), slice(8, 190))  # the status panel
UNDER_PANEL = (slice(140, 160), slice(8, 190))  # where the detail view goes


@pytest.fixture
def rig(gl, tmp_path):
    made = Rig(gl, tmp_path, size=SIZE)
    made.app.voice = PrecomputedVoice(speech_like(30.0, RATE), RATE, FPS, "calm-warm")
    steps(made.app, 5)
    yield made
    made.close()


def steps(app, count: int) -> None:
    for _ in range(count):
        app.step()


def send(app, name: str, argument: str | None = None, on: bool | None = None) -> None:
    app.commands.put(Command(name, argument, on))
    steps(app, 2)


def red(region: np.ndarray) -> int:
    r, g, b = (region[..., c].astype(int) for c in range(3))
    return int(((r > 150) & (g < 60) & (b < 60)).sum())


def amber(region: np.ndarray) -> int:
    r, g, b = (region[..., c].astype(int) for c in range(3))
    return int(((r > 200) & (g > 130) & (g < 190) & (b < 60)).sum())


@pytest.mark.parametrize("name, argument, word, colour", [
    ("mute", None, "MUTED", red), ("voice", CONFIRM, "REAL VOICE", red),
    ("blank", None, "BLANK", amber), ("freeze", None, "FROZEN", amber)])
def test_each_privacy_state_is_a_big_flag_top_right(rig, name, argument, word, colour):
    app = rig.app
    assert flags(app.status()) == ()
    assert colour(Hud(SIZE).render(app.status())[TOP_RIGHT]) == 0
    send(app, name, argument, on=name != "voice")
    status = app.status()
    assert flags(status)[0].word == word
    assert colour(Hud(SIZE).render(status)[TOP_RIGHT]) > 1500  # a filled pill, not a word


def test_hiding_the_hud_keeps_the_flags(rig):
    app = rig.app
    send(app, "voice", CONFIRM, on=False)
    send(app, "hud", on=False)
    status = app.status()
    assert not status.hud and [flag.word for flag in flags(status)] == ["REAL VOICE"]
    image = Hud(SIZE).render(status)
    assert red(image[TOP_RIGHT]) > 1500, "the real voice shows with the HUD hidden"
    assert image[TOP_LEFT][..., 3].max() == 0, "the status panel is hidden"
    assert image[300:, 300:][..., 3].max() == 0, "so is the scene list"


def test_the_face_is_paused_not_lost_while_the_card_is_up(rig):
    app = rig.app
    assert face_label(app.status())[0] == "Face: 100%"
    send(app, "blank", on=True)
    assert face_label(app.status())[0] == "Face: paused (card up)"


def meter_fills(hud: Hud, image: np.ndarray) -> dict[str, int]:
    """How many pixels of each meter's row are lit (green or amber)."""
    fills = {}
    for x, y, w, h, field in hud.meters:
        row = image[y + h // 2, x:x + w].astype(int)
        fills[field] = int((row[:, 1] > 150).sum())
    return fills


def test_mic_and_out_meters_move_and_mute_silences_only_out(rig):
    app = rig.app
    hud = Hud(SIZE)
    seen = []
    for _ in range(12):
        app.step()
        seen.append(meter_fills(hud, hud.render(app.status())))
    assert {fields["input_db"] for fields in seen} != {seen[0]["input_db"]}, "Mic moves"
    assert all(fields["output_db"] > 0 for fields in seen)
    send(app, "mute", on=True)
    fills = meter_fills(hud, hud.render(app.status()))
    assert fills["input_db"] > 0 and fills["output_db"] == 0  # you speak; nobody hears it


def message_pixels(image: np.ndarray) -> int:
    """Pixels of the message panel's blue in the left column."""
    r, b, alpha = (image[:, :320, c].astype(int) for c in (0, 2, 3))
    return int(((b > r + 60) & (alpha > 200)).sum())


def test_a_message_from_app_say_shows_for_a_few_seconds(rig):
    app = rig.app
    app.say("Calibrated: this is your neutral face now")
    steps(app, 1)
    assert message_pixels(Hud(SIZE).render(app.status())) > 3000
    send(app, "hud", on=False)  # shown with the HUD hidden too
    assert message_pixels(Hud(SIZE).render(app.status())) > 3000
    steps(app, int(MESSAGE_SHOWN_S * FPS) + 3)
    status = app.status()
    assert status.message_age_s > MESSAGE_SHOWN_S
    assert message_pixels(Hud(SIZE).render(status)) == 0


def test_the_detail_view_shows_the_watchdog_and_held_back_warnings(gl, tmp_path):
    rig = Rig(gl, tmp_path, size=SIZE)
    fake = FakeTime()
    rig.app.clock = Clock(FPS, time_fn=fake.time, sleep_fn=fake.sleep, spin_s=0.0)
    rig.app.tracker = BlockingTracker(fake, {5: 1.0, 10: 0.05, 15: 0.05})
    terminal = io.StringIO()
    handler = logging.StreamHandler(terminal)  # the terminal's filter, as engine.logs sets it
    handler.addFilter(REPEATS)
    noisy = logging.getLogger("tests.noisy")
    noisy.addHandler(handler)
    try:
        steps(rig.app, 20)
        for _ in range(6):
            noisy.warning("ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred")
        status = rig.app.status()
        text = "\n".join(line for line, _ in detail_lines(status))
        assert "dropped 29" in text and "Longest stall 1.00 s" in text
        assert "slow stage: track" in text
        assert terminal.getvalue().count("underrun") == 3  # a burst of three, then held back
        assert status.suppressed_warnings >= 3
        assert "×6  ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred" in text
        hud = Hud(SIZE)
        assert hud.render(status)[UNDER_PANEL][..., 3].max() == 0
        hud.detail = True
        assert hud.render(status)[UNDER_PANEL][..., 3].max() > 0
    finally:
        noisy.removeHandler(handler)
        rig.close()
