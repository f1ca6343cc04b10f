"""The one TOML reader for files a person edits or someone else sends: scenes, voice presets,
settings and avatar manifests.

Reading is bounded and never blocks: only regular files are read (a FIFO or device in place of a
scene must fail at once, not hang the session), at most ``max_bytes`` of them, as UTF-8 without
NUL bytes. Every problem is a ``TomlError`` located as ``file:line: what``, and an unknown key
comes with the nearest known one, because a typo must not silently fall back to a default.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.safety import regular_file

MAX_BYTES = 1 << 20  # avatar, scene and settings files are a few kilobytes
_AT_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


class TomlError(ConfigError):
    """A problem in a file, located: ``origin:line: reason`` (``origin: reason`` without a line)."""

    def __init__(self, origin: str | os.PathLike, line: int | None, reason: str) -> None:
        self.origin, self.line, self.reason = origin, line, reason
        super().__init__(f"{origin}:{line}: {reason}" if line else f"{origin}: {reason}")


# -- reading ----------------------------------------------------------------------------------------

def read_text(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> str:
    """The text of the regular file ``path``: at most ``max_bytes``, UTF-8, no NUL byte."""
    path = Path(path)
    data = regular_file.read_bytes(path, max_bytes, lambda reason: TomlError(path, None, reason))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise TomlError(path, line, f"not UTF-8 text (byte {error.start})") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise TomlError(path, line, "contains a NUL byte; not a TOML file")
    return text


def loads(text: str, origin: str | os.PathLike) -> dict[str, Any]:
    """Parse ``text``; a syntax error becomes ``TomlError("origin:line: what (column n)")``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _AT_LINE.search(message)
        if match:
            what = message[:match.start()].strip()
            raise TomlError(origin, int(match.group(1)),
                            f"{what} (column {match.group(2)})") from None
        if "(at end of document)" in message:
            last_line = text.rstrip().count("\n") + 1
            what = message.replace("(at end of document)", "").strip()
            raise TomlError(origin, last_line, f"{what} (reached the end of the file)") from None
        raise TomlError(origin, None, message) from None
    except RecursionError:  # tomllib recurses per nesting level: "a = [[[[[..." exhausts it
        raise TomlError(origin, None, "values are nested too deeply") from None


def load(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """Read (as ``read_text``) and parse (as ``loads``) one TOML file."""
    return loads(read_text(path, max_bytes), Path(path))


# -- locating keys and checking names ---------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_dotted(text: str) -> tuple[str, ...]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return tuple(part.strip("\"'") for part in parts)


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line numbers (1-based) of every key and table header, by dotted path.

    A line-oriented scan, good for the flat files these are: keys inside inline tables and
    multi-line arrays are found through their parent key (see ``line_of``)."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    in_multiline_string = False
    for number, line in enumerate(text.splitlines(), start=1):
        opens_or_closes = bool(line.count('"""') % 2 or line.count("'''") % 2)
        if in_multiline_string:  # inside a multi-line string: no keys until it closes
            in_multiline_string = not opens_or_closes
            continue
        in_multiline_string = opens_or_closes
        header = _HEADER.match(line)
        if header:
            table = _split_dotted(header.group(1))
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault(table + _split_dotted(key.group(1)), number)
    return lines


def line_of(lines: Mapping[tuple[str, ...], int], keys: tuple[str, ...]) -> int | None:
    """The line of ``keys`` in ``key_lines`` output, or of its nearest enclosing key that has
    a line of its own (``{ jawOpen = 1 }`` is reported at its table's key)."""
    while keys:
        if keys in lines:
            return lines[keys]
        keys = keys[:-1]
    return None


def nearest(name: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or an empty string."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def unknown_field(table: Mapping[str, Any], allowed: Sequence[str]) -> tuple[str, str] | None:
    """The first key of ``table`` that ``allowed`` lacks, with advice for the message
    (``"; did you mean 'x'? (known: a, b)"``); None when every key is known."""
    for key in table:
        if key not in allowed:
            return key, f"{nearest(key, allowed)} (known: {', '.join(allowed)})"
    return None


def check_fields(table: Mapping[str, Any], allowed: Sequence[str], origin: str | os.PathLike,
                 text: str = "", keys: tuple[str, ...] = (), what: str = "field") -> None:
    """Raise ``TomlError("origin:line: unknown field 'a.shadng'; did you mean 'shading'? ...")``
    for the first key of ``table`` (found at ``keys`` in ``text``) that ``allowed`` lacks.

    Without ``text`` (values from the environment or a command line) the error has no line."""
    unknown = unknown_field(table, allowed)
    if unknown is not None:
        key, advice = unknown
        where = keys + (key,)
        raise TomlError(origin, line_of(key_lines(text), where),
                        f"unknown {what} {'.'.join(where)!r}{advice}")
