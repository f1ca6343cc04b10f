"""The clinician's control API and page: a small local HTTP/WebSocket server (aiohttp) on
127.0.0.1, token-protected, that turns requests into the same ``Command``s hotkeys make.

``StatusBoard`` carries status from the loop's thread to the server's; ``ControlServer`` runs on
a thread of its own with its own event loop. See docs/control-api.md.
"""

from engine.control.board import StatusBoard
from engine.control.server import ControlServer

__all__ = ["ControlServer", "StatusBoard"]
