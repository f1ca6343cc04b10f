"""Avatar packs: a normal pack round-trips; hostile archives are refused and write nothing."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from engine.cli import main
from engine.errors import AssetError, ConfigError
from engine.safety.packs import Limits, import_pack, pack


@pytest.fixture
def avatar(tmp_path) -> Path:
    folder = tmp_path / "src" / "robot"
    (folder / "textures").mkdir(parents=True)
    (folder / "avatar.toml").write_text('model = "robot.glb"\n[consent]\nlikeness = "synthetic"\n')
    (folder / "robot.glb").write_bytes(b"glb" * 1000)
    (folder / "textures" / "skin.png").write_bytes(b"png" * 100)
    return folder


def make_zip(path: Path, entries: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


OK = {"evil/avatar.toml": b'model = "m.glb"\n', "evil/m.glb": b"x"}


def test_pack_and_import_round_trip(avatar, tmp_path):
    archive = pack(avatar, tmp_path / "robot.zip")
    out = import_pack(archive, tmp_path / "avatars")
    assert out == tmp_path / "avatars" / "robot"
    assert (out / "textures" / "skin.png").read_bytes() == b"png" * 100
    assert sorted(p.name for p in (tmp_path / "avatars").iterdir()) == ["robot"]  # no temp left
    with pytest.raises(AssetError, match="already exists"):
        import_pack(archive, tmp_path / "avatars")


def test_pack_refuses_symlinks(avatar, tmp_path):
    (avatar / "link").symlink_to("/etc/hostname")
    with pytest.raises(AssetError, match="symlink"):
        pack(avatar, tmp_path / "robot.zip")


@pytest.mark.parametrize("name, reason", [
    ("evil/../../escape.txt", "climbs out"),
    ("../escape.txt", "climbs out"),
    ("/etc/escape.txt", "absolute"),
    ("C:/escape.txt", "drive letter"),
    ("evil\\..\\escape.txt", "backslash"),
])
def test_traversal_is_refused_and_nothing_written(tmp_path, name, reason):
    archive = make_zip(tmp_path / "bad.zip", {**OK, name: b"pwned"})
    into = tmp_path / "out" / "avatars"
    with pytest.raises(AssetError, match=reason):
        import_pack(archive, into)
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.rglob("escape.txt"))


def test_symlink_entry_is_refused(tmp_path):
    archive = make_zip(tmp_path / "bad.zip", OK, symlink="evil/link")
    with pytest.raises(AssetError, match="symlink"):
        import_pack(archive, tmp_path / "avatars")
    assert not (tmp_path / "avatars").exists()


def test_zip_bomb_is_refused(tmp_path):
    archive = make_zip(tmp_path / "bomb.zip", {**OK, "evil/zeros.bin": bytes(50 << 20)})
    with pytest.raises(AssetError, match="zip bomb"):
        import_pack(archive, tmp_path / "avatars")


def test_size_limits(tmp_path):
    archive = make_zip(tmp_path / "big.zip", {**OK, "evil/a.bin": b"a" * 5000,
                                              "evil/b.bin": b"b" * 5000})
    with pytest.raises(AssetError, match="more than 4000"):
        import_pack(archive, tmp_path / "a", Limits(file_bytes=4000))
    with pytest.raises(AssetError, match="unpacks to more than 8000"):
        import_pack(archive, tmp_path / "b", Limits(total_bytes=8000))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_lying_size_header_is_caught_while_unpacking(tmp_path):
    archive = make_zip(tmp_path / "liar.zip", {**OK, "evil/data.bin": b"z" * 10000})
    # Rewrite the central directory's uncompressed size to claim 100 bytes.
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo("evil/data.bin")
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(b"evil/data.bin"))
    data[central + 24:central + 28] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    assert info.file_size == 10000
    with pytest.raises(AssetError):
        import_pack(archive, tmp_path / "avatars")
    assert not (tmp_path / "avatars" / "evil").exists()


def test_too_many_entries(tmp_path):
    entries = {**OK, **{f"evil/f{i}.txt": b"" for i in range(20)}}
    with pytest.raises(AssetError, match="entries, more than 10"):
        import_pack(make_zip(tmp_path / "many.zip", entries), tmp_path / "a", Limits(entries=10))


@pytest.mark.parametrize("entries, reason", [
    ({"a/avatar.toml": b"", "b/avatar.toml": b""}, "exactly one avatar folder"),
    ({"evil/m.glb": b"x"}, "no evil/avatar.toml"),
    ({**OK, "evil/M.GLB": b"y"}, "appears twice"),
    ({"avatar.toml": b""}, "outside the avatar folder"),
])
def test_malformed_packs(tmp_path, entries, reason):
    with pytest.raises(AssetError, match=reason):
        import_pack(make_zip(tmp_path / "p.zip", entries), tmp_path / "a")


def test_bad_manifest_toml_is_refused_and_removed(tmp_path):
    archive = make_zip(tmp_path / "p.zip", {"evil/avatar.toml": b"model = = 1\n"})
    with pytest.raises(ConfigError, match=r"avatar.toml:1:"):
        import_pack(archive, tmp_path / "avatars")
    assert list((tmp_path / "avatars").iterdir()) == []


def test_not_a_zip(tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(AssetError, match="not a zip"):
        import_pack(path, tmp_path / "a")


def test_cli_pack_and_import(avatar, tmp_path, capsys):
    archive = tmp_path / "robot.zip"
    assert main(["avatar", "pack", str(avatar), "-o", str(archive)]) == 0
    assert main(["avatar", "import", str(archive), "--into", str(tmp_path / "lib")]) == 0
    assert (tmp_path / "lib" / "robot" / "avatar.toml").is_file()
    bad = make_zip(tmp_path / "bad.zip", {**OK, "../x": b""})
    assert main(["avatar", "import", str(bad), "--into", str(tmp_path / "lib")]) == 1
    assert "climbs out" in capsys.readouterr().err
