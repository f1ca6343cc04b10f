"""Contact sheets: an avatar's neutral face and each expression group, rendered as the engine does.

Each tile goes through the compositor like a live frame (background cleared, avatar drawn over
it, one readback), so a sheet shows exactly what a call would see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.expression_script import channels_of
from engine.performer import SYLLABLE_PEAK_S, speech_channels
from engine.types import BLENDSHAPE_NAMES, Expression, blendshape_vector


def _turn(yaw_degrees: float, pitch_degrees: float = 0.0) -> np.ndarray:
    """A head rotation in view space: positive yaw turns the face to the viewer's right."""
    yaw, pitch = math.radians(yaw_degrees), math.radians(pitch_degrees)
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    head = np.eye(4, dtype=np.float32)
    head[:3, :3] = (np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
                    @ np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]]))
    return head


def _tile(label: str, shapes=None, **fields) -> tuple[str, Expression]:
    values = dict(shapes if shapes is not None else channels_of(label))
    return label, Expression(blendshape_vector(values), **fields)


def _gaze(yaw_degrees: float, pitch_degrees: float) -> np.ndarray:
    return np.array([math.radians(yaw_degrees), math.radians(pitch_degrees)], np.float32)


# The tiles an artist checks, labelled with the script vocabulary's names
# (engine.expression_script): named expressions, then raw channels the named ones do not show,
# then gaze and head turns. "talk" is shown at a syllable's widest.
EXPRESSION_GROUPS: tuple[tuple[str, Expression], ...] = (
    *(_tile(name) for name in ("neutral", "blink", "wink", "smile", "laugh", "surprise", "sad",
                               "angry", "pucker")),
    _tile("talk", speech_channels(SYLLABLE_PEAK_S)),
    *(_tile(name) for name in ("jawOpen", "mouthFunnel", "tongueOut", "cheekPuff")),
    _tile("gaze right 25°", {}, gaze=_gaze(25, 0)),
    _tile("gaze up 20°", {}, gaze=_gaze(0, 20)),
    _tile("head yaw 25° pitch -8°", {}, head=_turn(25.0, -8.0)),
    _tile("head yaw -15° pitch 12°", {}, head=_turn(-15.0, 12.0)),
)
# A tile this close to the neutral one (mean absolute difference, 0-255 levels) shows nothing.
UNCHANGED_LEVELS = 0.05


def render_tiles(avatar, gl, shaders, groups=EXPRESSION_GROUPS,
                 tile: tuple[int, int] = (400, 300),
                 background: tuple[float, float, float] = (0.80, 0.84, 0.88),
                 samples: int | None = None) -> list[np.ndarray]:
    """One (h, w, 3) uint8 RGB image per group, rendered through the compositor, as an offline
    render is: anti-aliased (``samples`` MSAA for avatars that do not choose; None: the
    offline default, 4)."""
    from engine.avatar import antialias
    from engine.avatar.base import AvatarInput
    from engine.gl.compositor import Background, Compositor

    compositor = Compositor(gl.ctx, shaders, tile)
    try:
        layer = compositor.layers[0]
        layer.set_background(Background(color=background))
        tiles = []
        with antialias.offline(antialias.AUTOMATIC_SAMPLES if samples is None else samples):
            for _, expression in groups:
                target = layer.begin()
                avatar.render(AvatarInput(expression), target)
                tiles.append(compositor.finish(layer).copy())
        return tiles
    finally:
        compositor.release()


@dataclass(frozen=True)
class TileNote:
    """Printed under a tile's label; a tile that shows nothing has its label greyed too."""

    text: str
    shows_nothing: bool = False


def tile_notes(avatar, groups, tiles: list[np.ndarray]) -> list[TileNote | None]:
    """Per tile, why it may look neutral: its channels drive nothing on this model (from the
    avatar's channel mapping, when its kind has one), or it does not differ from the neutral
    tile at all (any kind). None where the tile shows what it names."""
    from engine.avatar.mapping import ExpressionMap

    mapping = getattr(avatar, "mapping", None)
    undriven = set(mapping.undriven_channels()) if isinstance(mapping, ExpressionMap) else set()
    neutral = tiles[0].astype(np.int16)
    notes = []
    for (label, expression), image in zip(groups, tiles):
        used = {BLENDSHAPE_NAMES[k] for k in np.flatnonzero(expression.blendshapes)}
        dead = used & undriven
        moves = bool(used) or not np.allclose(expression.head, np.eye(4)) \
            or bool(np.any(expression.gaze))
        if used and dead == used:
            notes.append(TileNote("drives nothing", shows_nothing=True))
        elif dead:
            notes.append(TileNote(f"{len(dead)} of {len(used)} channels drive nothing"))
        elif moves and np.abs(image.astype(np.int16) - neutral).mean() < UNCHANGED_LEVELS:
            notes.append(TileNote("no visible change", shows_nothing=True))
        else:
            notes.append(None)
    return notes


