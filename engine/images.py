"""The one bounded image reader, for pictures someone else may have made: backgrounds, still
sources and the textures inside models.

A few hundred bytes of PNG can claim 20000x20000 pixels, and a 0.5 MB one can decode to a
gigabyte, so the size is checked before any pixel is decoded: the file is read as a regular
file of bounded length (``engine.safety.regular_file``), Pillow reads only the header on
``Image.open``, and pictures above ``max_pixels`` or ``max_side`` are refused there. Every
Pillow failure, its own decompression-bomb warning and error included, becomes one
``AssetError`` naming the file.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import AssetError
from engine.safety import regular_file

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo is fine; a decompression bomb is far above
# Formats people actually send; Pillow's rarer plugins (EPS runs Ghostscript) stay out.
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
# warnings.catch_warnings changes process-wide filters; scenes load on a worker thread while
# the loop may read another picture, so opening here takes turns.
_WARNINGS_LOCK = threading.Lock()


def read_image(path: str | os.PathLike, mode: str = "RGB", *, max_pixels: int = MAX_PIXELS,
               max_side: int | None = None, max_bytes: int = MAX_FILE_BYTES) -> Image:
    """The picture in the file ``path``, decoded and converted to ``mode``; AssetError naming
    the file when it is not a regular file, too large, or not a readable image."""
    path = Path(path)
    data = regular_file.read_bytes(path, max_bytes,
                                   lambda reason: AssetError(f"image {path}: {reason}"))
    return decode_image(data, f"image {path}", mode, max_pixels=max_pixels, max_side=max_side)


def decode_image(data: bytes, origin: str, mode: str = "RGB", *, max_pixels: int = MAX_PIXELS,
                 max_side: int | None = None, formats: tuple[str, ...] = FORMATS) -> Image:
    """``data`` decoded and converted to ``mode``; AssetError ``"origin: what"`` when it is too
    large (judged from the header, before decoding) or not a readable image."""
    from PIL import Image as PILImage

    try:
        # Pillow warns of a possible decompression bomb (and prints the warning) between its
        # limit and twice that; here that is one more way of being too large, so an error.
        # Only opening checks it, and opening reads just the header, so the lock is brief.
        with _WARNINGS_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            picture = PILImage.open(io.BytesIO(data), formats=list(formats))
        with picture:
            width, height = picture.size  # from the header: nothing is decoded yet
            if max_side is not None and max(width, height) > max_side:
                raise AssetError(f"{origin}: {width}x{height} exceeds {max_side} pixels a side")
            if width * height > max_pixels:
                raise AssetError(f"{origin}: {width}x{height} exceeds the limit of "
                                 f"{max_pixels / 1e6:g} megapixels")
            return picture.convert(mode)  # decodes; a new image that outlives the file
    except AssetError:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as error:
        raise AssetError(f"{origin}: too large to decode ({error})") from None
    except PILImage.UnidentifiedImageError:
        raise AssetError(f"{origin}: not a readable image (not {', '.join(formats)})") from None
    except Exception as error:  # Pillow's plugins raise OSError, SyntaxError, ValueError,
        # struct.error, IndexError... on malformed files: each is this file's fault, not a bug.
        raise AssetError(f"{origin}: not a readable image ({type(error).__name__}: "
                         f"{error})") from None
