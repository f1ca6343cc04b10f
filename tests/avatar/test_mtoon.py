"""MToon as authored: shade, rim and emission colours, their VRM colour binds, and the outline
width mask. Most checks draw a VRM 1.0 sphere built here with pygltflib, so each setting can be
turned on alone; Godette (VRM 0.x) shows that the 0.x properties are read and drawn too."""

from __future__ import annotations

import io
import math

import numpy as np
import pygltflib
import pytest
from PIL import Image

from engine.avatar.gltf import MToon, load_model
from engine.avatar.mapping import ExpressionMap
from engine.avatar.renderer import ModelRenderer
from engine.types import Expression
from tests.avatar.pixels import foreground

GODETTE = "vrm/Godette_vrm_v4.vrm"


def _sphere(rows: int = 32, columns: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions, uvs, indices) of a unit-radius sphere; v runs from the top (0) down."""
    v, u = np.meshgrid(np.linspace(0, 1, rows + 1), np.linspace(0, 1, columns + 1), indexing="ij")
    polar, azimuth = v * math.pi, u * 2 * math.pi
    positions = np.stack([np.sin(polar) * np.sin(azimuth), np.cos(polar),
                          np.sin(polar) * np.cos(azimuth)], axis=-1).reshape(-1, 3)
    corner = (np.arange(rows)[:, None] * (columns + 1) + np.arange(columns)[None]).reshape(-1)
    quads = np.stack([corner, corner + columns + 1, corner + 1,
                      corner + 1, corner + columns + 1, corner + columns + 2], axis=1)
    return (positions.astype(np.float32), np.stack([u, v], -1).reshape(-1, 2).astype(np.float32),
            quads.reshape(-1).astype(np.uint32))


def build_vrm(path, mtoon: dict, base=(1.0, 1.0, 1.0, 1.0), emissive=(0.0, 0.0, 0.0),
              binds: list[dict] | None = None, mask: np.ndarray | None = None) -> None:
    """A VRM 1.0 file: one MToon sphere; ``binds`` are materialColorBinds of the "aa"
    expression (jawOpen drives it); ``mask`` (H, W) uint8 is the outline width texture's
    green channel."""
    positions, uvs, indices = _sphere()
    blobs = [positions.tobytes(), positions.tobytes(), uvs.tobytes(), indices.tobytes()]
    mtoon = dict(mtoon, specVersion="1.0")
    images, textures = [], []
    if mask is not None:
        png = io.BytesIO()
        rgb = np.zeros((*mask.shape, 3), np.uint8)
        rgb[:, :, 1] = mask
        Image.fromarray(rgb).save(png, format="PNG")
        blobs.append(png.getvalue())
        images.append(pygltflib.Image(bufferView=4, mimeType="image/png"))
        textures.append(pygltflib.Texture(source=0))
        mtoon["outlineWidthMultiplyTexture"] = {"index": 0}
    views, offset = [], 0
    for blob in blobs:
        views.append(pygltflib.BufferView(buffer=0, byteOffset=offset, byteLength=len(blob)))
        offset += -(-len(blob) // 4) * 4
    data = b"".join(blob + b"\0" * (-len(blob) % 4) for blob in blobs)
    count = len(positions)
    gltf = pygltflib.GLTF2(
        asset=pygltflib.Asset(version="2.0"),
        extensionsUsed=["VRMC_vrm", "VRMC_materials_mtoon"],
        scene=0, scenes=[pygltflib.Scene(nodes=[0])],
        nodes=[pygltflib.Node(mesh=0, name="ball")],
        meshes=[pygltflib.Mesh(primitives=[pygltflib.Primitive(
            attributes=pygltflib.Attributes(POSITION=0, NORMAL=1, TEXCOORD_0=2), indices=3,
            material=0)])],
        materials=[pygltflib.Material(
            name="ball", pbrMetallicRoughness=pygltflib.PbrMetallicRoughness(baseColorFactor=list(base)),
            emissiveFactor=list(emissive), extensions={"VRMC_materials_mtoon": mtoon})],
        accessors=[
            pygltflib.Accessor(bufferView=0, componentType=5126, count=count, type="VEC3",
                               min=[-1.0] * 3, max=[1.0] * 3),
            pygltflib.Accessor(bufferView=1, componentType=5126, count=count, type="VEC3"),
            pygltflib.Accessor(bufferView=2, componentType=5126, count=count, type="VEC2"),
            pygltflib.Accessor(bufferView=3, componentType=5125, count=len(indices), type="SCALAR")],
        bufferViews=views, buffers=[pygltflib.Buffer(byteLength=len(data))],
        images=images, textures=textures,
        extensions={"VRMC_vrm": {"specVersion": "1.0", "expressions": {"preset": {
            "aa": {"materialColorBinds": binds or []}}}}},
    )
    gltf.set_binary_blob(data)
    gltf.save_binary(str(path))


@pytest.fixture
def render(gl, shaders, draw, tmp_path):
    """``render(mtoon settings, **build_vrm options, outline=False, jaw=0.0)`` → frame."""
    made = []

    def render_one(mtoon: dict, outline: bool = False, jaw: float = 0.0, **options) -> np.ndarray:
        path = tmp_path / f"ball{len(made)}.vrm"
        build_vrm(path, mtoon, **options)
        model = load_model(path)
        renderer = ModelRenderer(gl.ctx, shaders, model, ExpressionMap(model, {}))
        made.append(renderer)
        renderer.outline = outline
        return draw(renderer, jawOpen=jaw) if jaw else draw(renderer, Expression())

    yield render_one
    for renderer in made:
        renderer.release()


def _ball(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mask, dx, dy): the sphere's pixels and their offsets from its centre in radii
    (+dx right, +dy up)."""
    mask = foreground(frame)
    ys, xs = np.nonzero(mask)
    cx, cy, radius = xs.mean(), ys.mean(), (xs.max() - xs.min()) / 2
    grid_y, grid_x = np.mgrid[: frame.shape[0], : frame.shape[1]]
    return mask, (grid_x - cx) / radius, (cy - grid_y) / radius


