"""Writing the files a user asked for without harming what is already there.

Two ways, one for each kind of output:

- ``replace_on_success(target)`` for files that are only worth having complete (a decrypted
  recording, an offline render, a key): everything goes to a fresh temporary file beside the
  target, which is flushed to disk and renamed over the target only when the writer finished
  without an error. A failure or a kill leaves the previous file as it was; a failure also
  removes the temporary file (a kill cannot, so the hidden ``.NAME.*.part`` file stays).
- ``create_new(path)`` for live recordings, which stream to their final name so that a crash
  keeps everything up to the last sealed chunk: the file must not exist yet, so an earlier
  recording is never overwritten and a link planted at the name is never followed.

Both refuse, in one line, a target that is a folder or whose folder does not exist, and make
files readable by their owner only (0600): what Persona writes shows a person's face or voice.
The temporary file is made by ``tempfile.mkstemp``, which opens it ``O_CREAT|O_EXCL|O_NOFOLLOW``
with mode 0600 under a random name, so nobody can have prepared that name in advance.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.errors import ConfigError

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def output_path(path: str | os.PathLike, *, fresh: bool = False) -> Path:
    """``path`` as a Path once it can be written: its folder exists and it is not a folder.

    With ``fresh``, nothing may be at ``path`` yet, not even a dangling link. Raises a one-line
    ConfigError otherwise.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give a file name inside it")
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(f"{path}: folder {folder} does not exist")
    if fresh and (path.exists() or path.is_symlink()):
        raise _taken(path)
    return path


def _taken(path: Path) -> ConfigError:
    return ConfigError(f"{path} already exists; a recording never replaces an earlier file: "
                       f"choose a new name or move the old one away")


def create_new(path: str | os.PathLike) -> BinaryIO:
    """A new file at ``path`` (mode 0600), open for writing; refuses an existing name or link."""
    path = output_path(path, fresh=True)
    try:
        fd = os.open(path, _NEW_FILE, 0o600)
    except FileExistsError:  # appeared since the check above
        raise _taken(path) from None
    except OSError as error:
        raise ConfigError(f"cannot create {path}: {error.strerror}") from None
    return os.fdopen(fd, "wb")


@dataclass(frozen=True)
class Staged:
    """The temporary file a ``replace_on_success`` block writes: by ``path`` (for writers that
    open files themselves) or through ``file``, already open on it."""

    path: Path
    file: BinaryIO


@contextmanager
def replace_on_success(target: str | os.PathLike, *, replace: bool = True) -> Iterator[Staged]:
    """Write ``target`` through a temporary file beside it, put in place only when the block
    ends without an exception (which removes the temporary file and leaves ``target`` alone).

    ``replace=False`` publishes only if nothing is at ``target`` yet and raises FileExistsError
    otherwise: for files that must be created exactly once, such as a key.
    """
    target = output_path(target)
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as error:
        raise ConfigError(f"cannot write {target}: {error.strerror}") from None
    staged = Staged(Path(name), os.fdopen(fd, "w+b"))
    try:
        yield staged
        try:
            staged.file.flush()
            # fsync before the rename: otherwise a crash soon after could leave the new name
            # pointing at a file whose data never reached the disk. Writers that wrote by path
            # have closed their own handles; this descriptor syncs the same file.
            os.fsync(staged.file.fileno())
            staged.file.close()
            if replace:
                os.replace(staged.path, target)
            else:
                os.link(staged.path, target)  # fails when the name is taken, never overwrites
                staged.path.unlink()
        except FileExistsError:
            raise
        except OSError as error:
            raise ConfigError(f"cannot write {target}: {error.strerror}") from None
    except BaseException:
        staged.file.close()
        staged.path.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (the folder's entry), not only the file's data."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
