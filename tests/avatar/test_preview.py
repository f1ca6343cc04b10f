"""`persona avatar preview`: readable contact sheets that mark tiles showing nothing."""

from __future__ import annotations

import numpy as np
from PIL import Image

from engine.avatar.loader import open_avatar
from engine.avatar.preview import (EXPRESSION_GROUPS, MAX_COLUMNS, contact_sheet, render_tiles,
                                   tile_notes, write_sheet)


def _notes(avatar, gl, shaders) -> dict[str, str | None]:
    tiles = render_tiles(avatar, gl, shaders, tile=(160, 120))
    return {label: note and note.text
            for (label, _), note in zip(EXPRESSION_GROUPS, tile_notes(avatar, EXPRESSION_GROUPS,
                                                                      tiles))}


def test_godette_marks_the_tiles_that_drive_nothing(gl, shaders, shared_asset):
    avatar = open_avatar(shared_asset("vrm/Godette_vrm_v4.vrm"), gl, shaders).avatar
    try:
        notes = _notes(avatar, gl, shaders)
    finally:
        avatar.release()
    assert notes["tongueOut"] == notes["cheekPuff"] == "drives nothing"
    assert notes["jawOpen"] is None and notes["blink"] is None and notes["neutral"] is None
    assert notes["surprise"] == "5 of 7 channels drive nothing"  # browInnerUp etc.: no shapes
    assert notes["head yaw 25° pitch -8°"] is None


def test_unmapped_model_marks_every_expression_but_not_the_head(gl, shaders, shared_asset):
    avatar = open_avatar(shared_asset("gltf/SimpleMorph/SimpleMorph.gltf"), gl, shaders).avatar
    try:
        notes = _notes(avatar, gl, shaders)
    finally:
        avatar.release()
    expressions = [label for label, _ in EXPRESSION_GROUPS[1:14]]
    assert all(notes[label] == "drives nothing" for label in expressions)
    # A triangle has no eyes: gaze shows nothing, found from the pixels alone.
    assert notes["gaze right 25°"] == "no visible change"
    assert notes["head yaw 25° pitch -8°"] is None


def test_sheet_is_a_full_grid_of_readable_tiles_with_one_badge(gl, shaders, tmp_path):
    avatar = open_avatar("default", gl, shaders).avatar
    try:
        path = write_sheet(avatar, gl, shaders, tmp_path / "sheet.png")
    finally:
        avatar.release()
    sheet = np.asarray(Image.open(path).convert("RGB"))
    count = len(EXPRESSION_GROUPS)
    assert count % MAX_COLUMNS == 0  # 18 tiles: three full rows of six
    assert sheet.shape[1] == MAX_COLUMNS * (400 + 8) + 8  # tiles at their 400 px, not shrunk
    assert sheet.shape[0] < 1200


def test_grid_leaves_no_empty_places_and_badges_the_sheet_once():
    tiles = [np.full((90, 160, 3), 60 + 20 * n, np.uint8) for n in range(7)]
    labels = [f"t{n}" for n in range(7)]
    plain = contact_sheet(tiles, labels)
    badged = contact_sheet(tiles, labels, badge="AI avatar")
    # Seven tiles: four then three, shown 320 wide (small tiles are enlarged to read).
    assert plain.shape[1] == 4 * (320 + 8) + 8
    badge_only = np.abs(badged[48:].astype(int) - np.pad(plain, ((48, 0), (0, 0), (0, 0)))[48:]
                        .astype(int))
    assert badged.shape[0] == plain.shape[0] + 48  # a header carries the badge
    assert badge_only.max() == 0, "no tile carries a badge"
    header = badged[:48].astype(int)
    assert (header.sum(axis=2) < 300).sum() > 200, "the dark badge pill is in the header"
    # The last row is centred: its first tile starts half a tile in.
    second_row = badged[48 + 180 + 50 + 20]
    assert abs(int(second_row[8 + 40].sum()) - 3 * 246) < 10  # background, not a tile
    assert second_row[8 + 164 + 40].sum() != 3 * 246
