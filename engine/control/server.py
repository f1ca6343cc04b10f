"""The control server: HTTP + WebSocket on 127.0.0.1, one random token, commands onto the loop.

Security, because a browser on the same machine may also be visiting hostile pages:

* it binds to a loopback address only and refuses any other;
* every ``/api`` request needs the session's token (``Authorization: Bearer``, an
  ``X-Persona-Token`` header, or ``?token=`` for the page's own WebSocket), compared in
  constant time;
* the ``Host`` header must name the loopback address (a DNS-rebinding page cannot pass), and a
  request carrying an ``Origin`` must come from this server's own origin;
* the page is sent with a strict Content-Security-Policy, no referrer and no framing.

The server never touches the loop's objects: it reads status from a ``StatusBoard`` and puts
``engine.app.Command``s on ``App.commands``, which the loop applies at the next frame boundary.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import queue
import secrets
import threading
from pathlib import Path

from aiohttp import WSMsgType, web

from engine.control.board import StatusBoard
from engine.errors import ConfigError, DeviceError

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
EVENTS_HZ = 4.0
# Commands that flip a switch, and how to read the switch's state from a status snapshot.
TOGGLES = {
    "blank": lambda status: status.get("blank"),
    "freeze": lambda status: status.get("freeze"),
    "hud": lambda status: status.get("hud"),
    "mute": lambda status: (status.get("voice") or {}).get("muted"),
    "voice": lambda status: None if not status.get("voice")
    else not status["voice"].get("bypass"),
}
ACTIONS = ("calibrate",)
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


def scene_matches(scene: dict, key: str) -> bool:
    return key in (scene.get("hotkey"), scene.get("name"), scene.get("key"))


class ControlServer:
    """Serves the control API and page for one session."""

    def __init__(self, commands: queue.SimpleQueue, board: StatusBoard, host: str = "127.0.0.1",
                 port: int = 0, token: str | None = None) -> None:
        if host not in LOOPBACK:
            raise ConfigError(f"control server host {host!r}: only a loopback address "
                              f"({', '.join(LOOPBACK)}) is allowed")
        self.commands = commands
        self.board = board
        self.host = host
        self.port = port
        self.token = token or secrets.token_urlsafe(24)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._stopped: asyncio.Event | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    # -- the application ---------------------------------------------------------------------

    def build(self) -> web.Application:
        """The aiohttp application (also what tests drive with aiohttp's test client)."""
        app = web.Application(middlewares=[self._guard], client_max_size=_MAX_BODY)
        app.router.add_get("/", self._page)
        app.router.add_static("/static/", STATIC, follow_symlinks=False)
        app.router.add_get("/api/status", self._status)
        app.router.add_get("/api/scenes", self._scenes)
        app.router.add_post("/api/scene/{key}", self._scene)
        app.router.add_post("/api/{command}", self._command)
        app.router.add_get("/api/events", self._events)
        app.on_shutdown.append(self._close_sockets)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        host = (request.host or "").rsplit(":", 1)[0].strip("[]")
        if host not in LOOPBACK:
            return _error(403, "requests must address the loopback interface")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self._own_origins(request):
            return _error(403, "cross-origin requests are refused")
        if request.path.startswith("/api/") and not self._authorised(request):
            return _error(401, "missing or wrong token")
        response = await handler(request)
        if request.path == "/" or request.path.startswith("/static/"):
            response.headers.update(_PAGE_HEADERS)
        return response

    @staticmethod
    def _own_origins(request: web.Request) -> set[str]:
        port = request.url.port
        return {f"http://{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        offered = (header[7:] if header.startswith("Bearer ") else
                   request.headers.get("X-Persona-Token") or request.query.get("token") or "")
        return hmac.compare_digest(offered.encode(), self.token.encode())

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(self.board.latest())

    async def _scenes(self, request: web.Request) -> web.Response:
        status = self.board.latest()
        return web.json_response({"scenes": status.get("scenes", []),
                                  "current": status.get("scene")})

    async def _scene(self, request: web.Request) -> web.Response:
        return self._queue("scene", request.match_info["key"])

    async def _command(self, request: web.Request) -> web.Response:
        on = None
        if request.can_read_body:
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return _error(400, "the body must be JSON, e.g. {\"on\": true}")
            if not isinstance(body, dict) or not isinstance(body.get("on", False), bool):
                return _error(400, "the body must be {\"on\": true} or {\"on\": false}")
            on = body.get("on")
        return self._queue(request.match_info["command"], None, on)

    def _queue(self, name: str, argument: str | None = None,
               on: bool | None = None) -> web.Response:
        """Check a command against the latest status and put it on the loop's queue."""
        from engine.app import Command

        status = self.board.latest()
        if name == "scene":
            scenes = status.get("scenes", [])
            if not argument or not any(scene_matches(scene, argument) for scene in scenes):
                names = ", ".join(str(scene.get("name")) for scene in scenes)
                return _error(404, f"no scene {argument!r}; scenes: {names}")
        elif name in TOGGLES:
            state = TOGGLES[name](status)
            if on is not None and state is not None and bool(state) == on:
                return web.json_response({"command": name, "queued": False, "on": on})
            if name in ("mute", "voice") and not status.get("voice"):
                return _error(409, "the voice is not running in this session")
        elif name not in ACTIONS:
            known = ", ".join(["scene/{key}", *TOGGLES, *ACTIONS])
            return _error(404, f"unknown command {name!r}; known: {known}")
        self.commands.put(Command(name, argument))
        return web.json_response({"command": name, "argument": argument, "queued": True},
                                 status=202)

    async def _events(self, request: web.Request) -> web.WebSocketResponse:
        """Status as JSON whenever it changes (at most ``EVENTS_HZ``); accepts
        ``{"command": name, "argument": key, "on": bool}`` messages too."""
        socket = web.WebSocketResponse(heartbeat=20.0, max_msg_size=_MAX_BODY)
        await socket.prepare(request)
        self._sockets.add(socket)
        sender = asyncio.ensure_future(self._push_status(socket))
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(message.data)
                    name = str(data["command"])
                    argument = data.get("argument")
                    on = data.get("on")
                except (ValueError, KeyError, TypeError):
                    await socket.send_json({"error": "send {\"command\": name, ...}"})
                    continue
                response = self._queue(name, None if argument is None else str(argument),
                                       on if isinstance(on, bool) else None)
                await socket.send_json({"reply": json.loads(response.body)})
        finally:
            sender.cancel()
            self._sockets.discard(socket)
        return socket

    async def _push_status(self, socket: web.WebSocketResponse) -> None:
        sent = None
        try:
            while not socket.closed:
                status = self.board.latest()
                if status is not sent:
                    await socket.send_json({"status": status})
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
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/?token={self.token}"

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
        log.info("control page: %s", self.url.split("?")[0])

    def _serve(self, ready: threading.Event, failure: list) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def main() -> None:
            self._stopped = asyncio.Event()
            self._runner = web.AppRunner(self.build(), access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.host, self.port)
            try:
                await site.start()
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

    def stop(self) -> None:
        """Close connections and the server; safe to call more than once."""
        if self._thread is None:
            return
        if self._loop is not None and self._stopped is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout=5.0)
        self._thread = None


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
