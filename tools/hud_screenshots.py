"""Render the HUD over real frames for each state a clinician must tell apart, into docs/img.

A real session (``engine.session.build_app``: the shipped scenes copied to a temporary folder,
the synthetic source, the scripted performer) with the precomputed voice the demo renders with,
driven by the same commands the hotkeys send. Each screenshot is the finished frame with the HUD
laid over it as the preview window does (premultiplied: ``hud + frame * (1 - alpha)``).

The detail view's figures are real too: the session runs on a fake-time clock and its tracker
blocks for 2 s once (and overruns the frame a few times more), and ALSA-style underrun lines are
written to file descriptor 2 with the terminal's filter in place (``engine.logs``).

Usage: python tools/hud_screenshots.py [--out docs/img] [--size 960x540]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from engine import logs
from engine.clock import Clock
from engine.config import Settings
from engine.hud import Hud
from engine.offline import PrecomputedVoice
from engine.output.memory import MemorySink
from engine.performer import ScriptedPerformer
from engine.resources import SHIPPED_ROOT, SearchPath
from engine.scenes import load_scenes
from engine.status import CONFIRM, Command, Status
from engine.types import FaceState, Frame
from engine.voice.synthetic import speech_like

RATE = 48000
UNDERRUN = b"ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred\n"


class FakeTime:
    """Time that moves only when the clock sleeps or the tracker blocks."""

    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class BlockingPerformer(ScriptedPerformer):
    """The scripted performer, blocking (in fake time) on the chosen frames."""

    def __init__(self, fake: FakeTime, blocks: dict[int, float]) -> None:
        super().__init__(loop=True)
        self.fake, self.blocks, self.calls = fake, blocks, 0

    def track(self, frame: Frame) -> FaceState:
        self.fake.now += self.blocks.get(self.calls, 0.0)
        self.calls += 1
        return super().track(frame)


def composite(frame: np.ndarray, hud: np.ndarray) -> np.ndarray:
    """The preview window's blend (shaders/present.glsl) on the CPU."""
    alpha = hud[..., 3:4].astype(np.float32) / 255.0
    out = hud[..., :3].astype(np.float32) + frame.astype(np.float32) * (1.0 - alpha)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def shoot(out: Path, size: tuple[int, int]) -> list[Path]:
    from engine.session import build_app

    logs.configure(logging.WARNING, native=True)
    with tempfile.TemporaryDirectory(prefix="persona-hud-") as folder:
        scenes_dir = Path(folder) / "scenes"
        scenes_dir.mkdir()
        for path in SearchPath([SHIPPED_ROOT]).list("scenes", "*.toml"):
            shutil.copy(path, scenes_dir / path.name)
        shutil.copytree(SHIPPED_ROOT / "scenes" / "voices", scenes_dir / "voices")
        scenes = load_scenes(SearchPath([Path(folder)]))
        settings = Settings(source="synthetic", sinks=[], use="demo", width=size[0],
                            height=size[1])
        fake = FakeTime()
        performer = BlockingPerformer(fake, {})
        sink = MemorySink(max_frames=2)
        from engine.capture.synthetic import SyntheticSource

        session = build_app(settings, source=SyntheticSource(size, settings.fps, realtime=False),
                            tracker=performer, sinks=[sink], scenes=scenes, realtime=False,
                            clock=Clock(settings.fps, fake.time, fake.sleep, spin_s=0.0))
        app = session.app
        app.voice = PrecomputedVoice(speech_like(60.0, RATE), RATE, settings.fps,
                                    app.director.current.scene.voice)
        written = []

        def frames(count: int) -> None:
            for _ in range(count):
                app.step()

        def save(name: str, hud: Hud | None = None, status: Status | None = None) -> None:
            hud = hud or Hud(size)
            image = composite(sink.frames[-1].image, hud.render(status or app.status()))
            path = out / f"hud_{name}.png"
            Image.fromarray(image).save(path, optimize=True)
            written.append(path)

        def command(name: str, argument: str | None = None, on: bool | None = None,
                    settle: int = 12) -> None:
            app.commands.put(Command(name, argument, on))
            frames(settle)

        try:
            frames(30)
            save("normal")
            command("mute", on=True)
            save("muted")
            command("mute", on=False)
            command("blank", on=True)
            save("blank")
            command("blank", on=False)
            frames(20)  # not mid-blink: a frozen blink reads as a fault
            command("freeze", on=True)
            save("frozen")
            command("freeze", on=False)
            command("voice", CONFIRM, on=False)
            save("real_voice")
            command("voice", on=True)
            app.say("Calibrated: this is your neutral face now")
            frames(3)
            save("message")
            # Hidden HUD (H): only the flags, so a real voice cannot go unnoticed.
            command("voice", CONFIRM, on=False)
            command("mute", on=True)
            command("hud", on=False)
            save("hidden")
            command("hud", on=True)
            command("mute", on=False)
            command("voice", on=True)
            command("panic", on=True)
            save("panic")
            command("panic", "lift")
            command("blank", on=False)
            command("mute", on=False)
            frames(120)  # the calibration message has gone (shown for 4 s)
            broken = scenes[1]
            broken.path.write_text(broken.path.read_text().replace(
                "[style]\n", "[style]\nintesity = 1.0\n"))
            command("scene", broken.hotkey or broken.name, settle=0)
            for _ in range(90):  # the loader works off the loop; the refusal comes back
                frames(1)
                if app.director.refused is not None:
                    break
            frames(3)
            save("refused")
            # A 2 s stall, then three overruns within 10 s: the tracker is named the slow stage.
            first = performer.calls + 5
            performer.blocks = {first: 2.0, first + 20: 0.05, first + 30: 0.05, first + 40: 0.05}
            frames(60)
            for _ in range(400):  # what ALSA prints on each underrun, straight to fd 2
                os.write(2, UNDERRUN)
            time.sleep(0.5)  # the reader thread turns them into records
            detail = Hud(size)
            detail.detail = True
            save("detail", detail)
        finally:
            session.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--size", default="960x540")
    args = parser.parse_args()
    width, height = (int(part) for part in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    for path in shoot(args.out, (width, height)):
        print(path)


if __name__ == "__main__":
    main()
