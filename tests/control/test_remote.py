"""The tablet remote on a real server. 127.0.0.2 stands for "the chosen interface": on Linux all
of 127.0.0.0/8 is loopback, so nothing leaves the machine, yet the server must treat 127.0.0.1
as somebody else's address. Pairing with the code (and its lock), the Host and Origin rules, the
rate limit, the port and token kept between runs, and the page pairing in Chromium."""

from __future__ import annotations

import asyncio
import http.client
import json
import queue
import stat
import time

import aiohttp
import pytest

from engine.config import Settings
from engine.control import ControlServer, StatusBoard
from engine.control.identity import load_identity, renew_token
from engine.control.lan import interface_address, lan_address
from engine.control.pairing import LOCK_S, MAX_FAILURES, Pairing
from engine.control.ratelimit import BURST, RateLimiter
from engine.errors import ConfigError
from engine.status import Command, CommandName, SceneEntry, Status
from tests.conftest import require_programs
from tests.control.test_page import DevTools, chromium  # noqa: F401 (chromium: a fixture)

LAN = "127.0.0.2"


def board() -> StatusBoard:
    made = StatusBoard()
    made.publish(Status(scene="Calm", scenes=(SceneEntry("Calm", "1", "calm", "AI avatar"),)))
    return made


@pytest.fixture
def remote(tmp_path):
    server = ControlServer(queue.SimpleQueue(), board(), host=LAN, lan=True,
                           keep=tmp_path / "control.toml")
    server.start()
    yield server
    server.stop()


def call(server: ControlServer, path: str, method: str = "GET", body: dict | None = None,
         headers: dict | None = None, token: bool = True, source: str | None = None,
         connection: http.client.HTTPConnection | None = None):
    """(status, JSON body, headers) of one request to the server's own address."""
    sent = dict(headers or {})
    if token:
        sent.setdefault("Authorization", f"Bearer {server.token}")
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        sent["Content-Type"] = "application/json"
    own = connection or http.client.HTTPConnection(
        server.host, server.port, timeout=5, source_address=(source, 0) if source else None)
    try:
        own.request(method, path, body=data, headers=sent)
        response = own.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload.startswith(b"{") else None, \
            response.headers
    finally:
        if connection is None:
            own.close()


def test_the_chosen_address_is_the_only_host_and_origin(remote):
    own = f"{LAN}:{remote.port}"
    assert call(remote, "/api/status")[0] == 200  # http.client sends Host: 127.0.0.2:PORT
    for host in (f"127.0.0.1:{remote.port}", f"localhost:{remote.port}", LAN,
                 f"{LAN}:1", "evil.example"):
        code, reply, _ = call(remote, "/api/status", headers={"Host": host})
        assert code == 403 and own in reply["error"], host
    assert call(remote, "/api/blank", "POST", headers={"Origin": f"http://{own}"})[0] == 202
    for origin in (f"http://127.0.0.1:{remote.port}", "http://evil.example", f"https://{own}"):
        assert call(remote, "/api/blank", "POST", headers={"Origin": origin})[0] == 403, origin
    assert call(remote, "/api/status", token=False)[0] == 401
    assert call(remote, "/", token=False)[0] == 200  # the page itself: it pairs
    assert remote.url == f"http://{own}/?token={remote.token}"


def test_only_private_addresses_of_this_machine_are_served_on(tmp_path):
    commands, status = queue.SimpleQueue(), board()
    for address, reason in (("0.0.0.0", "every interface"), ("::", "every interface"),
                            ("8.8.8.8", "public"), ("224.0.0.1", "cannot be served"),
                            ("nosuch0", "neither an address nor a network interface")):
        with pytest.raises(ConfigError, match=reason):
            ControlServer(commands, status, host=address, lan=True, keep=tmp_path / "c.toml")
    with pytest.raises(ConfigError, match="--control-lan"):
        ControlServer(commands, status, host=LAN)  # --control stays loopback (127.0.0.1) only
    assert interface_address("lo") == "127.0.0.1"
    assert lan_address("lo") == "127.0.0.1" and lan_address("192.168.1.20") == "192.168.1.20"


