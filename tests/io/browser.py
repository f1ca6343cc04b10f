"""Headless Chromium as a consumer of our outputs, driven by Playwright.

Debian's ``/usr/bin/chromium`` is used as it is (``executable_path``): nothing is downloaded.
Pages are the small static files beside this module; what they collect is read back with
``page.evaluate``.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_programs

PAGES = Path(__file__).parent


def _need(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"needs {what} (make installs it)")
    pytest.skip(f"needs {what} (make installs it)")


@contextmanager
def chromium_page(page: str, *flags: str) -> Iterator:
    """``page`` (a file beside this module) open in headless Chromium started with ``flags``;
    camera and microphone prompts are accepted as a user would."""
    require_programs("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("the playwright package (the test extra)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True,
            args=["--no-sandbox", "--use-fake-ui-for-media-stream",
                  "--autoplay-policy=no-user-gesture-required", *flags])
        try:
            opened = browser.new_page()
            opened.goto((PAGES / page).as_uri())
            yield opened
        finally:
            browser.close()


def unpack(chunks: list[str], dtype: str) -> list[np.ndarray]:
    """The page's base64 chunks as arrays of ``dtype``."""
    return [np.frombuffer(base64.b64decode(chunk), dtype) for chunk in chunks]
