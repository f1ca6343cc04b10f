"""The clinician's control API and page: a small local HTTP/WebSocket server (aiohttp) on
127.0.0.1, token-protected, that turns requests into the same ``Command``s hotkeys make.

``StatusBoard`` carries status from the loop's thread to the server's; ``ControlServer`` runs on
a thread of its own with its own event loop; ``attach`` wires both to an ``App`` in one call.
See docs/control-api.md.
"""

from __future__ import annotations

from engine.control.board import StatusBoard, session_status
from engine.control.server import ControlServer

__all__ = ["ControlServer", "StatusBoard", "attach", "session_status"]


def attach(app, port: int = 0, token: str | None = None, hz: float = 5.0) -> ControlServer:
    """Start a control server for ``app``: its status is published from the loop (chained after
    any ``on_frame`` the app already has) and its commands go onto ``app.commands``. Returns
    the started server; ``server.url`` is the page's address, ``server.board`` the status board
    (the HUD can read it too), ``server.stop()`` ends it."""
    board = StatusBoard(hz=hz)
    previous = app.on_frame

    def on_frame(app_, work) -> None:
        if previous is not None:
            previous(app_, work)
        board.on_frame(app_, work)

    app.on_frame = on_frame
    board.publish(session_status(app))
    server = ControlServer(app.commands, board, port=port, token=token)
    server.start()
    return server
