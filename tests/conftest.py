"""Shared fixtures: third-party sample assets and headless GL.

The tests run in a home folder of their own, set before anything imports the engine: they must
never read the developer's settings, nor write into their avatars, audit log or audit key.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ["HOME"] = tempfile.mkdtemp(prefix="persona-tests-home-")

SHARED_ASSETS = Path(__file__).resolve().parent.parent.parent / "shared" / "assets"


def require_programs(*names: str) -> None:
    """Skip when a system program is missing on a developer machine; fail under CI, where the
    Makefile installs it and a missing one means a broken set-up."""
    import shutil

    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        message = f"needs {', '.join(missing)} (the Makefile installs them with apt)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def shared_asset():
    """``shared_asset("face/pyfeat_single_face.jpg")`` → Path in ../shared/assets.

    The samples live beside the checkout, never in it. When one is missing the test skips on a
    developer machine but fails under CI (CI=true), where a missing sample means a broken set-up.
    """

    def find(relative: str) -> Path:
        path = SHARED_ASSETS / relative
        if not path.exists():
            message = f"shared asset missing: {path}"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        return path

    return find


_session_contexts: list = []  # the session's GL context, once a test has asked for it


@pytest.fixture(scope="session")
def gl():
    """One headless GL context for the whole test session (contexts are slow to make)."""
    from engine.gl.context import GLContext

    context = GLContext.headless()
    _session_contexts.append(context)
    yield context
    _session_contexts.remove(context)
    context.close()


@pytest.fixture(autouse=True)
def _gl_current():
    """After every test, the session's GL context is current again: a command run in-process
    (``main``) makes and releases contexts of its own, which leaves none current for the next
    test or session fixture."""
    yield
    for context in _session_contexts:
        context.ctx.__enter__()



@contextmanager
def xvfb(monkeypatch, screen: str, numbers: range) -> Iterator[str]:
    """A private X server (the first free display number of ``numbers``) as ``DISPLAY``."""
    require_programs("Xvfb", "xdotool")
    # -terminate: the server ends with its last client, so it cannot outlive a crashed test run.
    number = next(n for n in numbers if not Path(f"/tmp/.X11-unix/X{n}").exists())
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", screen,
                               "-nolisten", "tcp", "-terminate"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.monotonic() > deadline:
            server.kill()
            pytest.fail("Xvfb did not start")
        time.sleep(0.05)
    monkeypatch.setenv("DISPLAY", f":{number}")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)
