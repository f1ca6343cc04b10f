"""The control server: HTTP + WebSocket on 127.0.0.1, one random token, commands onto the loop.

Security, because a browser on the same machine may also be visiting hostile pages:

* it binds to a loopback address only and refuses any other — unless asked to be the tablet
  remote (``lan=True``), which serves on one private address of this machine (``lan.py``);
* every ``/api`` request needs the session's token (``Authorization: Bearer``, an
  ``X-Persona-Token`` header, or ``?token=`` for the page's own WebSocket), compared in
  constant time; the tablet remote's page gets it by pairing (``POST /api/pair`` with the
  code shown in the preview, ``pairing.py``);
* the ``Host`` header must name the loopback address — for the tablet remote exactly the chosen
  address and port — so a DNS-rebinding page cannot pass, and a request carrying an ``Origin``
  must come from this server's own origin;
* each client address gets a token bucket of requests (``ratelimit.py``), so neither a flood
  nor a loop guessing tokens gets far;
* the page is sent with a strict Content-Security-Policy, no referrer and no framing.

The server never touches the loop's objects: it reads ``engine.status.Status`` snapshots from a
``StatusBoard`` and puts ``engine.status.Command``s on ``App.commands``, which the loop applies at
the next frame boundary. HTTP and the WebSocket check a command with the same function
(``_check``), so one body gets one answer on both; the page learns the names from
``/api/vocabulary``.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import json
import logging
import math
import queue
import threading
from pathlib import Path

from aiohttp import WSMsgType, web

from engine.config import Settings
from engine.control.board import StatusBoard
from engine.control.identity import CONTROL_FILE, Identity, load_identity, new_token, save_identity
from engine.control.lan import lan_address
from engine.control.pairing import Pairing
from engine.control.ratelimit import RateLimiter
from engine.errors import ConfigError, DeviceError
from engine.status import SWITCHES, VOICE_COMMANDS, Command, CommandName, Status, vocabulary

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
EVENTS_HZ = 4.0
# What a page may ask for; quitting the session is the clinician's, at the machine.
REMOTE_COMMANDS = tuple(name for name in CommandName if name is not CommandName.QUIT)
_MAX_BODY = 4096

_PAGE_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self'; connect-src 'self'; base-uri 'none'; "
                                "form-action 'none'; frame-ancestors 'none'"),
    "Referrer-Policy": "no-referrer",  # the token is in the page's address
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def scene_matches(scene, key: str) -> bool:
    return key in (scene.hotkey, scene.name, scene.key)


class Refused(Exception):
    """A command the server answers with an HTTP error status instead of queueing."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ControlServer:
    """Serves the control API and page for one session.

    ``lan``: the tablet remote — ``host`` is an address or interface name on the clinician's
    network, and the page pairs with a code (``pairing``). ``keep``: a file that keeps the
    port and token between runs, so a paired tablet keeps its address (``identity.py``)."""

    def __init__(self, commands: queue.SimpleQueue, board: StatusBoard, host: str = "127.0.0.1",
                 port: int = 0, token: str | None = None, *, lan: bool = False,
                 keep: Path | None = None) -> None:
        if lan:
            host = lan_address(host)
        elif host not in LOOPBACK:
            raise ConfigError(f"control server host {host!r}: only a loopback address "
                              f"({', '.join(LOOPBACK)}) is allowed; a tablet on your network "
                              "needs --control-lan")
        kept = load_identity(keep) if keep is not None else Identity(0, new_token())
        self.commands = commands
        self.board = board
        self.host = host
        self.port = port or kept.port
        self.token = token or kept.token
        self.pairing = Pairing() if lan else None
        self._keep = keep
        # A kept port that another program took meanwhile is given up for a free one.
        self._port_may_move = not port and kept.port != 0
        self._limiter = RateLimiter()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._stopped: asyncio.Event | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    @classmethod
    def for_settings(cls, commands: queue.SimpleQueue, board: StatusBoard, settings: Settings,
                     keep: Path = CONTROL_FILE) -> ControlServer:
        """The server ``settings`` ask for: the tablet remote on ``control_lan`` (pairing, a
        kept port and token), else the page on 127.0.0.1 with a new token each run."""
        if settings.control_lan:
            return cls(commands, board, host=settings.control_lan, port=settings.control_port,
                       lan=True, keep=keep)
        return cls(commands, board, port=settings.control_port)

    # -- the application ---------------------------------------------------------------------

    def build(self) -> web.Application:
        """The aiohttp application (also what tests drive with aiohttp's test client)."""
        app = web.Application(middlewares=[self._guard], client_max_size=_MAX_BODY)
        app.router.add_get("/", self._page)
        app.router.add_static("/static/", STATIC, follow_symlinks=False)
        app.router.add_get("/api/status", self._status)
        app.router.add_get("/api/vocabulary", self._vocabulary)
        app.router.add_get("/api/scenes", self._scenes)
        app.router.add_post("/api/scene/{key}", self._scene)
        app.router.add_post("/api/pair", self._pair)  # before /api/{command}, which would take it
        app.router.add_post("/api/{command}", self._command)
        app.router.add_get("/api/events", self._events)
        app.on_shutdown.append(self._close_sockets)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        wait_s = self._limiter.wait_s(request.remote or "")
        if wait_s > 0:
            return _error(429, "too many requests; slow down", retry_after=wait_s)
        if not self._own_host(request.host or ""):
            where = "the loopback interface" if self.pairing is None else self.netloc
            return _error(403, f"requests must address {where}")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self._own_origins(request):
            return _error(403, "cross-origin requests are refused")
        if request.path.startswith("/api/") and request.path != "/api/pair" \
                and not self._authorised(request):
            return _error(401, "missing or wrong token")
        response = await handler(request)
        if request.path == "/" or request.path.startswith("/static/"):
            response.headers.update(_PAGE_HEADERS)
        return response

    @property
    def netloc(self) -> str:
        """``ADDR:PORT`` as a browser writes it in ``Host``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def _own_host(self, host: str) -> bool:
        if self.pairing is not None:
            return host == self.netloc  # the tablet remote: the chosen address, nothing else
        return host.rsplit(":", 1)[0].strip("[]") in LOOPBACK

    def _own_origins(self, request: web.Request) -> set[str]:
        if self.pairing is not None:
            return {f"http://{self.netloc}"}
        port = request.url.port
        return {f"http://{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        offered = (header[7:] if header.startswith("Bearer ") else
                   request.headers.get("X-Persona-Token") or request.query.get("token") or "")
        return hmac.compare_digest(offered.encode(), self.token.encode())

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _pair(self, request: web.Request) -> web.Response:
        """``{"code": "123456"}`` → ``{"token": ...}``; the only ``/api`` path without a token."""
        if self.pairing is None:
            return _error(404, "pairing is for the tablet remote (persona run --control-lan); "
                               "open the address printed when Persona started")
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        code = body.get("code") if isinstance(body, dict) else None
        if not isinstance(code, str):
            return _error(400, "send the code shown in Persona's preview: {\"code\": \"123456\"}")
        attempt = self.pairing.attempt(code)
        if attempt.locks:
            log.warning("tablet pairing locked for a minute: too many wrong codes (the last "
                        "from %s)", request.remote)
        if attempt.locked_s:
            return _error(429, "too many wrong codes; pairing is locked for "
                               f"{math.ceil(attempt.locked_s)} s", retry_after=attempt.locked_s)
        if not attempt.paired:
            return _error(403, "wrong code", attempts_left=attempt.attempts_left)
        log.warning("a device at %s paired with the control page", request.remote)
        return web.json_response({"token": self.token}, headers={"Cache-Control": "no-store"})

    @property
    def pairing_text(self) -> str | None:
        """What the preview shows while the tablet remote runs, e.g.
        ``"Tablet: http://192.168.1.20:48213  code 123456"``; None without it."""
        if self.pairing is None:
            return None
        locked_s = self.pairing.locked_s
        if locked_s:
            return (f"Tablet: http://{self.netloc}  pairing locked {math.ceil(locked_s)} s "
                    "(wrong codes)")
        return f"Tablet: http://{self.netloc}  code {self.pairing.code}"

    def _latest(self) -> Status | None:
        return self.board.latest()

    async def _status(self, request: web.Request) -> web.Response:
        status = self._latest()
        return web.json_response(status.to_json() if status is not None else {})

    async def _vocabulary(self, request: web.Request) -> web.Response:
        return web.json_response(vocabulary())

    async def _scenes(self, request: web.Request) -> web.Response:
        status = self._latest()
        scenes = [] if status is None else status.to_json()["scenes"]
        return web.json_response({"scenes": scenes,
                                  "current": status.scene if status is not None else None})

    async def _scene(self, request: web.Request) -> web.Response:
        return self._answer({"command": "scene", "argument": request.match_info["key"]})

    async def _command(self, request: web.Request) -> web.Response:
        body: object = {}
        if request.can_read_body:
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return _error(400, "the body must be JSON, e.g. {\"on\": true}")
            if not isinstance(body, dict):
                return self._answer(body)  # refused as the WebSocket refuses it
        return self._answer({**body, "command": request.match_info["command"]})

    def _answer(self, message: object) -> web.Response:
        """Check a command message and queue it; the HTTP answer (the WebSocket sends its
        body as the reply)."""
        try:
            reply, queued = self._check(message)
        except Refused as refusal:
            return _error(refusal.status, str(refusal))
        return web.json_response(reply, status=202 if queued else 200)

    def _check(self, message: object) -> tuple[dict, bool]:
        """``{"command": name, "argument": key, "on": bool}`` checked against the latest
        status, and queued unless it would change nothing. Raises Refused."""
        if not isinstance(message, dict) or not isinstance(message.get("command"), str):
            raise Refused(400, "a command is a JSON object: {\"command\": name, "
                               "\"on\": true|false, \"argument\": key}")
        known = ", ".join(["scene/{key}", *(name.value for name in REMOTE_COMMANDS
                                            if name is not CommandName.SCENE)])
        argument, on = message.get("argument"), message.get("on")
        if on is not None and not isinstance(on, bool):
            raise Refused(400, "'on' must be true or false")
        if argument is not None and not isinstance(argument, str):
            raise Refused(400, "'argument' must be text")
        try:
            command = Command(message["command"], argument, on)
        except ValueError:
            raise Refused(404, f"unknown command {message['command']!r}; known: {known}") from None
        if command.name not in REMOTE_COMMANDS:
            raise Refused(404, f"unknown command {command.name.value!r}; known: {known}")
        status = self._latest()
        if command.name is CommandName.SCENE:
            scenes = status.scenes if status is not None else ()
            if not argument or not any(scene_matches(scene, argument) for scene in scenes):
                names = ", ".join(scene.name for scene in scenes)
                raise Refused(404, f"no scene {argument!r}; scenes: {names}")
        if command.name in VOICE_COMMANDS and (status is None or status.voice is None):
            raise Refused(409, "the voice is not running in this session")
        if command.name in SWITCHES and on is not None and status is not None \
                and status.switch(command.name) == on:
            return {"command": command.name.value, "queued": False, "on": on}, False
        self.commands.put(command)
        return {"command": command.name.value, "argument": argument, "on": on,
                "queued": True}, True

    async def _events(self, request: web.Request) -> web.WebSocketResponse:
        """Status as JSON whenever it changes (at most ``EVENTS_HZ``); takes the same command
        messages as the HTTP API, and answers every message: ``{"reply": ...}`` or
        ``{"error": ..., "code": http_status}``."""
        socket = web.WebSocketResponse(heartbeat=20.0, max_msg_size=_MAX_BODY)
        await socket.prepare(request)
        self._sockets.add(socket)
        sender = asyncio.ensure_future(self._push_status(socket))
        try:
            async for message in socket:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                try:
                    if message.type != WSMsgType.TEXT:
                        raise Refused(400, "send JSON text messages")
                    try:
                        data = json.loads(message.data)
                    except (ValueError, RecursionError):
                        raise Refused(400, "not JSON") from None
                    reply, _ = self._check(data)
                except Refused as refusal:
                    await socket.send_json({"error": str(refusal), "code": refusal.status})
                    continue
                await socket.send_json({"reply": reply})
        finally:
            sender.cancel()
            self._sockets.discard(socket)
        return socket

    async def _push_status(self, socket: web.WebSocketResponse) -> None:
        sent = None
        try:
            while not socket.closed:
                status = self._latest()
                if status is not None and status is not sent:
                    await socket.send_json({"status": status.to_json()})
                    sent = status
                await asyncio.sleep(1.0 / EVENTS_HZ)
        except (ConnectionError, RuntimeError):
            pass  # the page went away

    async def _close_sockets(self, app: web.Application) -> None:
        for socket in list(self._sockets):
            await socket.close()

    # -- its own thread ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The control page's address, token included: give it only to the clinician."""
        return f"http://{self.netloc}/?token={self.token}"

    def start(self, timeout: float = 10.0) -> None:
        """Start serving on a thread of its own; returns once the port is bound."""
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._serve, args=(ready, failure),
                                        name="persona-control", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or failure:
            reason = failure[0] if failure else "timed out"
            raise DeviceError(f"control server could not listen on {self.host}:{self.port} "
                              f"({reason})")
        if self._keep is not None:
            save_identity(Identity(self.port, self.token), self._keep)
        if self.pairing is not None:
            # Printed once, whatever the log level: the control page is now on the network.
            log.warning("tablet remote on http://%s, reachable from this network; pair with "
                        "code %s (shown in the preview)", self.netloc, self.pairing.code)
        else:
            log.info("control page: %s", self.url.split("?")[0])

    def _serve(self, ready: threading.Event, failure: list) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def main() -> None:
            self._stopped = asyncio.Event()
            self._runner = web.AppRunner(self.build(), access_log=None)
            await self._runner.setup()
            try:
                await self._listen()
            except OSError as error:
                failure.append(error)
                ready.set()
                return
            self.port = self._runner.addresses[0][1]
            ready.set()
            await self._stopped.wait()
            await self._runner.cleanup()

        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    async def _listen(self) -> None:
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as error:
            await site.stop()  # the runner keeps only a site that listens
            if not (self._port_may_move and error.errno == errno.EADDRINUSE):
                raise
            log.warning("the control page's usual port %d is taken; serving on another one "
                        "(a paired tablet needs the new address)", self.port)
            self.port = 0
            await web.TCPSite(self._runner, self.host, 0).start()

    def stop(self) -> None:
        """Close connections and the server; safe to call more than once."""
        if self._thread is None:
            return
        if self._loop is not None and self._stopped is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout=5.0)
        self._thread = None


def _error(status: int, message: str, retry_after: float | None = None,
           **fields: object) -> web.Response:
    headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after else None
    return web.json_response({"error": message, **fields}, status=status, headers=headers)
