"""The control page in headless Chromium, driven over the DevTools protocol: a real mouse click
on a scene button switches the engine at the next frame; keys work; the page is usable without a
mouse or sight (named buttons, pressed states, live region); high contrast and German work."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import subprocess
import time
import urllib.request

import aiohttp
import pytest

from tests.conftest import require_programs
from tests.control.conftest import tint_at_centre

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(autouse=True)
def _programs():
    require_programs("chromium")



class DevTools:
    """Just enough of the Chrome DevTools Protocol: commands with replies, events ignored."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.ids = itertools.count(1)

    async def send(self, method: str, **params) -> dict:
        number = next(self.ids)
        await self.socket.send_json({"id": number, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.socket.receive_json(), 10)
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: str):
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def click(self, selector: str) -> None:
        box = await self.evaluate(f"JSON.stringify(document.querySelector({selector!r})"
                                  ".getBoundingClientRect())")
        box = json.loads(box)
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                            clickCount=1)

    async def press(self, key: str) -> None:
        code = f"Digit{key}" if key.isdigit() else f"Key{key.upper()}"
        await self.send("Input.dispatchKeyEvent", type="keyDown", key=key, code=code, text=key,
                        windowsVirtualKeyCode=ord(key.upper()))
        await self.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=code,
                        windowsVirtualKeyCode=ord(key.upper()))


@pytest.fixture
def chromium(tmp_path):
    profile = tmp_path / "profile"
    process = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text().strip()):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("chromium did not start its DevTools endpoint")
        time.sleep(0.1)
    port = int(port_file.read_text().split()[0])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
        pages = [t for t in json.loads(response.read()) if t["type"] == "page"]
    yield pages[0]["webSocketDebuggerUrl"]
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


async def until(condition, rig, timeout: float = 10.0, what: str = "condition"):
    """Step the loop (so the board publishes) until ``condition()`` (maybe async) is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rig.app.step()
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.03)
    raise AssertionError(f"timed out waiting for {what}")


def test_click_a_scene_button_and_the_engine_switches(rig, chromium):
    from engine.offline import PrecomputedVoice
    from engine.voice.synthetic import speech_like

    rig.app.voice = PrecomputedVoice(speech_like(30.0, 48000), 48000, 30.0, "calm-warm")
    server = rig.serve()
    director = rig.app.director

    async def drive() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(chromium, max_msg_size=0) as socket:
                page = DevTools(socket)
                await page.send("Page.enable")
                await page.send("Emulation.setDeviceMetricsOverride", width=1000, height=900,
                                deviceScaleFactor=1, mobile=False)
                await page.send("Page.navigate", url=server.url)
                await until(lambda: page.evaluate(
                    "document.querySelectorAll('button.scene').length === 3 && "
                    "document.getElementById('connection').dataset.state === 'connected'"),
                    rig, what="scene buttons")
                assert await page.evaluate("location.search") == ""  # token hidden from view

                # A real mouse click on scene 2.
                await page.click('button.scene[data-hotkey="2"]')
                await until(lambda: director.current.scene.name == "green", rig,
                            what="the engine to switch")
                assert tint_at_centre(rig.sink) == (0, 255, 0)
                await until(lambda: page.evaluate(
                    "document.querySelector('button.scene[data-hotkey=\"2\"]')"
                    ".getAttribute('aria-pressed') === 'true' && "
                    "document.getElementById('announce').textContent.includes('green')"),
                    rig, what="the page to show and announce the switch")

                # Keyboard only: the scene hotkey and B work on the page as in the window.
                await page.press("3")
                await until(lambda: director.current.scene.name == "blue", rig,
                            what="key 3 to switch")
                # The real voice: the meter moves, M mutes, the page shows it pressed, and a
                # click asks for the state it does not show (so it unmutes, never toggles twice).
                await until(lambda: page.evaluate(
                    "document.getElementById('level').value > 0.3"), rig,
                    what="the level meter to move")
                await page.press("m")
                await until(lambda: rig.app.status().voice.muted, rig, what="M to mute")
                mute_pressed = ("document.querySelector('button[data-command=\"mute\"]')"
                                ".getAttribute('aria-pressed') === 'true'")
                await until(lambda: page.evaluate(mute_pressed), rig, what="mute shown pressed")
                await page.click('button[data-command="mute"]')
                await until(lambda: not rig.app.status().voice.muted, rig, what="a click to unmute")
                await until(lambda: page.evaluate(f"!({mute_pressed})"), rig,
                            what="mute shown released")

                await page.press("b")
                await until(lambda: rig.app.shutter.blank, rig, what="B to blank")

                # Every button has an accessible name; scene buttons carry their key.
                tree = await page.send("Accessibility.getFullAXTree")
                buttons = [node for node in tree["nodes"]
                           if node.get("role", {}).get("value") == "button"]
                names = [node.get("name", {}).get("value", "").strip() for node in buttons]
                assert len(buttons) >= 9 and all(names), names
                assert any(name.startswith("2") and "green" in name for name in names)
                await until(lambda: page.evaluate(
                    "document.querySelector('button[data-command=\"blank\"]')"
                    ".getAttribute('aria-pressed') === 'true'"), rig, what="blank shown pressed")

                # High contrast and German.
                await page.click("#contrast")
                assert await page.evaluate(
                    "document.documentElement.classList.contains('high-contrast')")
                await page.evaluate("const s = document.getElementById('language');"
                                    "s.value = 'de'; s.dispatchEvent(new Event('change'))")
                await until(lambda: page.evaluate(
                    "document.getElementById('scenes-heading').textContent === 'Szenen'"),
                    rig, what="the German catalogue")
                assert await page.evaluate("document.documentElement.lang") == "de"

    asyncio.run(drive())