TILE_WIDTHS = (320, 480)  # a sheet's tiles are shown this wide: big enough to read a face
MAX_COLUMNS = 6
_LABEL_PX, _NOTE_PX, _CAPTION_PX, _HEADER_PX = 19, 15, 50, 48
_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
          "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def _font(size: int, bold: bool = False):
    from PIL import ImageFont

    try:
        return ImageFont.truetype(_FONTS[bold], size)
    except OSError:  # fonts-dejavu missing: Pillow's own scalable font
        return ImageFont.load_default(size)


def _columns(count: int) -> int:
    """As few rows as MAX_COLUMNS allows, filled evenly (7 tiles: 4 and 3, not 6 and 1)."""
    rows = -(-count // MAX_COLUMNS)
    return -(-count // rows)


def contact_sheet(tiles: list[np.ndarray], labels: list[str],
                  notes: list[TileNote | None] | None = None, badge: str | None = None,
                  title: str | None = None) -> np.ndarray:
    """The tiles in a grid of at most MAX_COLUMNS, shown TILE_WIDTHS wide, each with its label
    (and a greyed note where ``notes`` has one) under it; a header with ``title`` and the
    disclosure ``badge``, once for the sheet. The last row is centred: no empty places."""
    from PIL import Image, ImageDraw

    from engine.safety.badge import render_badge

    height, width = tiles[0].shape[:2]
    shown_w = min(max(width, TILE_WIDTHS[0]), TILE_WIDTHS[1])
    shown_h = round(height * shown_w / width)
    columns = _columns(len(tiles))
    rows = -(-len(tiles) // columns)
    header = _HEADER_PX if (badge or title) else 0
    gap = 8
    sheet = Image.new("RGB", (columns * (shown_w + gap) + gap,
                              header + rows * (shown_h + _CAPTION_PX) + gap), (246, 246, 246))
    draw = ImageDraw.Draw(sheet)
    label_font, note_font = _font(_LABEL_PX, bold=True), _font(_NOTE_PX)
    notes = notes or [None] * len(tiles)
    for index, (tile, label, note) in enumerate(zip(tiles, labels, notes)):
        row, column = divmod(index, columns)
        in_row = min(columns, len(tiles) - row * columns)
        x = gap + (columns - in_row) * (shown_w + gap) // 2 + column * (shown_w + gap)
        y = header + row * (shown_h + _CAPTION_PX)
        picture = Image.fromarray(tile)
        if picture.size != (shown_w, shown_h):
            picture = picture.resize((shown_w, shown_h), Image.LANCZOS)
        sheet.paste(picture, (x, y))
        draw.text((x + 4, y + shown_h + 4), label, font=label_font,
                  fill=(150, 150, 150) if note and note.shows_nothing else (25, 25, 30))
        if note:
            draw.text((x + 4, y + shown_h + 6 + _LABEL_PX), note.text, font=note_font,
                      fill=(170, 60, 50))
    if title:
        draw.text((gap + 4, (header - _LABEL_PX) // 2), title, font=label_font, fill=(25, 25, 30))
    if badge:
        pill = render_badge(badge, header - 16)
        alpha = pill[:, :, 3:4].astype(np.float32) / 255.0
        x = sheet.width - pill.shape[1] - gap
        area = np.asarray(sheet.crop((x, 8, x + pill.shape[1], 8 + pill.shape[0])), np.float32)
        # Premultiplied: out = colour + background × (1 − alpha).
        blended = pill[:, :, :3].astype(np.float32) + area * (1.0 - alpha)
        sheet.paste(Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8)), (x, 8))
    return np.asarray(sheet)


def write_sheet(avatar, gl, shaders, output: Path, groups=EXPRESSION_GROUPS,
                tile: tuple[int, int] = (400, 300), title: str | None = None,
                badge: str | None = "AI avatar") -> Path:
    """Render every group and save the sheet as a PNG, marking tiles that show nothing."""
    from PIL import Image

    from engine.safe_write import replace_on_success

    tiles = render_tiles(avatar, gl, shaders, groups, tile)
    sheet = contact_sheet(tiles, [label for label, _ in groups],
                          tile_notes(avatar, groups, tiles), badge=badge, title=title)
    output.parent.mkdir(parents=True, exist_ok=True)
    with replace_on_success(output) as staged:
        Image.fromarray(sheet).save(staged.file, format="PNG")
    return output
