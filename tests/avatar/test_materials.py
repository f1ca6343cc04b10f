"""Materials as authored, on the real Godette: MToon outlines (only when asked), VRM material
colour binds, and alpha-blended parts seen from behind."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from engine.avatar.gltf import ColorBind, load_model
from engine.avatar.mapping import ExpressionMap
from engine.avatar.renderer import ModelRenderer
from engine.types import Expression
from tests.avatar.pixels import changed, foreground

GODETTE = "vrm/Godette_vrm_v4.vrm"


def _renderer(gl, shaders, model) -> ModelRenderer:
    return ModelRenderer(gl.ctx, shaders, model, ExpressionMap(model, {}))


def test_mtoon_outline_settings_are_read(shared_asset):
    model = load_model(shared_asset(GODETTE))
    by_name = {m.name: m for m in model.materials}
    # MToon 0.x: _OutlineWidthMode 2 (screen), _OutlineWidth 0.25 / 0.5 hundredths of the
    # half-height, i.e. 0.125 % / 0.25 % of the frame's height.
    assert by_name["Face"].outline_mode == by_name["Body"].outline_mode == "screen"
    assert by_name["Face"].outline_width == pytest.approx(0.00125)
    assert by_name["Body"].outline_width == pytest.approx(0.0025)
    np.testing.assert_allclose(by_name["Body"].outline_color[:3], [0.137, 0.792, 0.698], atol=1e-3)
    assert by_name["Body"].outline_lighting_mix == pytest.approx(0.875)
    assert by_name["GodotLogo"].outline_mode == "none"


def test_outline_pass_is_drawn_only_when_asked(gl, shaders, draw, shared_asset):
    model = load_model(shared_asset(GODETTE))
    renderer = _renderer(gl, shaders, model)
    try:
        plain = draw(renderer, Expression())
        again = draw(renderer, Expression())
        renderer.outline = True
        outlined = draw(renderer, Expression())
        renderer.outline = False
        back_off = draw(renderer, Expression())
    finally:
        renderer.release()
    np.testing.assert_array_equal(plain, again)
    np.testing.assert_array_equal(plain, back_off)
    grown = foreground(outlined) & ~foreground(plain)
    assert grown.sum() > 100, "the hull shows beyond the silhouette"
    # Inside the silhouette the outline only shows along creases: most pixels are the same.
    assert changed(plain, outlined).sum() < 0.15 * foreground(plain).sum()
    # Outline pixels beyond the silhouette take the body's outline colour (teal), lit.
    r, g, b = (outlined[grown][:, c].astype(int) for c in range(3))
    assert np.median(g) > np.median(r) + 40


def test_material_colour_binds_follow_their_expression(gl, shaders, draw, shared_asset):
    model = load_model(shared_asset(GODETTE))
    body = next(m for m, material in enumerate(model.materials) if material.name == "Body")
    red = np.array([1.0, 0.0, 0.0, 1.0], np.float32)
    model.expressions["aa"].color_binds.append(ColorBind(body, "color", red))  # jawOpen drives aa
    renderer = _renderer(gl, shaders, model)
    try:
        neutral = draw(renderer, Expression())
        half = draw(renderer, jawOpen=0.5)
        full = draw(renderer, jawOpen=1.0)
    finally:
        renderer.release()

    def greenness(frame):  # a red base colour takes the green out of the body's texture
        return frame[foreground(frame)][:, 1].astype(float).mean()

    assert greenness(neutral) > greenness(half) + 5 > greenness(full) + 10


def _logo_pixels(gl, shaders, draw, shared_asset, yaw: float) -> int:
    """Pixels that change when Godette's Godot logo (a BLEND, double-sided decal on her
    collar) is made fully transparent, seen with the camera turned by ``yaw``."""
    frames = []
    for transparent in (False, True):
        model = load_model(shared_asset(GODETTE))
        logo = next(m for m, material in enumerate(model.materials) if material.name == "GodotLogo")
        assert model.materials[logo].alpha_mode == "BLEND" and model.materials[logo].double_sided
        if transparent:
            model.materials[logo].base_color = np.zeros(4, np.float32)
        renderer = _renderer(gl, shaders, model)
        renderer.zoom, renderer.offset, renderer.yaw = 1.6, (0.0, 0.45), yaw
        try:
            frames.append(draw(renderer, Expression()))
        finally:
            renderer.release()
    return int(changed(*frames).sum())


def test_blended_decal_shows_from_the_front_and_is_hidden_from_behind(gl, shaders, draw,
                                                                      shared_asset):
    """The logo's triangles face into the body, so it shows from the front only because it is
    double-sided; blended after the opaque parts, it draws over the collar from the front and
    is depth-tested away behind the body when the camera goes round to the back."""
    assert _logo_pixels(gl, shaders, draw, shared_asset, 0.0) > 30
    assert _logo_pixels(gl, shaders, draw, shared_asset, math.pi) == 0


def test_msaa_softens_edges_only_when_asked(gl, shaders, draw, shared_asset):
    model = load_model(shared_asset(GODETTE))
    renderer = _renderer(gl, shaders, model)
    try:
        plain = draw(renderer, Expression())
        renderer.antialias = 4
        smooth = draw(renderer, Expression())
        renderer.antialias = None
        again = draw(renderer, Expression())
        with pytest.raises(ValueError, match="antialias"):
            renderer.antialias = 3
    finally:
        renderer.release()
    np.testing.assert_array_equal(plain, again)

    body = foreground(plain).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    silhouette = (cv2.dilate(body, kernel) - cv2.erode(body, kernel)).astype(bool)
    inside = cv2.erode(body, kernel, iterations=3).astype(bool)
    differs = changed(plain, smooth, threshold=30)
    # MSAA blends the silhouette with the background; inside, only geometric edges change.
    assert (differs & silhouette).sum() > 0.3 * silhouette.sum()
    assert (differs & inside).sum() < 0.1 * inside.sum()


def test_avatar_toml_asks_for_outline_and_antialias(tmp_path):
    from engine.avatar.gltf_kind import configure
    from engine.errors import ConfigError

    model = tmp_path / "model.vrm"
    model.write_bytes(b"glTF")  # configure checks the path only; the model is read later
    settings = configure(tmp_path, {"model": "model.vrm", "outline": True, "antialias": 4}, "avatar.toml")
    assert settings.outline and settings.antialias == 4
    with pytest.raises(ConfigError, match="outline"):
        configure(tmp_path, {"model": "model.vrm", "outline": "yes"}, "avatar.toml")
    assert configure(tmp_path, {"model": "model.vrm"}, "avatar.toml").antialias is None
    with pytest.raises(ConfigError, match=r"antialias: 3"):
        configure(tmp_path, {"model": "model.vrm", "antialias": 3}, "avatar.toml")
