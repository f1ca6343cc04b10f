"""Anti-aliasing: on by itself in offline renders (contact sheets, ``persona render``), off live on
llvmpipe unless the avatar asks for it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.avatar import antialias
from engine.avatar.gltf import load_model
from engine.avatar.mapping import ExpressionMap
from engine.avatar.preview import render_tiles
from engine.avatar.renderer import ModelRenderer
from engine.types import Expression
from tests.avatar.test_mtoon import build_vrm

FLAT = {"shadeColorFactor": [1.0, 1.0, 1.0]}  # lit and shade alike: one flat colour


def _blended_edge_pixels(frame: np.ndarray) -> int:
    """Pixels along the sphere's outline whose colour lies clearly between the background (the
    corner's) and the sphere's own (the centre's): partly covered pixels, which only
    anti-aliasing makes."""
    frame = frame.astype(float)
    background = frame[2, 2]
    inside = frame[frame.shape[0] // 2, frame.shape[1] // 2]
    gap = inside - background
    channel = int(np.argmax(np.abs(gap)))
    share = (frame[:, :, channel] - background[channel]) / gap[channel]  # 0 background, 1 inside
    return int(((share > 0.15) & (share < 0.85)).sum())


@pytest.fixture
def ball(gl, shaders, tmp_path):
    build_vrm(tmp_path / "ball.vrm", FLAT)
    model = load_model(tmp_path / "ball.vrm")
    renderer = ModelRenderer(gl.ctx, shaders, model, ExpressionMap(model, {}))
    yield renderer
    renderer.release()


def test_contact_sheet_tiles_are_antialiased(gl, shaders, ball):
    neutral = ((("neutral", Expression()),))
    smooth, = render_tiles(ball, gl, shaders, neutral, tile=(160, 120))
    jagged, = render_tiles(ball, gl, shaders, neutral, tile=(160, 120), samples=0)
    assert _blended_edge_pixels(jagged) == 0  # every pixel is background or sphere
    assert _blended_edge_pixels(smooth) > 100  # most of the outline's ~250 pixels
    # Only the edge changes: the sphere's inside and the background are as before.
    assert (np.abs(smooth.astype(int) - jagged).sum(axis=2) > 6).sum() < 600


def test_live_frames_on_llvmpipe_stay_aliased_unless_the_avatar_asks(gl, draw, ball):
    assert antialias.software_renderer(gl.ctx)
    assert antialias.automatic_samples(gl.ctx) == 0
    live = draw(ball, Expression())
    with antialias.offline():
        assert antialias.automatic_samples(gl.ctx) == antialias.AUTOMATIC_SAMPLES
        offline = draw(ball, Expression())
    with antialias.offline(0):
        assert antialias.automatic_samples(gl.ctx) == 0
    ball.antialias = 4
    asked = draw(ball, Expression())
    ball.antialias = 0  # the artist turned it off: off offline too (and on a real GPU)
    with antialias.offline():
        refused = draw(ball, Expression())
    ball.antialias = None
    assert _blended_edge_pixels(live) == 0 and _blended_edge_pixels(refused) == 0
    assert _blended_edge_pixels(offline) > 50 and _blended_edge_pixels(asked) > 50
    np.testing.assert_array_equal(offline, asked)  # the same 4 samples either way
    with pytest.raises(ValueError, match="antialias"):
        with antialias.offline(3):
            pass


def test_persona_render_is_antialiased(gl, tmp_path):
    from engine.cli import main

    folder = tmp_path / "ball"
    folder.mkdir()
    build_vrm(folder / "ball.vrm", FLAT)
    (folder / "avatar.toml").write_text('kind = "gltf"\nmodel = "ball.vrm"\n\n'
                                        '[consent]\nlikeness = "synthetic"\n')
    output = tmp_path / "sheet.png"
    try:
        assert main(["render", "--avatar", str(folder), "--script", "neutral@0.1", "--size",
                     "320x240", "-o", str(output)]) == 0
    finally:
        gl.ctx.__enter__()  # the render made its own context current; the session's is again
    sheet = np.asarray(Image.open(output).convert("RGB"))
    tile = sheet[48:48 + 240, 8:8 + 320]  # under the header, one tile (preview.contact_sheet)
    assert _blended_edge_pixels(tile) > 100
