"""The control API on a real server on 127.0.0.1: token, host and origin checks, commands that
reach the loop and switch the scene at the next frame boundary, live status over WebSocket."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import aiohttp
import pytest

from engine.control import ControlServer, StatusBoard
from engine.errors import ConfigError
from tests.control.conftest import tint_at_centre


def call(server: ControlServer, path: str, method: str = "GET", token: str | None = "ok",
         body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers=dict(headers or {}))
    if token == "ok":
        request.add_header("Authorization", f"Bearer {server.token}")
    elif token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_the_token_is_required(rig):
    server = rig.serve()
    assert call(server, "/api/status", token=None)[0] == 401
    assert call(server, "/api/status", token="wrong")[0] == 401
    assert call(server, "/api/scene/2", method="POST", token=None)[0] == 401
    assert rig.app.commands.empty()
    assert call(server, "/api/status")[0] == 200
    assert call(server, f"/api/status?token={server.token}", token=None)[0] == 200
    assert call(server, "/api/status", token=None,
                headers={"X-Persona-Token": server.token})[0] == 200


def test_other_hosts_and_origins_are_refused(rig):
    server = rig.serve()
    assert call(server, "/api/status", headers={"Host": "evil.example:80"})[0] == 403
    assert call(server, "/api/blank", method="POST",
                headers={"Origin": "http://evil.example"})[0] == 403
    own = f"http://127.0.0.1:{server.port}"
    assert call(server, "/api/status", headers={"Origin": own})[0] == 200
    with pytest.raises(ConfigError, match="loopback"):
        ControlServer(rig.app.commands, StatusBoard(), host="0.0.0.0")


def test_scenes_are_listed_and_a_switch_lands_on_the_next_frame(rig):
    server = rig.serve()
    code, listing = call(server, "/api/scenes")
    assert code == 200 and listing["current"] == "red"
    assert [(s["name"], s["hotkey"]) for s in listing["scenes"]] == [
        ("red", "1"), ("green", "2"), ("blue", "3")]
    code, reply = call(server, "/api/scene/2", method="POST")
    assert code == 202 and reply["queued"]
    assert rig.app.director.current.scene.name == "red"  # nothing changes between frames
    rig.app.step()
    assert rig.app.director.current.scene.name == "green"
    assert tint_at_centre(rig.sink) == (0, 255, 0)
    code, reply = call(server, "/api/scene/nope", method="POST")
    assert code == 404 and "green" in reply["error"]


def test_toggles_queue_commands_and_skip_when_already_set(rig):
    server = rig.serve()
    assert call(server, "/api/blank", method="POST", body={"on": False})[1]["queued"] is False
    assert call(server, "/api/blank", method="POST", body={"on": True})[0] == 202
    rig.app.step()
    assert rig.app.shutter.blank
    assert call(server, "/api/freeze", method="POST")[0] == 202
    assert call(server, "/api/calibrate", method="POST")[0] == 202
    assert call(server, "/api/mute", method="POST")[0] == 409  # no voice in this session
    assert call(server, "/api/explode", method="POST")[0] == 404
    assert call(server, "/api/blank", method="POST", body={"on": "yes"})[0] == 400


def test_a_broken_scene_is_refused_and_the_refusal_is_in_the_status(rig):
    server = rig.serve()
    (rig.app.director.scenes[2].path).write_text('name = "blue"\navatar = "blue"\n'
                                                 '[style]\nintesity = 2\n')
    assert call(server, "/api/scene/3", method="POST")[0] == 202
    rig.app.step()
    assert rig.app.director.current.scene.name == "red"
    assert tint_at_centre(rig.sink) == (255, 0, 0)
    rig.app.step()
    status = call(server, "/api/status")[1]
    assert status["refused"]["scene"] == "blue"
    assert "did you mean 'intensity'" in status["refused"]["reason"]


def test_events_push_status_and_take_commands(rig):
    server = rig.serve()

    async def talk() -> tuple[dict, dict]:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{server.port}/api/events?token={server.token}"
            async with session.ws_connect(url) as socket:
                first = await asyncio.wait_for(socket.receive_json(), 5)
                await socket.send_json({"command": "scene", "argument": "3"})
                reply = await asyncio.wait_for(socket.receive_json(), 5)
                while "reply" not in reply:
                    reply = await asyncio.wait_for(socket.receive_json(), 5)
                return first, reply

    first, reply = asyncio.run(talk())
    assert first["status"]["scene"] == "red"
    assert reply["reply"]["queued"]
    rig.app.step()
    assert rig.app.director.current.scene.name == "blue"


def test_events_refuse_a_missing_token(rig):
    server = rig.serve()

    async def connect() -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(f"http://127.0.0.1:{server.port}/api/events"):
                    return 101
            except aiohttp.WSServerHandshakeError as error:
                return error.status

    assert asyncio.run(connect()) == 401


def test_the_page_is_served_with_a_strict_policy(rig):
    server = rig.serve()
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=5) as response:
        page = response.read().decode()
        policy = response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "<button" in page and 'aria-live="polite"' in page
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    for lang in ("en", "de"):
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/static/i18n/{lang}.json",
                                    timeout=5) as response:
            catalogue = json.loads(response.read())
        assert catalogue.keys() == json.loads(
            open(server_static("en")).read()).keys()


def server_static(lang: str):
    from engine.control.server import STATIC

    return STATIC / "i18n" / f"{lang}.json"


def test_attach_chains_the_apps_frame_hook_and_serves(rig):
    from engine.control import attach

    seen = []
    rig.app.on_frame = lambda app, work: seen.append(work.tick.index)
    server = attach(rig.app)
    try:
        rig.app.step()
        assert seen, "the app's own hook still runs"
        code, status = call(server, "/api/status")
        assert code == 200 and status["scene"] == "red" and "refused" in status
    finally:
        server.stop()


def test_every_string_the_page_uses_is_in_every_catalogue():
    import re

    from engine.control.server import STATIC

    page = (STATIC / "index.html").read_text()
    script = (STATIC / "app.js").read_text()
    used = set(re.findall(r'data-i18n="([a-z_]+)"', page))
    used |= set(re.findall(r'\bt\("([a-z_]+)"', script))
    used |= {"blank_on", "blank_off", "frozen_on", "frozen_off"}  # chosen by a ternary
    catalogues = sorted((STATIC / "i18n").glob("*.json"))
    assert {path.stem for path in catalogues} >= {"en", "de"}
    for path in catalogues:
        strings = json.loads(path.read_text())
        assert used <= strings.keys(), f"{path.name} lacks {sorted(used - strings.keys())}"
        assert all(isinstance(v, str) and v.strip() for v in strings.values())
