"""The voice's state as everyone reads it, through the real parts: a real voice in the loop (the
precomputed voice the demo renders with, driven as live), the real status board, control server
and HUD. These once drifted apart: the voice published ``mute`` while every reader looked for
``muted``, and the meter read a level nobody sent."""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import pytest

from engine.control.server import STATIC
from engine.hud import Hud, voice_label, voice_level
from engine.offline import PrecomputedVoice
from engine.status import Command, vocabulary
from engine.voice.synthetic import speech_like
from tests.control.conftest import FPS
from tests.control.test_api import call

RATE = 48000


@pytest.fixture
def voiced(rig):
    rig.app.voice = PrecomputedVoice(speech_like(20.0, RATE), RATE, FPS, "calm-warm")
    for _ in range(5):
        rig.app.step()
    return rig


def test_mute_sets_the_wanted_state_and_is_idempotent(voiced):
    server = voiced.serve()
    code, reply = call(server, "/api/mute", method="POST", body={"on": False})
    assert code == 200 and reply["queued"] is False  # already unmuted: nothing to do
    voiced.app.step()
    assert not voiced.app.status().voice.muted
    for _ in range(2):  # twice: the second changes nothing
        call(server, "/api/mute", method="POST", body={"on": True})
        voiced.app.step()
        assert voiced.app.status().voice.muted
    assert call(server, "/api/status")[1]["voice"]["muted"] is True


def test_the_level_moves_and_mute_shows_on_the_hud(voiced):
    status = voiced.app.status()
    assert status.voice.output_db > -40.0 and voice_level(status.voice) > 0.3
    assert voice_label(status.voice)[0] == "Voice: morph calm-warm"
    hud = Hud((192, 108), redraw_hz=1000.0)
    speaking = hud.render(status).copy()
    voiced.app.commands.put(Command("mute", on=True))
    for _ in range(3):
        voiced.app.step()
    status = voiced.app.status()
    assert status.voice.muted and status.voice.output_db <= -100.0
    assert voice_level(status.voice) == 0.0
    assert voice_label(status.voice)[0] == "Voice: MUTED"
    assert (hud.render(status) != speaking).any()


def test_the_blank_card_mutes_and_gives_back_the_mute_state_from_before(voiced):
    app = voiced.app
    for before in (False, True):
        app.commands.put(Command("mute", on=before))
        app.commands.put(Command("blank", on=True))
        app.step()
        assert app.status().voice.muted and app.status().voice.output_db <= -100.0
        app.commands.put(Command("mute", on=False))  # nothing unmutes while the card is up
        app.commands.put(Command("mute", on=before))
        app.step()
        assert app.status().voice.muted
        app.commands.put(Command("blank", on=False))
        app.step()
        assert app.status().voice.muted is before


def test_http_and_websocket_give_one_body_one_answer(voiced):
    server = voiced.serve()
    bodies = [{"on": "true"}, {"on": 1}, {"argument": 3}, [1, 2]]

    async def over_socket() -> list[dict]:
        answers = []
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{server.port}/api/events?token={server.token}"
            async with session.ws_connect(url) as socket:
                for body in bodies:
                    message = {**body, "command": "blank"} if isinstance(body, dict) else body
                    await socket.send_str(json.dumps(message))
                    answer = await asyncio.wait_for(socket.receive_json(), 5)
                    while "status" in answer:
                        answer = await asyncio.wait_for(socket.receive_json(), 5)
                    answers.append(answer)
                await socket.send_bytes(b"\x00binary")
                answer = await asyncio.wait_for(socket.receive_json(), 5)
                while "status" in answer:
                    answer = await asyncio.wait_for(socket.receive_json(), 5)
                answers.append(answer)
        return answers

    answers = asyncio.run(over_socket())
    for body, answer in zip(bodies, answers):
        code, reply = call(server, "/api/blank", method="POST", body=body)
        assert code == 400 and answer == {"error": reply["error"], "code": 400}
    assert answers[-1]["code"] == 400  # a binary frame gets an answer too
    assert not voiced.app.shutter.blank and voiced.app.commands.empty()


def test_every_status_field_the_page_reads_exists():
    script = (STATIC / "app.js").read_text()
    names = vocabulary()
    fields = {
        "status": r"\b(?:status|next|previous)\.(\w+)",
        "voice": r"\bvoice\.(\w+)",
        "refused": r"\brefused\.(\w+)",
        "scene": r"\bscene\.(\w+)",
    }
    for group, pattern in fields.items():
        read = set(re.findall(pattern, script))
        assert read, group
        assert read <= set(names[group]), f"app.js reads {sorted(read - set(names[group]))}"
    switches = set(re.findall(r'data-command="(\w+)"', (STATIC / "index.html").read_text()))
    assert switches <= set(names["commands"])