def test_mtoon_settings_are_read(tmp_path, shared_asset):
    godette = {m.name: m for m in load_model(shared_asset(GODETTE)).materials}
    body = godette["Body"].mtoon
    np.testing.assert_allclose(body.shade_color[:3], [0.5, 0.786, 1.0], atol=1e-3)
    np.testing.assert_allclose(body.rim_color[:3], [0.031, 0.091, 0.159], atol=1e-3)
    assert body.shade_smooth and body.rim_power == pytest.approx(3.0)
    # _ShadeShift -0.239, _ShadeToony 0.8: smoothstep from -0.239 to -0.039.
    assert (body.shade_from, body.shade_to) == pytest.approx((-0.239, -0.039), abs=1e-3)
    assert godette["Backpack"].mtoon is None  # a glTF material in a VRM: the engine's toon

    path = tmp_path / "ball.vrm"
    build_vrm(path, {"shadeColorFactor": [1.0, 0.0, 0.0], "shadingShiftFactor": 0.2,
                     "shadingToonyFactor": 0.5, "parametricRimColorFactor": [0.0, 1.0, 0.0]},
              emissive=(0.0, 0.0, 0.2))
    material = load_model(path).materials[0]
    assert not material.mtoon.shade_smooth
    # linearstep(-1 + 0.5, 1 - 0.5) of dot(n, l) + 0.2.
    assert (material.mtoon.shade_from, material.mtoon.shade_to) == pytest.approx((-0.7, 0.3))
    assert material.mtoon.rim_power == 1.0 and material.mtoon.rim_lighting_mix == 0.0  # defaults
    assert material.emission[2] == pytest.approx(0.484, abs=1e-3)  # linear 0.2, sRGB-encoded
    assert MToon().shade_color.tolist() == [1, 1, 1, 1]


def test_shade_colour_fills_the_side_away_from_the_light(render):
    red = render({"shadeColorFactor": [1.0, 0.0, 0.0]})
    green = render({"shadeColorFactor": [0.0, 1.0, 0.0]})
    mask, dx, dy = _ball(red)
    differs = mask & (np.abs(red.astype(int) - green).sum(axis=2) > 60)
    assert differs.sum() > 0.1 * mask.sum()
    # The key light is at the upper left: the shade lies at the lower right, towards the limb.
    assert (dx[differs] > 0).mean() > 0.8 and (dy[differs] < 0).mean() > 0.8
    lit = mask & (dx < -0.2) & (dx > -0.5) & (dy > 0.2) & (dy < 0.5)
    np.testing.assert_array_equal(red[lit], green[lit])
    assert red[lit].min() > 200  # lit: the white base colour
    r, g, b = red[differs].astype(int).T
    assert np.median(r) > 150 and np.median(g) < 40 and np.median(b) < 40
    assert np.median(green[differs][:, 1]) > 150 and np.median(green[differs][:, 0]) < 40


