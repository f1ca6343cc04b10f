"""The expression basis: how each ARKit channel moves the 478 landmarks, in the face frame.

``basis.npz`` beside this module holds ``basis`` (52, 478, 3) float32: template centimetres of
displacement per unit of each channel, fitted by ``tools/build_photo_basis.py`` on rendered faces
tracked by our tracker. The channels in ``UNFITTED_CHANNELS`` are zero there (gaze moves the
irises directly; the tongue is drawn by the mouth interior's texture, not by landmarks).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.errors import AssetError
from engine.types import NUM_BLENDSHAPES, NUM_LANDMARKS

BASIS_PATH = Path(__file__).with_name("basis.npz")
UNFITTED_CHANNELS = (
    "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "tongueOut",
)


@lru_cache(maxsize=1)
def load_basis(path: Path = BASIS_PATH) -> np.ndarray:
    """(52, 478, 3) float32 displacement per channel, template centimetres (read-only)."""
    try:
        with np.load(path) as data:
            basis = np.asarray(data["basis"], np.float32)
    except (OSError, KeyError, ValueError) as error:
        raise AssetError(f"{path}: not a photo expression basis ({error}); rebuild it with "
                         "tools/build_photo_basis.py") from None
    if basis.shape != (NUM_BLENDSHAPES, NUM_LANDMARKS, 3):
        raise AssetError(f"{path}: basis has shape {basis.shape}, expected (52, 478, 3)")
    basis.setflags(write=False)
    return basis
