"""Avatar packs: zip archives of one avatar folder, made and unpacked without trusting them.

Import refuses, before anything is written: names that climb out (``..``), absolute names,
drive letters and backslashes, symlinks and special files, duplicate names (also differing only
in case), too many entries, files or totals over the size limits, and compression ratios that
only a zip bomb has. Sizes are counted while decompressing too, since the header may lie. The
avatar is unpacked into a temporary folder beside the destination and moved into place only
once complete and checked, so a refused or broken pack leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.errors import AssetError

MAX_ENTRIES = 2000
MAX_FILE_BYTES = 512 << 20
MAX_TOTAL_BYTES = 2 << 30
MAX_RATIO = 200           # deflate reaches ~10 on models and textures; bombs reach 1000+
RATIO_FLOOR_BYTES = 1 << 20  # small files may compress well (TOML, blank textures) harmlessly
MAX_NAME_LENGTH = 255
MANIFEST = "avatar.toml"
# What zipfile and zlib raise on a damaged or unsupported archive.
DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError,
           NotImplementedError, RuntimeError)


@dataclass(frozen=True)
class Limits:
    entries: int = MAX_ENTRIES
    file_bytes: int = MAX_FILE_BYTES
    total_bytes: int = MAX_TOTAL_BYTES
    ratio: float = MAX_RATIO


def pack(avatar_dir: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Zip ``avatar_dir`` (which must hold avatar.toml) under its own name; refuses symlinks."""
    avatar_dir, output = Path(avatar_dir), Path(output)
    if not (avatar_dir / MANIFEST).is_file():
        raise AssetError(f"{avatar_dir}: no {MANIFEST}; not an avatar folder")
    files = []
    for path in sorted(avatar_dir.rglob("*")):
        if path.is_symlink():
            raise AssetError(f"{path}: is a symlink; packs hold regular files only")
        if path.is_file():
            files.append(path)
    if output.resolve().is_relative_to(avatar_dir.resolve()):
        raise AssetError(f"{output}: the pack cannot be written inside the avatar folder")
    partial = output.with_name(output.name + ".part")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                name = PurePosixPath(avatar_dir.name, *path.relative_to(avatar_dir).parts)
                archive.write(path, str(name))
        os.replace(partial, output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return output


def _check_name(pack_path: Path, name: str) -> PurePosixPath:
    where = f"{pack_path}: entry {name!r}"
    if not name or len(name) > 4 * MAX_NAME_LENGTH or "\x00" in name:
        raise AssetError(f"{where}: invalid name")
    if "\\" in name or (len(name) >= 2 and name[1] == ":"):
        raise AssetError(f"{where}: Windows path (backslash or drive letter)")
    if name.startswith("/"):
        raise AssetError(f"{where}: absolute path")
    parts = PurePosixPath(name).parts
    if (not parts or any(part in ("..", ".") for part in name.split("/"))
            or any(len(part) > MAX_NAME_LENGTH for part in parts)):
        raise AssetError(f"{where}: path climbs out of the pack or has an invalid part")
    return PurePosixPath(*parts)


def check(pack_path: Path, archive: zipfile.ZipFile, limits: Limits) -> tuple[str, list]:
    """The avatar folder name and the file entries to extract, or AssetError naming the problem."""
    infos = archive.infolist()
    if len(infos) > limits.entries:
        raise AssetError(f"{pack_path}: {len(infos)} entries, more than {limits.entries}")
    seen: set[str] = set()
    tops: set[str] = set()
    files = []
    total = 0
    for info in infos:
        name = _check_name(pack_path, info.filename)
        where = f"{pack_path}: entry {info.filename!r}"
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise AssetError(f"{where}: is a symlink")
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no Unix type given
            raise AssetError(f"{where}: is not a regular file")
        if info.flag_bits & 0x1:
            raise AssetError(f"{where}: is encrypted")
        folded = str(name).casefold()
        if folded in seen:
            raise AssetError(f"{where}: appears twice")
        seen.add(folded)
        tops.add(name.parts[0])
        if info.is_dir():
            continue
        if len(name.parts) < 2:
            raise AssetError(f"{where}: outside the avatar folder")
        if info.file_size > limits.file_bytes:
            raise AssetError(f"{where}: {info.file_size} bytes, more than {limits.file_bytes}")
        total += info.file_size
        if total > limits.total_bytes:
            raise AssetError(f"{pack_path}: unpacks to more than {limits.total_bytes} bytes")
        if (info.file_size > RATIO_FLOOR_BYTES
                and info.file_size > limits.ratio * max(info.compress_size, 1)):
            raise AssetError(f"{where}: compression ratio above {limits.ratio}; "
                             f"looks like a zip bomb")
        files.append((name, info))
    if len(tops) != 1:
        raise AssetError(f"{pack_path}: must hold exactly one avatar folder, found "
                         f"{len(tops)}")
    top = tops.pop()
    if not any(name == PurePosixPath(top, MANIFEST) for name, _ in files):
        raise AssetError(f"{pack_path}: no {top}/{MANIFEST}")
    return top, files


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limit: int) -> int:
    """Copy one entry, counting real bytes: the header's size is only a claim."""
    written = 0
    with archive.open(info) as source, open(target, "xb") as out:
        while block := source.read(1 << 20):
            written += len(block)
            if written > limit:
                raise AssetError(f"entry {info.filename!r} unpacks to more than its stated size")
            out.write(block)
    return written


def import_pack(pack_path: str | os.PathLike, into: str | os.PathLike,
                limits: Limits = Limits()) -> Path:
    """Unpack a checked avatar pack into ``into``/<name>; returns that folder."""
    from engine.safety import strict_toml

    pack_path, into = Path(pack_path), Path(into)
    if not pack_path.is_file():
        raise AssetError(f"{pack_path}: no such file")
    try:
        archive = zipfile.ZipFile(pack_path)
    except (*DAMAGED, OSError) as error:
        raise AssetError(f"{pack_path}: not a zip archive ({error})") from None
    with archive:
        top, files = check(pack_path, archive, limits)
        destination = into / top
        if destination.exists() or destination.is_symlink():
            raise AssetError(f"{destination}: already exists; remove it or import elsewhere")
        into.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".import-", dir=into))
        try:
            total = 0
            for name, info in files:
                target = staging.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                total += _extract(archive, info, target, min(info.file_size,
                                                              limits.total_bytes - total))
            strict_toml.load(staging / top / MANIFEST)
            os.rename(staging / top, destination)
        except DAMAGED as error:
            raise AssetError(f"{pack_path}: damaged archive ({error})") from None
        except OSError as error:
            raise AssetError(f"{pack_path}: cannot unpack ({error})") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return destination
