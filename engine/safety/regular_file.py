"""The one way to read the bytes of a file that a person names or someone else sends: settings,
scenes, keys, images, models, recordings.

Only regular files are read, and opening never blocks: a FIFO or a device where a file is
expected must fail at once instead of waiting for a writer that never comes (or reading a
device for ever). At most ``max_bytes`` are read, so a file that grows while it is read is
refused too. Every problem is reported through the caller's ``fail``, which turns a short
reason ("not a regular file") into that caller's own ``EngineError`` naming the file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

from engine.errors import EngineError

# Not blocking matters for a FIFO, whose open() would otherwise wait for a writer; the flags
# that a platform lacks (O_NONBLOCK on Windows, O_BINARY elsewhere) are simply left out.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)

Fail = Callable[[str], EngineError]


@contextmanager
def open_regular(path: str | os.PathLike, max_bytes: int, fail: Fail) -> Iterator[BinaryIO]:
    """The regular file ``path`` open for reading, checked before a byte is read: not a FIFO
    or device, at most ``max_bytes`` long; otherwise raises ``fail(reason)``."""
    try:
        descriptor = os.open(path, _OPEN_FLAGS)  # follows symlinks: a linked file is fine
    except FileNotFoundError:
        raise fail("no such file") from None
    except OSError as error:
        raise fail(f"cannot read ({error.strerror or error})") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise fail("not a regular file")
        if status.st_size > max_bytes:  # refused before reading a byte of it
            raise fail(f"larger than {max_bytes} bytes; too large for this file")
        with open(descriptor, "rb", closefd=False) as file:
            yield file
    except OSError as error:
        raise fail(f"cannot read ({error.strerror or error})") from None
    finally:
        os.close(descriptor)


def read_bytes(path: str | os.PathLike, max_bytes: int, fail: Fail) -> bytes:
    """The contents of the regular file ``path``, at most ``max_bytes`` of them; otherwise
    raises ``fail(reason)``."""
    with open_regular(path, max_bytes, fail) as file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after fstat
        raise fail(f"larger than {max_bytes} bytes; too large for this file")
    return data
