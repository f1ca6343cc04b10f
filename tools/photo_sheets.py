"""Contact sheets of photo avatars (docs/img/photo_<name>.png): neutral, blink, jaw open,
smile, surprise, yaw ±25°, pitch ±15°, each tile cropped round the face of a 1280x720 frame.

The avatars are built from skimage's astronaut and the shared face photos into a temporary
folder (nothing of the photos is kept in the project but the sheets).

Usage:
    python tools/photo_sheets.py [--out docs/img] [--tile 280]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

FRAME = (1280, 720)


def _head(yaw: float, pitch: float) -> np.ndarray:
    from engine.tracking.head_pose import rotation_from_yaw_pitch_roll

    head = np.eye(4, dtype=np.float32)
    head[:3, :3] = rotation_from_yaw_pitch_roll(yaw, pitch, 0.0)
    return head


def tiles():
    from engine.types import Expression, blendshape_vector as shapes

    return [
        ("neutral", Expression()),
        ("blink", Expression(shapes({"eyeBlinkLeft": 1, "eyeBlinkRight": 1}))),
        ("jaw open", Expression(shapes({"jawOpen": 1}))),
        ("smile", Expression(shapes({"mouthSmileLeft": 1, "mouthSmileRight": 1,
                                     "cheekSquintLeft": 0.5, "cheekSquintRight": 0.5}))),
        ("surprise", Expression(shapes({"browInnerUp": 1, "browOuterUpLeft": 1,
                                        "browOuterUpRight": 1, "eyeWideLeft": 1,
                                        "eyeWideRight": 1, "jawOpen": 0.5}))),
        ("yaw -25", Expression(head=_head(-25, 0))),
        ("yaw +25", Expression(head=_head(25, 0))),
        ("pitch -15", Expression(head=_head(0, -15))),
        ("pitch +15", Expression(head=_head(0, 15))),
    ]


def sheet(folder: Path, tile: int) -> np.ndarray:
    """(3·tile, 3·tile, 3) uint8: the nine tiles of the avatar in ``folder``."""
    import cv2

    from engine.avatar.base import AvatarInput
    from engine.avatar.loader import open_avatar
    from engine.gl.compositor import Compositor
    from engine.gl.context import GLContext
    from engine.gl.programs import ShaderLibrary

    pictures = []
    with GLContext.headless() as gl:
        shaders = ShaderLibrary(gl.ctx)
        compositor = Compositor(gl.ctx, shaders, FRAME)
        layer = compositor.layers[0]
        avatar = open_avatar(str(folder), gl, shaders).avatar
        try:
            for label, expression in tiles():
                avatar.render(AvatarInput(expression), layer.begin())
                frame = np.array(compositor.finish(layer))
                sx, sy, ox, oy = avatar.rig.set_frame(FRAME)
                cx = (avatar.rig.centre[0] * sx + ox + 1) / 2 * FRAME[0]
                cy = (1 - (avatar.rig.centre[1] * sy + oy)) / 2 * FRAME[1]
                half = int(1.1 * avatar.rig.face_px * sx * FRAME[0] / 2)
                half = min(half, FRAME[1] // 2)
                x0 = int(np.clip(cx - half, 0, FRAME[0] - 2 * half))
                y0 = int(np.clip(cy - half, 0, FRAME[1] - 2 * half))  # the crop stays inside
                crop = frame[y0:y0 + 2 * half, x0:x0 + 2 * half]
                crop = cv2.resize(np.ascontiguousarray(crop), (tile, tile),
                                  interpolation=cv2.INTER_AREA)
                cv2.putText(crop, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3)
                cv2.putText(crop, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
                pictures.append(crop)
        finally:
            avatar.release()
            compositor.release()
    rows = [np.hstack(pictures[i:i + 3]) for i in range(0, 9, 3)]
    return np.vstack(rows)


def main(argv: list[str] | None = None) -> int:
    import skimage.data
    from PIL import Image

    from engine.avatar.photo.build import build_photo_avatar
    from engine.safety.likeness import Consent
    from engine.resources import SHARED_ASSETS
    from engine.tracking.media import read_image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--tile", type=int, default=280)
    args = parser.parse_args(argv)
    photos = [("astronaut", skimage.data.astronaut())]
    for name, file in (("obama", "obama_official_portrait_2012.jpg"),
                       ("pyfeat", "pyfeat_single_face.jpg")):
        photos.append((name, read_image(SHARED_ASSETS / "face" / file)))
    with tempfile.TemporaryDirectory() as temporary:
        for name, image in photos:
            folder = build_photo_avatar(image, name, name, Path(temporary) / name,
                                        Consent(person=name))
            path = args.out / f"photo_{name}.png"
            Image.fromarray(sheet(folder, args.tile)).save(path, optimize=True)
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