def test_pairing_with_the_code_gives_the_token_and_guessing_locks(remote):
    code = remote.pairing.code
    assert remote.pairing_text == f"Tablet: http://{LAN}:{remote.port}  code {code}"
    status, reply, headers = call(remote, "/api/pair", "POST", {"code": code}, token=False)
    assert status == 200 and reply == {"token": remote.token}
    assert headers["Cache-Control"] == "no-store"
    assert remote.pairing.code != code, "a used code is replaced"
    assert call(remote, "/api/pair", "POST", {"code": code}, token=False)[0] == 403
    assert call(remote, "/api/pair", "POST", {"code": 123456}, token=False)[0] == 400

    wrong = f"{(int(remote.pairing.code) + 1) % 10 ** 6:06d}"
    answers = [call(remote, "/api/pair", "POST", {"code": wrong}, token=False)
               for _ in range(MAX_FAILURES - 1)]  # one wrong code was sent above
    assert [reply.get("attempts_left") for _, reply, _ in answers[:-1]] == \
        list(range(MAX_FAILURES - 2, 0, -1))
    status, reply, headers = answers[-1]
    assert status == 429 and "locked" in reply["error"] and int(headers["Retry-After"]) == 60
    # Locked: even the right code is refused, and the preview says why.
    status, reply, _ = call(remote, "/api/pair", "POST", {"code": remote.pairing.code},
                            token=False)
    assert status == 429
    assert "pairing locked" in remote.pairing_text
    # Pairing never stands in for the token elsewhere.
    assert call(remote, "/api/status", token=False)[0] == 401


def test_the_lock_lifts_after_a_minute_and_counts_a_minute_back():
    now = [0.0]
    pairing = Pairing(clock=lambda: now[0])
    for _ in range(MAX_FAILURES - 1):
        assert not pairing.attempt("x").paired
    now[0] += 61.0  # those failures have aged out: four more are allowed
    assert pairing.attempt("x").attempts_left == MAX_FAILURES - 1
    for _ in range(MAX_FAILURES - 1):
        last = pairing.attempt("x")
    assert last.locks and pairing.locked_s == LOCK_S
    now[0] += LOCK_S - 1
    assert pairing.attempt(pairing.code).locked_s == pytest.approx(1.0)
    now[0] += 1.0
    code = pairing.code
    assert pairing.attempt(code[:3] + " " + code[3:]).paired  # as shown, with a space


def test_pairing_on_the_loopback_page_is_not_offered():
    server = ControlServer(queue.SimpleQueue(), board())
    server.start()
    try:
        assert server.pairing_text is None
        status, reply, _ = call(server, "/api/pair", "POST", {"code": "000000"}, token=False)
        assert status == 404 and "--control-lan" in reply["error"]
    finally:
        server.stop()


def test_a_flood_is_refused_per_client_and_clients_apart_are_not():
    server = ControlServer(queue.SimpleQueue(), board())
    server.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        served = 0
        for _ in range(20 * BURST):  # bounded: ends at the first refusal at the latest
            status, reply, headers = call(server, "/api/status", connection=connection)
            if status == 429:
                break
            served += 1
        connection.close()
        assert status == 429, "the flood was never refused"
        assert served >= BURST and int(headers["Retry-After"]) >= 1
        assert "too many requests" in reply["error"]
        # Another client address has its own bucket.
        assert call(server, "/api/status", source="127.0.0.3")[0] == 200
        time.sleep(0.2)  # the bucket refills at 20 a second
        assert call(server, "/api/status")[0] == 200
    finally:
        server.stop()


