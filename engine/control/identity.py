"""The tablet remote's stable address: one port and one token per machine, kept between runs.

A tablet that paired once keeps working next session at the same address, until the clinician
asks for a new token (``persona run --control-new-token``). The file holds the key to the
session's controls, so it is written readable by its owner only, and a copy that others could
read is not trusted: a new token is made instead.
"""

from __future__ import annotations

import logging
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ConfigError
from engine.resources import USER_ROOT
from engine.safe_write import replace_on_success
from engine.safety import strict_toml

log = logging.getLogger(__name__)

CONTROL_FILE = USER_ROOT / "control.toml"
_MAX_BYTES = 4096
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")  # what new_token makes, safe in a TOML string


@dataclass(frozen=True)
class Identity:
    port: int  # 0: not chosen yet (any free port, kept once bound)
    token: str


def new_token() -> str:
    return secrets.token_urlsafe(24)


def load_identity(path: Path = CONTROL_FILE) -> Identity:
    """The kept port and token, or a new token (port 0) when there is none to trust."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return Identity(0, new_token())
    text = strict_toml.read_text(path, _MAX_BYTES)
    values = strict_toml.loads(text, path)
    strict_toml.check_fields(values, ("port", "token"), str(path), text, what="field")
    port, token = values.get("port", 0), values.get("token")
    if not isinstance(port, int) or not 0 <= port < 65536:
        raise ConfigError(f"{path}: port must be a number 0–65535, got {port!r}")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s could be read by other users; made a new control token (tablets must "
                    "pair again)", path)
        return Identity(port, new_token())
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        log.warning("%s: the control token is missing or malformed; made a new one", path)
        return Identity(port, new_token())
    return Identity(port, token)


def save_identity(identity: Identity, path: Path = CONTROL_FILE) -> None:
    """Write ``identity`` readable by its owner only (0600), replacing the file in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replace_on_success(path) as staged:
        staged.file.write(("# Persona's tablet remote: its port and token, kept between "
                           "sessions.\n# persona run --control-new-token makes a new token.\n"
                           f"port = {identity.port}\ntoken = \"{identity.token}\"\n").encode())


def renew_token(path: Path = CONTROL_FILE) -> Identity:
    """A new token, kept (with the same port): every tablet paired before must pair again."""
    identity = Identity(load_identity(path).port, new_token())
    save_identity(identity, path)
    return identity
