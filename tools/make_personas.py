"""Mint generated personas into avatars/: ``<name>/<name>.glb`` plus ``avatar.toml``.

Each persona is drawn from a seed (see engine/avatar/procedural.py), so the same seed always gives
the same face, and no face belongs to a real person. With no arguments the shipped set is
rebuilt; ``--name NAME --seed N`` mints one more, with optional overrides.

``--sheet PNG`` then renders the personas in the poses that show the hairline, the temples and
the neck (docs/img/personas_after.png), ``--overview PNG`` neutral and smiling
(docs/img/avatar_personas.png); with ``--no-build`` they show the personas already in ``--out``
(how docs/img/personas_before.png was made, from the earlier files).

Usage:
    python tools/make_personas.py                      # rebuild the shipped personas
    python tools/make_personas.py --sheet docs/img/personas_after.png \
        --overview docs/img/avatar_personas.png
    python tools/make_personas.py --name mine --seed 1234 --hair-style bob
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from engine.avatar.procedural import HAIR_STYLES, PersonaParams, write_persona
from engine.resources import PROJECT_ROOT
from engine.types import Expression, blendshape_vector

# The shipped personas: name → (seed, overrides, shading). The scenes use default, toon and
# anonymous; "default" is what the demo shows. They keep the wide-eyed, high-browed look they
# were designed with (SHIPPED_LOOK); minted and fidelity personas draw brows and lids too.
SHIPPED_LOOK = {"brow_drop": 0.0, "eye_open": 1.0, "brow_weight": 0.0}
SHIPPED = {
    "default": (7, {"hair_style": "swept", "skin": (0.91, 0.71, 0.58), "hair": (0.36, 0.22, 0.12),
                    "eyes": (0.30, 0.45, 0.70), "shirt": (0.25, 0.45, 0.65)}, "lit"),
    "toon": (21, {"hair_style": "bob", "skin": (0.98, 0.86, 0.78), "hair": (0.20, 0.30, 0.55),
                  "eyes": (0.45, 0.35, 0.60), "shirt": (0.85, 0.75, 0.35)}, "toon"),
    "anonymous": (99, {"hair_style": "crop", "skin": (0.80, 0.59, 0.45), "hair": (0.16, 0.11, 0.08),
                       "eyes": (0.35, 0.25, 0.15), "shirt": (0.35, 0.55, 0.40), "freckles": 0.0},
                  "lit"),
    "juniper": (42, {"hair_style": "bob", "skin": (0.50, 0.34, 0.25), "hair": (0.16, 0.11, 0.08),
                     "eyes": (0.35, 0.25, 0.15), "shirt": (0.80, 0.45, 0.30)}, "lit"),
    "marlow": (1337, {"hair_style": "crop", "skin": (0.96, 0.80, 0.69), "hair": (0.55, 0.18, 0.10),
                      "eyes": (0.30, 0.55, 0.35), "shirt": (0.55, 0.40, 0.65)}, "lit"),
}


def _pose(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """A head rotation in view space, degrees (yaw, then pitch, then roll about the view axis):
    positive yaw turns the face to the viewer's right, positive pitch up, positive roll tips
    the top of the head to the viewer's left."""
    y, p, r = np.radians([yaw, pitch, roll])
    turn = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    nod = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    tip = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    head = np.eye(4, dtype=np.float32)
    head[:3, :3] = turn @ nod @ tip
    return head


# Where the personas' defects showed: the hairline (neutral), the far temple on a turn, the neck
# on a roll, alone and with a turn.
SHEET_POSES = tuple((label, Expression(head=_pose(*angles))) for label, angles in (
    ("neutral", ()), ("yaw 25° pitch -8°", (25, -8)), ("yaw -35°", (-35,)), ("roll 20°", (0, 0, 20)),
    ("yaw -15° roll -15°", (-15, 0, -15))))
OVERVIEW_POSES = (("neutral", Expression()), ("smiling", Expression(blendshape_vector(
    {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0, "cheekSquintLeft": 0.6, "cheekSquintRight": 0.6}))))


def write_pose_sheet(folder: Path, names: list[str], poses, output: Path) -> Path:
    """The personas in ``folder`` side by side, a row per (label, Expression) of ``poses``, as
    PNG."""
    from PIL import Image

    from engine.avatar.loader import open_avatar
    from engine.avatar.preview import contact_sheet, render_tiles
    from engine.gl.context import GLContext
    from engine.gl.programs import ShaderLibrary
    from engine.safe_write import replace_on_success

    columns = []  # per persona, its tiles top to bottom
    with GLContext.headless() as gl:
        shaders = ShaderLibrary(gl.ctx)
        for name in names:
            avatar = open_avatar(folder / name, gl, shaders).avatar
            try:
                columns.append(render_tiles(avatar, gl, shaders, poses, tile=(360, 360)))
            finally:
                avatar.release()
    tiles = [column[row] for row in range(len(poses)) for column in columns]
    labels = [f"{name}: {label}" for label, _ in poses for name in names]
    output.parent.mkdir(parents=True, exist_ok=True)
    with replace_on_success(output) as staged:
        Image.fromarray(contact_sheet(tiles, labels)).save(staged.file, format="PNG")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "avatars")
    parser.add_argument("--name", help="mint one persona with this name instead of the shipped set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hair-style", choices=HAIR_STYLES)
    parser.add_argument("--shading", choices=("lit", "toon"), default="lit")
    parser.add_argument("--sheet", type=Path, help="then write a PNG of the personas in head poses")
    parser.add_argument("--overview", type=Path, help="then write a PNG of them neutral and smiling")
    parser.add_argument("--no-build", action="store_true",
                        help="mint nothing: only the sheets of the personas already in --out")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.name:
        overrides = {"hair_style": args.hair_style} if args.hair_style else {}
        todo = {args.name: (args.seed, overrides, args.shading)}
    else:
        todo = {name: (seed, {**SHIPPED_LOOK, **overrides}, shading)
                for name, (seed, overrides, shading) in SHIPPED.items()}
    for name, (seed, overrides, shading) in ({} if args.no_build else todo).items():
        model = write_persona(args.out, name, PersonaParams.from_seed(seed, **overrides),
                              shading=shading)
        logging.info("%s: %d bytes", model, model.stat().st_size)
    for poses, output in ((SHEET_POSES, args.sheet), (OVERVIEW_POSES, args.overview)):
        if output:
            logging.info("%s", write_pose_sheet(args.out, list(todo), poses, output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
