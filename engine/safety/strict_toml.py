"""TOML for files that may come from someone else: size-bounded, UTF-8, errors as file:line."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

MAX_BYTES = 1 << 20  # avatar and scene files are a few kilobytes
_AT_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


def loads(text: str, origin: str | os.PathLike) -> dict[str, Any]:
    """Parse ``text``; a syntax error becomes ``ConfigError("origin:line: what")``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _AT_LINE.search(message)
        if match:
            what = message[:match.start()].strip()
            raise ConfigError(f"{origin}:{match.group(1)}: {what} "
                              f"(column {match.group(2)})") from None
        if "(at end of document)" in message:
            last_line = text.rstrip().count("\n") + 1
            what = message.replace("(at end of document)", "").strip()
            raise ConfigError(f"{origin}:{last_line}: {what} (reached the end of the file)") from None
        raise ConfigError(f"{origin}: {message}") from None
    except RecursionError:
        raise ConfigError(f"{origin}: values are nested too deeply") from None


def load(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """Read and parse a TOML file no larger than ``max_bytes``."""
    path = Path(path)
    try:
        with open(path, "rb") as file:
            data = file.read(max_bytes + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror or error})") from None
    if len(data) > max_bytes:
        raise ConfigError(f"{path}: larger than {max_bytes} bytes; not a settings file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte {error.start})") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise ConfigError(f"{path}:{line}: contains a NUL byte; not a TOML file")
    return loads(text, path)
