"""The wheel: built from the checkout, installed into a fresh environment, rendering on its own.

Nothing is downloaded: the build uses this environment's setuptools (``--no-build-isolation``)
and the fresh environment borrows this one's dependencies through a ``.pth`` file, but not its
editable ``engine``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import av
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Not sources. build/ in particular must not come along: setuptools copies whatever an old
# build/lib holds into the new wheel, deleted files included.
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                     ".pytest_cache", ".hypothesis", "out", "shared")
DATA = ("shaders", "avatars", "scenes")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel, the sources it was built from): a copy of the checkout, so that the build
    leaves nothing in it and sees one consistent snapshot."""
    base = tmp_path_factory.mktemp("wheel")
    sources = base / "src"
    shutil.copytree(ROOT, sources, ignore=NOT_SOURCES)
    run(sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-index",
        "--no-build-isolation", "-q", "-w", base / "dist", cwd=sources)
    (wheel,) = (base / "dist").glob("persona_engine-*.whl")
    return wheel, sources


def test_wheel_holds_every_module_and_the_shipped_data(built):
    wheel, sources = built
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    # pyproject.toml lists the packages by hand; a subpackage missing there is missing here.
    modules = {p.relative_to(sources).as_posix() for p in (sources / "engine").rglob("*.py")}
    assert modules - names == set()
    data = {f"engine/_data/{p.relative_to(sources).as_posix()}"
            for kind in DATA for p in (sources / kind).rglob("*") if p.is_file()}
    assert data - names == set()
    assert {"engine/_data/shaders/avatar.glsl", "engine/_data/avatars/default/avatar.toml",
            "engine/_data/scenes/default.toml", "engine/_data/scenes/voices/robot.toml"} <= names


def test_installed_wheel_renders_from_another_folder(built, tmp_path):
    wheel, _ = built
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python, persona = env_dir / "bin" / "python", env_dir / "bin" / "persona"
    # Installed before the dependencies are visible, so pip sees a bare environment and can
    # neither skip the wheel as "already installed" nor touch this environment's engine.
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        "-q", wheel, cwd=tmp_path)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                    cwd=tmp_path).strip())
    # A .pth line only appends its folder to sys.path; the .pth files in that folder are not run,
    # so the editable install's finder (__editable__...pth) does not come along.
    ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site / "persona_test_dependencies.pth").write_text("\n".join(ours) + "\n")

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PERSONA_PATH")}
    work = tmp_path / "work"
    work.mkdir()
    where = run(python, "-c", "import engine, engine.resources as r; "
                "print(engine.__file__); print(r.SHIPPED_ROOT)", cwd=work, env=env).split("\n")
    package = (site / "engine").resolve()
    assert Path(where[0]).resolve() == package / "__init__.py"
    assert Path(where[1]).resolve() == package / "_data"

    # The default scene's avatar, shaders and voice preset all come from the wheel.
    run(persona, "render", "--script", "smile@0.4", "--size", "320x180", "--fps", "10",
        "-o", "out.mp4", cwd=work, env=env)
    with av.open(str(work / "out.mp4")) as container:
        video = container.streams.video[0]
        assert (video.width, video.height) == (320, 180)
        assert container.streams.audio, "the voice track"
        assert sum(1 for _ in container.decode(video=0)) == 4