def test_rim_and_emission_are_added(render):
    grey, dark = (0.05, 0.05, 0.05, 1.0), {"shadeColorFactor": [0.05, 0.05, 0.05]}
    plain = render(dark, base=grey).astype(int)
    rim = render({**dark, "parametricRimColorFactor": [0.0, 1.0, 0.0],
                  "parametricRimFresnelPowerFactor": 2.0}, base=grey).astype(int)
    glow = render(dark, base=grey, emissive=(0.5, 0.0, 0.0)).astype(int)
    mask, dx, dy = _ball(plain)
    distance = np.hypot(dx, dy)
    centre, edge = mask & (distance < 0.3), mask & (distance > 0.8) & (distance < 0.95)
    greener = rim[:, :, 1] - plain[:, :, 1]
    assert greener[edge].mean() > greener[centre].mean() + 30  # fresnel: strongest at the limb
    assert np.abs(rim[:, :, [0, 2]] - plain[:, :, [0, 2]]).max() <= 2
    redder = glow[:, :, 0] - plain[:, :, 0]
    assert redder[mask].min() > 80  # emission everywhere, light or shade
    assert np.abs(glow[:, :, 1:] - plain[:, :, 1:])[mask].max() <= 2


def test_shade_rim_and_emission_binds_follow_their_expression(render):
    binds = [{"material": 0, "type": "shadeColor", "targetValue": [0.0, 0.0, 1.0, 1.0]},
             {"material": 0, "type": "emissionColor", "targetValue": [0.0, 0.3, 0.0, 1.0]},
             {"material": 0, "type": "rimColor", "targetValue": [1.0, 0.0, 0.0, 1.0]}]
    settings = {"shadeColorFactor": [1.0, 0.0, 0.0]}
    grey = (0.05, 0.05, 0.05, 1.0)
    rest, half, full = (render(settings, base=grey, binds=binds, jaw=jaw).astype(int)
                        for jaw in (0.0, 0.5, 1.0))
    mask, dx, dy = _ball(rest)
    shade = mask & (dx > 0.5) & (dy < -0.5)
    assert shade.sum() > 20
    blue = [frame[shade][:, 2].mean() for frame in (rest, half, full)]
    assert blue[0] + 20 < blue[1] < blue[2] - 20  # the shade turns from red to blue
    centre = mask & (np.hypot(dx, dy) < 0.3)
    assert full[centre][:, 1].mean() > rest[centre][:, 1].mean() + 60  # emission turned on
    edge = mask & (np.hypot(dx, dy) > 0.85) & (dx < 0)  # the lit limb: the rim shows there
    assert full[edge][:, 0].mean() > rest[edge][:, 0].mean() + 20


def test_outline_width_mask_limits_the_outline(render):
    outline = {"outlineWidthMode": "screenCoordinates", "outlineWidthFactor": 0.02,
               "outlineColorFactor": [1.0, 0.0, 0.0], "outlineLightingMixFactor": 0.0}
    plain = render(outline)
    everywhere = render(outline, outline=True)
    mask = np.zeros((16, 16), np.uint8)
    mask[8:] = 255  # the texture's lower half: the sphere's lower half (v runs downwards)
    lower_only = render(outline, outline=True, mask=mask)
    body, dx, dy = _ball(plain)
    for frame, lower, upper in ((everywhere, True, True), (lower_only, True, False)):
        grown = foreground(frame) & ~body
        assert (grown & (dy < -0.3)).sum() > 50 if lower else True
        assert ((grown & (dy > 0.3)).sum() > 50) == upper
        r, g, b = frame[grown].astype(int).T
        assert np.median(r) > 200 and np.median(g) < 30  # the flat outline colour


def test_godette_body_is_shaded_with_its_own_shade_colour(gl, shaders, draw, shared_asset):
    model = load_model(shared_asset(GODETTE))
    renderer = ModelRenderer(gl.ctx, shaders, model, ExpressionMap(model, {}))
    try:
        authored = draw(renderer, Expression()).astype(int)
    finally:
        renderer.release()
    body = next(m for m in model.materials if m.name == "Body")
    body.mtoon.shade_color = np.array([1.0, 0.0, 0.0, 1.0], np.float32)
    renderer = ModelRenderer(gl.ctx, shaders, model, ExpressionMap(model, {}))
    try:
        red = draw(renderer, Expression()).astype(int)
    finally:
        renderer.release()
    differs = np.abs(red - authored).sum(axis=2) > 30
    assert differs.sum() > 200  # the shaded side of the body: arms, flanks, under the hair
    change = (red[differs] - authored[differs]).mean(axis=0)
    assert change[0] > -5 and change[1] < -30 and change[2] < -30  # its light blue turned red
