"""Godette's contact sheet and head-turn clip for docs/avatars.md ("VRM pose and spring bones").

    .venv/bin/python tools/vrm_pose_sheet.py [--model PATH] [--video docs/vrm_godette_turn.mp4]

Writes docs/img/vrm_godette_pose.png: the model's own thumbnail beside Godette rendered as the
engine does (front, three-quarter, head turned left and right a few frames into the turn, so the
hair is mid-swing, and from behind), and docs/img/vrm_godette_outline.png (MToon outline off /
on, close up) and docs/img/vrm_godette_arms.png (tracked arms in the upper-body shot: at rest,
arms out, a shrug, hands turned, a wave; the arms come from made-up pose landmarks through the
engine's own follower). Tiles are rendered at twice their size and averaged down (supersampled,
as an offline render can afford). The clip is the head swinging left and right for four seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.avatar.base import AvatarInput  # noqa: E402
from engine.avatar.gltf import thumbnail  # noqa: E402
from engine.avatar.loader import open_avatar  # noqa: E402
from engine.gl.compositor import Background, Compositor  # noqa: E402
from engine.gl.context import GLContext  # noqa: E402
from engine.gl.programs import ShaderLibrary  # noqa: E402
from engine.resources import SHARED_ASSETS  # noqa: E402
from engine.safe_write import replace_on_success  # noqa: E402
from engine.scenes import Framing  # noqa: E402
from engine.tracking.pose import REST, ArmFollower, ArmLandmarks  # noqa: E402
from engine.types import Expression  # noqa: E402

TILE = 360
SUPERSAMPLE = 2
BACKGROUND = (0.30, 0.31, 0.36)


def head_yaw(degrees: float) -> Expression:
    a = math.radians(degrees)
    head = np.eye(4, dtype=np.float32)
    head[:3, :3] = [[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]]
    return Expression(head=head)


def tracked_arms(upper: tuple, forearm: tuple, palm_forward: tuple = (0.0, 0.0),
                 raised: float = 0.0) -> np.ndarray:
    """``Expression.arms`` for a performer holding a pose a second, through ``ArmFollower``:
    per side (left, right) the upper arm's and forearm's directions in the body frame (+x the
    performer's left, +y up, +z towards the camera), how far each palm is turned from the thigh
    towards the camera (0–1: a quarter turn), and the shoulders raised (metres)."""
    shoulders = np.array([[0.18, 1.45 + raised, 0.0], [-0.18, 1.45 + raised, 0.0]])
    points = np.zeros((2, 3, 3))
    knuckles = np.zeros((2, 2, 3))
    for side in range(2):
        up, fore = (np.asarray(d, float) / np.linalg.norm(d) for d in (upper[side], forearm[side]))
        elbow = shoulders[side] + 0.28 * up
        points[side] = shoulders[side], elbow, elbow + 0.25 * fore
        outward = np.array([1.0 if side == 0 else -1.0, 0.0, 0.0])
        turn = math.radians(90.0 * palm_forward[side])
        line = math.cos(turn) * np.array([0.0, 0.0, 1.0]) + math.sin(turn) * outward
        line -= (line @ fore) * fore
        middle = points[side, 2] + 0.06 * fore
        knuckles[side] = middle + 0.02 * line, middle - 0.02 * line
    ears = np.array([[0.07, 1.62, 0.02], [-0.07, 1.62, 0.02]])
    posed = ArmLandmarks(points, np.ones((2, 3)), np.zeros((2, 3, 2)), knuckles, np.ones((2, 2)),
                         ears, np.ones(2))
    lift = np.array([0.0, raised, 0.0])
    relaxed = dataclasses.replace(posed, points=points - lift, knuckles=knuckles - lift)
    follower = ArmFollower()
    for k in range(30):  # relaxed first: a shrug is measured against the relaxed height
        follower.update(relaxed, k / 30)
    for k in range(30):
        arms = follower.update(posed, 1.0 + k / 30)
    return arms


def write_png(path: Path, rgb: np.ndarray) -> None:
    with replace_on_success(path) as staged:
        staged.file.write(cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes())


def label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    cv2.putText(tile, text, (10, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
    return tile


class Camera:
    """Renders frames of one avatar at TILE x TILE, supersampled."""

    def __init__(self, gl, shaders, model: Path) -> None:
        size = (TILE * SUPERSAMPLE, TILE * SUPERSAMPLE)
        self.compositor = Compositor(gl.ctx, shaders, size)
        self.layer = self.compositor.layers[0]
        self.layer.set_background(Background(color=BACKGROUND))
        self.avatar = open_avatar(str(model), gl, shaders).avatar

    def shoot(self, expression: Expression) -> np.ndarray:
        self.avatar.render(AvatarInput(expression), self.layer.begin())
        frame = self.compositor.finish(self.layer)
        return cv2.resize(frame, (TILE, TILE), interpolation=cv2.INTER_AREA)

    def turn(self, frames: list[Expression]) -> np.ndarray:
        """The picture after playing ``frames`` (the spring bones run through all of them)."""
        for expression in frames[:-1]:
            self.avatar.render(AvatarInput(expression), self.layer.begin())
        return self.shoot(frames[-1])

    def release(self) -> None:
        self.avatar.release()
        self.compositor.release()


def ramp(start: float, end: float, frames: int) -> list[Expression]:
    return [head_yaw(start + (end - start) * (k + 1) / frames) for k in range(frames)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=SHARED_ASSETS / "vrm" / "Godette_vrm_v4.vrm")
    parser.add_argument("--video", type=Path, default=None, help="also write the head-turn clip")
    args = parser.parse_args()
    with GLContext.headless() as gl:
        shaders = ShaderLibrary(gl.ctx)
        camera = Camera(gl, shaders, args.model)
        avatar = camera.avatar
        avatar.set_framing(Framing(zoom=0.55, offset=(0.0, 0.16)))
        still = [Expression()] * 30
        tiles = [label(camera.turn(still), "front, arms at rest")]
        avatar.yaw = math.radians(35)
        tiles.append(label(camera.turn(still), "three-quarter"))
        avatar.yaw = 0.0
        camera.turn(still)
        # A quick turn (a quarter second), shot two frames after it stops: the hair overshoots.
        tiles.append(label(camera.turn(ramp(0, 35, 8) + [head_yaw(35)] * 2), "head left, hair swinging"))
        camera.turn([head_yaw(35)] * 60)
        tiles.append(label(camera.turn(ramp(35, -35, 12) + [head_yaw(-35)] * 2), "head right, swinging"))
        avatar.yaw = math.pi
        tiles.append(label(camera.turn(still), "from behind"))
        avatar.yaw = 0.0
        own = thumbnail(args.model)
        if own is not None:
            picture = cv2.resize(np.ascontiguousarray(own[..., :3]), (TILE, TILE), interpolation=cv2.INTER_AREA)
            tiles.insert(0, label(picture, "the model's own thumbnail"))
        sheet = np.vstack([np.hstack(tiles[:3]), np.hstack(tiles[3:6])])
        write_png(ROOT / "docs" / "img" / "vrm_godette_pose.png", sheet)

        avatar.set_framing(Framing(zoom=1.3, offset=(0.0, 0.0)))
        off = label(camera.turn(still), "outline off (default)")
        avatar.outline = True
        on = label(camera.turn(still), "MToon outline on")
        avatar.outline = False
        write_png(ROOT / "docs" / "img" / "vrm_godette_outline.png", np.hstack([off, on]))

        upper_rest, forearm_rest = REST[:, 0], REST[:, 1]  # the relaxed pose's directions
        out, up = ((1.0, 0.0, 0.0), (-1.0, 0.0, 0.0)), (0.0, 1.0, 0.0)
        waving = ((1.0, -0.3, 0.0), upper_rest[1]), (up, forearm_rest[1])
        whole = (("arms at rest", tracked_arms(upper_rest, forearm_rest)),
                 ("arms out, palms down", tracked_arms(out, out)),
                 ("shrug", tracked_arms(upper_rest, forearm_rest, raised=0.045)))
        close = (("wave, palm to the side", tracked_arms(*waving)),
                 ("wave, palm forward", tracked_arms(*waving, (1.0, 0.0))),
                 ("wave, back of hand", tracked_arms(*waving, (-1.0, 0.0))))
        avatar.set_framing(Framing(shot="upper_body"))
        tiles = [label(camera.turn([Expression(arms=arms)] * 20), name) for name, arms in whole]
        avatar.set_framing(Framing(zoom=2.2, offset=(-0.5, -0.2), shot="upper_body"))
        tiles += [label(camera.turn([Expression(arms=arms)] * 20), name) for name, arms in close]
        write_png(ROOT / "docs" / "img" / "vrm_godette_arms.png",
                  np.vstack([np.hstack(tiles[:3]), np.hstack(tiles[3:])]))

        if args.video is not None:
            avatar.set_framing(Framing(zoom=0.8, offset=(0.0, 0.05)))
            writer = cv2.VideoWriter(str(args.video), cv2.VideoWriter_fourcc(*"mp4v"), 30, (TILE, TILE))
            for k in range(120):  # 4 s: still, two quick turns each way, still
                t = k / 30.0
                yaw = 35.0 * math.sin(2 * math.pi * (t - 0.5) / 1.5) if 0.5 <= t < 3.5 else 0.0
                writer.write(cv2.cvtColor(camera.shoot(head_yaw(yaw)), cv2.COLOR_RGB2BGR))
            writer.release()
        camera.release()
        shaders.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
