"""Mint generated personas into avatars/: ``<name>/<name>.glb`` plus ``avatar.toml``.

Each persona is drawn from a seed (see engine/avatar/procedural.py), so the same seed always gives
the same face, and no face belongs to a real person. With no arguments the shipped set is
rebuilt; ``--name NAME --seed N`` mints one more, with optional overrides.

Usage:
    python tools/make_personas.py                      # rebuild the shipped personas
    python tools/make_personas.py --name mine --seed 1234 --hair-style bob
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from engine.avatar.procedural import HAIR_STYLES, PersonaParams, write_persona
from engine.resources import PROJECT_ROOT

# The shipped personas: name → (seed, overrides, shading). The scenes use default, toon and
# anonymous; "default" is what the demo shows.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "avatars")
    parser.add_argument("--name", help="mint one persona with this name instead of the shipped set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hair-style", choices=HAIR_STYLES)
    parser.add_argument("--shading", choices=("lit", "toon"), default="lit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.name:
        overrides = {"hair_style": args.hair_style} if args.hair_style else {}
        todo = {args.name: (args.seed, overrides, args.shading)}
    else:
        todo = SHIPPED
    for name, (seed, overrides, shading) in todo.items():
        model = write_persona(args.out, name, PersonaParams.from_seed(seed, **overrides),
                              shading=shading)
        logging.info("%s: %d bytes", model, model.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
