"""Godette's arms driven by MediaPipe Pose on real frames, for docs/tracking.md ("Upper body").

    .venv/bin/python tools/vrm_upper_body_sheet.py [--out docs/img/vrm_upper_body.png]

Columns: frames of the Pexels clip (tracked in order from its start, as live) and the astronaut
photo. Rows: the frame, with room below it, and the arm landmarks MediaPipe reports (green:
followed, red: too little visibility, so the avatar keeps that segment at rest); Godette as the engine shows it
(scene mirror off, so her arms are on the same side of the picture as the performer's); and
Godette with visibility ignored, to show what MediaPipe guesses for joints outside the frame.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.avatar.base import AvatarInput  # noqa: E402
from engine.avatar.loader import open_avatar  # noqa: E402
from engine.gl.compositor import Background, Compositor  # noqa: E402
from engine.gl.context import GLContext  # noqa: E402
from engine.gl.programs import ShaderLibrary  # noqa: E402
from engine.resources import SHARED_ASSETS  # noqa: E402
from engine.scenes import Framing  # noqa: E402
from engine.tracking.media import read_frames  # noqa: E402
from engine.tracking.pose import ArmFollower, ArmLandmarks, UpperBodyTracker, follow_weights  # noqa: E402
from engine.types import Expression, Frame  # noqa: E402
from tools.vrm_pose_sheet import label, write_png  # noqa: E402

TILE = 300
SUPERSAMPLE = 2
BACKGROUND = (0.30, 0.31, 0.36)
CLIP = SHARED_ASSETS / "video" / "WolfgangLanger_Pexels.mp4"
PICKS = (0, 96, 168, 300)  # still, hand to the face, crying into the hand, laughing


def draw_arms(image: np.ndarray, arms: ArmLandmarks | None, below: float) -> np.ndarray:
    """The frame on a canvas ``below`` frame heights tall (room for the joints MediaPipe puts
    under the picture of a person framed from the chest up), fitted into a square tile, arm
    segments drawn by whether they count."""
    height, width = image.shape[:2]
    canvas = np.full((int(below * height), max(width, int(below * height)), 3), 40, np.uint8)
    left = (canvas.shape[1] - width) // 2
    canvas[:height, left:left + width] = image
    scale = TILE / canvas.shape[0]
    tile = cv2.resize(canvas, (TILE, TILE), interpolation=cv2.INTER_AREA)
    if arms is None:
        return label(tile, "nobody found")
    weights = follow_weights(arms)
    for s in range(2):
        points = [(int(round((x + left) * scale)), int(round(y * scale))) for x, y in arms.image[s]]
        for k in range(2):
            colour = (60, 220, 60) if weights[s, k] > 0 else (230, 60, 60)
            cv2.line(tile, points[k], points[k + 1], colour, 3, cv2.LINE_AA)
        for point in points:
            cv2.circle(tile, point, 5, (255, 255, 255), -1, cv2.LINE_AA)
    return tile


class Stage:
    """Godette rendered at TILE x TILE, supersampled."""

    def __init__(self, gl, shaders) -> None:
        size = (TILE * SUPERSAMPLE, TILE * SUPERSAMPLE)
        self.compositor = Compositor(gl.ctx, shaders, size)
        self.layer = self.compositor.layers[0]
        self.layer.set_background(Background(color=BACKGROUND))
        self.avatar = open_avatar(str(SHARED_ASSETS / "vrm" / "Godette_vrm_v4.vrm"), gl,
                                  shaders).avatar
        self.avatar.set_framing(Framing(zoom=0.75, offset=(0.0, 0.05)))

    def shoot(self, arms: np.ndarray) -> np.ndarray:
        expression = Expression(arms=arms)
        for _ in range(30):  # let the hair settle on the new pose
            self.avatar.render(AvatarInput(expression), self.layer.begin())
        frame = self.compositor.finish(self.layer)
        return cv2.resize(frame, (TILE, TILE), interpolation=cv2.INTER_AREA)

    def release(self) -> None:
        self.avatar.release()
        self.compositor.release()


def track(frames: list[Frame], picks: set[int]) -> list[tuple[np.ndarray, ArmLandmarks | None,
                                                              np.ndarray, np.ndarray]]:
    """(image, landmarks, arms as shown, arms with visibility ignored) at each picked frame."""
    tracker = UpperBodyTracker(video=len(frames) > 1)
    blind = ArmFollower()  # the same landmarks, every joint taken as fully visible
    shots = []
    try:
        for frame in frames:
            arms = tracker.track(frame)
            seen = tracker.last
            guessed = blind.update(None if seen is None else dataclasses.replace(
                seen, visibility=np.ones_like(seen.visibility),
                knuckle_visibility=np.ones_like(seen.knuckle_visibility),
                ear_visibility=np.ones_like(seen.ear_visibility)), frame.t_capture)
            if frame.index in picks:
                shots.append((frame.image, seen, arms, guessed))
    finally:
        tracker.close()
    return shots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "vrm_upper_body.png")
    args = parser.parse_args()
    import skimage.data

    shots = track(list(read_frames(CLIP, max(PICKS) + 1)), set(PICKS))
    photo = np.ascontiguousarray(skimage.data.astronaut())
    # The photo held for a second, as a still camera would show it.
    shots += track([Frame(photo, k / 30.0, k) for k in range(30)], {29})
    names = [f"Pexels frame {k}" for k in PICKS] + ["astronaut photo"]
    below = [2.4] * len(PICKS) + [1.0]  # the photo shows her arms; the clip shows none
    with GLContext.headless() as gl:
        shaders = ShaderLibrary(gl.ctx)
        stage = Stage(gl, shaders)
        columns = []
        for name, room, (image, seen, arms, guessed) in zip(names, below, shots):
            columns.append(np.vstack([label(draw_arms(image, seen, room), name),
                                      label(stage.shoot(arms), "as shown"),
                                      label(stage.shoot(guessed), "visibility ignored")]))
        stage.release()
        shaders.release()
    write_png(args.out, np.hstack(columns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
