"""Contact sheets: an avatar's neutral face and each expression group, rendered as the engine does.

Each tile goes through the compositor like a live frame (background cleared, avatar drawn over
it, one readback), so a sheet shows exactly what a call would see.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from engine.types import Expression, blendshape_vector


def _turn(yaw_degrees: float, pitch_degrees: float = 0.0) -> np.ndarray:
    """A head rotation in view space: positive yaw turns the face to the viewer's right."""
    yaw, pitch = math.radians(yaw_degrees), math.radians(pitch_degrees)
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    head = np.eye(4, dtype=np.float32)
    head[:3, :3] = (np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
                    @ np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]]))
    return head


def _shapes(**values: float) -> np.ndarray:
    return blendshape_vector(values)


# The groups an artist checks: each is a label and the Expression that shows it.
EXPRESSION_GROUPS: tuple[tuple[str, Expression], ...] = (
    ("neutral", Expression()),
    ("blink", Expression(_shapes(eyeBlinkLeft=1, eyeBlinkRight=1))),
    ("jaw open / aa", Expression(_shapes(jawOpen=1))),
    ("smile / happy", Expression(_shapes(mouthSmileLeft=1, mouthSmileRight=1, cheekSquintLeft=0.6,
                                         cheekSquintRight=0.6))),
    ("sad", Expression(_shapes(mouthFrownLeft=1, mouthFrownRight=1, browInnerUp=0.8))),
    ("angry", Expression(_shapes(browDownLeft=1, browDownRight=1, noseSneerLeft=0.6,
                                 noseSneerRight=0.6, mouthPressLeft=0.5, mouthPressRight=0.5))),
    ("surprised", Expression(_shapes(browInnerUp=1, browOuterUpLeft=1, browOuterUpRight=1,
                                     eyeWideLeft=1, eyeWideRight=1, jawOpen=0.5))),
    ("pucker / ou", Expression(_shapes(mouthPucker=1))),
    ("funnel / oh", Expression(_shapes(mouthFunnel=1, jawOpen=0.3))),
    ("wink left", Expression(_shapes(eyeBlinkLeft=1, mouthSmileLeft=0.6))),
    ("tongue out", Expression(_shapes(jawOpen=0.4, tongueOut=1))),
    ("cheek puff", Expression(_shapes(cheekPuff=1, mouthClose=0.2))),
    ("look right", Expression(gaze=np.array([math.radians(25), 0.0], np.float32))),
    ("look up", Expression(gaze=np.array([0.0, math.radians(20)], np.float32))),
    ("head turned", Expression(head=_turn(25.0, -8.0))),
    ("head tilted", Expression(head=_turn(-15.0, 12.0))),
)


def render_tiles(avatar, gl, shaders, groups=EXPRESSION_GROUPS,
                 tile: tuple[int, int] = (400, 300),
                 background: tuple[float, float, float] = (0.80, 0.84, 0.88)) -> list[np.ndarray]:
    """One (h, w, 3) uint8 RGB image per group, rendered through the compositor."""
    from engine.avatar.base import AvatarInput
    from engine.gl.compositor import Background, Compositor

    compositor = Compositor(gl.ctx, shaders, tile)
    try:
        layer = compositor.layers[0]
        layer.set_background(Background(color=background))
        tiles = []
        for _, expression in groups:
            target = layer.begin()
            avatar.render(AvatarInput(expression), target)
            tiles.append(compositor.finish(layer).copy())
        return tiles
    finally:
        compositor.release()


def contact_sheet(tiles: list[np.ndarray], labels: list[str], columns: int = 4) -> np.ndarray:
    """The tiles in a grid, each with its label under it."""
    from PIL import Image, ImageDraw

    height, width = tiles[0].shape[:2]
    caption = 26
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * width, rows * (height + caption)), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    for index, (tile, label) in enumerate(zip(tiles, labels)):
        x, y = index % columns * width, index // columns * (height + caption)
        sheet.paste(Image.fromarray(tile), (x, y))
        draw.text((x + 8, y + height + 6), label, fill=(30, 30, 30))
    return np.asarray(sheet)


def write_sheet(avatar, gl, shaders, output: Path, groups=EXPRESSION_GROUPS,
                tile: tuple[int, int] = (400, 300), columns: int = 4) -> Path:
    """Render every group and save the sheet as a PNG."""
    from PIL import Image

    tiles = render_tiles(avatar, gl, shaders, groups, tile)
    sheet = contact_sheet(tiles, [label for label, _ in groups], columns)
    output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(output)
    return output
