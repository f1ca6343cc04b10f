"""A small real session for control tests: synthetic source, scripted performer, three scenes
from files (so a test can break one), quad avatars coloured per scene, a memory sink."""

from __future__ import annotations

import pytest

from engine.app import App
from engine.capture.synthetic import SyntheticSource
from engine.control import ControlServer, StatusBoard
from engine.director import LOAD_TIMEOUT_S, Director
from engine.scene_loader import SceneLoader
from engine.gl.compositor import Compositor
from engine.gl.programs import ShaderLibrary
from engine.output.memory import MemorySink
from engine.performer import Pose, ScriptedPerformer
from engine.scenes import load_scene
from engine.session import offline_clock
from tests.core.quad_avatar import quad

SIZE = (192, 108)
FPS = 30.0
TINTS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}


class Rig:
    def __init__(self, gl, folder, crossfade_s: float = 0.0,
                 size: tuple[int, int] = SIZE) -> None:
        self.shaders = ShaderLibrary(gl.ctx)
        self.compositor = Compositor(gl.ctx, self.shaders, size)
        paths = []
        for hotkey, name in (("1", "red"), ("2", "green"), ("3", "blue")):
            path = folder / f"{name}.toml"
            path.write_text(f'name = "{name}"\nhotkey = "{hotkey}"\navatar = "{name}"\n'
                            '[background]\ncolor = [0.0, 0.0, 0.0]\n[style]\nmirror = false\n')
            paths.append(path)
        scenes = [load_scene(path) for path in paths]
        loader = SceneLoader(lambda scene: lambda: quad(gl.ctx, TINTS[scene.avatar]))
        director = Director(scenes, self.compositor.layers, loader, crossfade_s=crossfade_s)
        source = SyntheticSource(size, FPS, realtime=False)
        source.start()
        self.sink = MemorySink(max_frames=4)
        self.sink.open(*size, FPS)
        self.board = StatusBoard(hz=1000.0)
        self.app = App(clock=offline_clock(FPS), source=source, scene_load_wait_s=LOAD_TIMEOUT_S,
                       tracker=ScriptedPerformer((Pose("neutral", 10.0),), frame_rate=FPS),
                       director=director, compositor=self.compositor, sinks=[self.sink],
                       fps=FPS, on_frame=self.board.on_frame)
        self.server: ControlServer | None = None

    def serve(self) -> ControlServer:
        self.server = ControlServer(self.app.commands, self.board)
        self.server.start()
        return self.server

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.app.close()
        self.compositor.release()
        self.shaders.release()


@pytest.fixture
def rig(gl, tmp_path):
    made = Rig(gl, tmp_path)
    made.app.step()  # one frame: the board has a status
    yield made
    made.close()


def tint_at_centre(sink: MemorySink) -> tuple[int, int, int]:
    image = sink.frames[-1].image
    return tuple(int(v) for v in image[image.shape[0] // 2, image.shape[1] // 2])