def test_the_bucket_refills_at_its_rate():
    now = [0.0]
    limiter = RateLimiter(rate=20.0, burst=3, clock=lambda: now[0])
    assert [limiter.wait_s("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait_s("a") == pytest.approx(0.05)
    assert limiter.wait_s("b") == 0.0
    now[0] += 0.05
    assert limiter.wait_s("a") == 0.0


def test_the_port_and_token_are_kept_between_runs(tmp_path):
    keep = tmp_path / "persona" / "control.toml"
    first = ControlServer(queue.SimpleQueue(), board(), host=LAN, lan=True, keep=keep)
    first.start()
    first.stop()
    assert stat.S_IMODE(keep.stat().st_mode) == 0o600
    second = ControlServer(queue.SimpleQueue(), board(), host=LAN, lan=True, keep=keep)
    second.start()
    try:
        assert (second.port, second.token) == (first.port, first.token)
    finally:
        second.stop()
    renewed = renew_token(keep)
    assert renewed.port == first.port and renewed.token != first.token
    assert stat.S_IMODE(keep.stat().st_mode) == 0o600
    keep.chmod(0o644)  # readable by others: its token is not trusted any more
    assert load_identity(keep).token != renewed.token


def test_a_kept_port_taken_meanwhile_moves_to_a_free_one(tmp_path):
    keep = tmp_path / "control.toml"
    holder = ControlServer(queue.SimpleQueue(), board(), host=LAN, lan=True, keep=keep)
    holder.start()  # keeps its port in the file and holds it
    try:
        moved = ControlServer(queue.SimpleQueue(), board(), host=LAN, lan=True, keep=keep)
        moved.start()
        try:
            assert moved.port != holder.port and moved.token == holder.token
            assert load_identity(keep).port == moved.port
        finally:
            moved.stop()
    finally:
        holder.stop()


def test_settings_choose_the_remote(tmp_path):
    settings = Settings().updated({"control_lan": LAN}, "settings.toml")
    server = ControlServer.for_settings(queue.SimpleQueue(), board(), settings,
                                        keep=tmp_path / "control.toml")
    assert server.host == LAN and server.pairing is not None
    local = ControlServer.for_settings(queue.SimpleQueue(), board(), Settings())
    assert local.host == "127.0.0.1" and local.pairing_text is None
    with pytest.raises(ConfigError, match="address or interface"):
        Settings().updated({"control_lan": " "}, "settings.toml")


@pytest.fixture
def needs_chromium():
    require_programs("chromium")


def test_a_tablet_pairs_on_the_page_and_its_buttons_work(needs_chromium, remote, chromium):
    async def drive(endpoint: str) -> None:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(endpoint, max_msg_size=0) as socket:
                page = DevTools(socket)
                await page.send("Page.enable")
                await page.send("Emulation.setDeviceMetricsOverride", width=800, height=1200,
                                deviceScaleFactor=1, mobile=True)  # a tablet, upright
                await page.send("Page.navigate", url=f"http://{LAN}:{remote.port}/")
                await until(page, "!document.getElementById('pairing').hidden && "
                                  "document.activeElement.id === 'pair-code'", "the pairing form")
                assert await page.evaluate(
                    "document.querySelector('section[aria-labelledby=scenes-heading]').hidden")
                await page.evaluate("document.getElementById('pair-code').value = '000000';"
                                    "document.getElementById('pair-form').requestSubmit()")
                if remote.pairing.code != "000000":
                    await until(page, "document.getElementById('pair-error').textContent"
                                      ".includes('4')", "the wrong-code message")
                await page.evaluate(f"document.getElementById('pair-code').value = "
                                    f"'{remote.pairing.code}';"
                                    "document.getElementById('pair-form').requestSubmit()")
                await until(page, "document.getElementById('connection').dataset.state "
                                  "=== 'connected' && document.getElementById('pairing').hidden",
                            "pairing and the live connection")
                assert await page.evaluate("sessionStorage.getItem('persona-token')") == \
                    remote.token
                await page.click('button[data-command="blank"]')
                command = await asyncio.to_thread(remote.commands.get, timeout=10)
                assert command == Command(CommandName.BLANK, on=True)

    asyncio.run(drive(chromium))


async def until(page, expression: str, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await page.evaluate(expression):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
