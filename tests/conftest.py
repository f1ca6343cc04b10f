"""Shared fixtures: third-party sample assets and headless GL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_ASSETS = Path(__file__).resolve().parent.parent.parent / "shared" / "assets"


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


@pytest.fixture(scope="session")
def gl():
    """One headless GL context for the whole test session (contexts are slow to make)."""
    from engine.gl.context import GLContext

    context = GLContext.headless()
    yield context
    context.close()


@pytest.fixture(scope="session")
def xvfb():
    """A private X display (Xvfb) for window tests; sets DISPLAY for the session.

    Under CI a missing Xvfb is a failure (the Makefile installs it); elsewhere the test skips.
    """
    import shutil
    import subprocess
    import time

    if shutil.which("Xvfb") is None:
        message = "Xvfb is not installed (apt install xvfb)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    for number in range(90, 110):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            break
    display = f":{number}"
    process = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"Xvfb {display} did not start")
        time.sleep(0.05)
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    yield display
    if previous is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = previous
    process.terminate()
    process.wait(timeout=5)
