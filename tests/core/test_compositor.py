"""Compositor: backgrounds, crossfade, badge and watermark land where they should."""

import numpy as np
import pytest

from engine.gl.compositor import Background, Compositor, Overlay, cover_fit
from engine.gl.programs import ShaderLibrary

SIZE = (320, 180)


@pytest.fixture
def compositor(gl):
    shaders = ShaderLibrary(gl.ctx)
    compositor = Compositor(gl.ctx, shaders, SIZE)
    yield compositor
    compositor.release()
    shaders.release()


def test_colour_background_fills_the_frame(compositor):
    layer = compositor.layers[0]
    layer.set_background(Background(color=(1.0, 0.0, 0.0)))
    layer.begin()
    frame = compositor.finish(layer)
    assert frame.shape == (180, 320, 3) and frame.dtype == np.uint8
    assert (frame == (255, 0, 0)).all()


def test_image_background_keeps_its_orientation(compositor):
    image = np.zeros((90, 160, 3), np.uint8)
    image[:45] = (255, 0, 0)  # top half red
    image[45:] = (0, 0, 255)  # bottom half blue
    layer = compositor.layers[0]
    layer.set_background(Background(image=image))
    layer.begin()
    frame = compositor.finish(layer)
    assert tuple(frame[10, 160]) == (255, 0, 0)
    assert tuple(frame[170, 160]) == (0, 0, 255)


def test_wide_image_background_is_cropped_to_its_middle_and_blurred(compositor):
    image = np.zeros((90, 640, 3), np.uint8)  # 64:9 on a 16:9 frame: the middle quarter shows
    image[:, :240] = (255, 0, 0)
    image[:, 240:400] = (0, 255, 0)
    image[:, 400:] = (0, 0, 255)
    layer = compositor.layers[0]
    layer.set_background(Background(image=image))
    layer.begin()
    sharp = compositor.finish(layer).copy()
    assert (sharp[:, 5:-5] == (0, 255, 0)).all()  # no red or blue: cropped, not squeezed
    image[:, 320:] = (0, 0, 255)  # an edge in the middle of the frame
    layer.set_background(Background(image=image, blur=4))
    layer.begin()
    soft = compositor.finish(layer).astype(int)
    step = np.abs(np.diff(soft[90, :, 1]))
    # σ = 2^(4 − 1) px at 720p is 2 px at 180p: a ramp over several pixels, not a 255 step.
    assert step.max() < 80 and np.count_nonzero(step > 5) >= 5


def test_crossfade_mixes_outgoing_and_incoming(compositor):
    incoming, outgoing = compositor.layers
    incoming.set_background(Background(color=(1.0, 1.0, 1.0)))
    outgoing.set_background(Background(color=(0.0, 0.0, 0.0)))
    incoming.begin()
    outgoing.begin()
    frame = compositor.finish(incoming, outgoing, crossfade=0.25)
    assert np.abs(frame.astype(int) - 191).max() <= 1


def test_badge_is_drawn_top_left_in_image_coordinates(compositor):
    layer = compositor.layers[0]
    layer.set_background(Background(color=(0.0, 0.0, 0.0)))
    badge = np.zeros((10, 20, 4), np.uint8)
    badge[:5] = (0, 255, 0, 255)  # top half opaque green, bottom half transparent
    compositor.set_badge(Overlay(badge, (0.0, 0.0, 0.25, 0.2)))
    layer.begin()
    frame = compositor.finish(layer)
    assert tuple(frame[2, 5]) == (0, 255, 0)
    assert tuple(frame[30, 5]) == (0, 0, 0)  # transparent half of the badge
    assert tuple(frame[2, 200]) == (0, 0, 0)  # outside the badge


def test_watermark_moves_luma_by_the_pattern(compositor):
    layer = compositor.layers[0]
    layer.set_background(Background(color=(0.5, 0.5, 0.5)))
    delta = np.zeros((180, 320), np.float32)
    delta[:, :160] = 2.0
    delta[:, 160:] = -3.0
    compositor.set_watermark(delta)
    layer.begin()
    frame = compositor.finish(layer).astype(int)
    base = 128  # 0.5 → 127.5 → rounds to 128 in an 8-bit target
    assert np.all(np.abs(frame[:, :160] - (base + 2)) <= 1)
    assert np.all(np.abs(frame[:, 160:] - (base - 3)) <= 1)
    with pytest.raises(ValueError):
        compositor.set_watermark(np.zeros((10, 10), np.float32))


def test_cover_fit_crops_the_longer_side():
    assert cover_fit((200, 100), (100, 100)) == pytest.approx((0.25, 0.0, 0.5, 1.0))
    assert cover_fit((100, 200), (100, 100)) == pytest.approx((0.0, 0.25, 1.0, 0.5))


def test_a_picture_replaces_the_clear_and_the_depth_is_still_cleared(gl, compositor):
    """A layer given a picture shows it where the avatar does not draw; the depth buffer is
    cleared all the same, so a depth-tested avatar drawn at the same depth again still draws."""
    import moderngl

    from engine.avatar.base import AvatarInput
    from engine.gl.compositor import layer_pixels
    from engine.types import Expression
    from tests.core.quad_avatar import quad

    avatar = quad(gl.ctx, (0.0, 1.0, 0.0)).avatar
    picture = np.zeros((180, 320, 3), np.uint8)
    picture[:, :, 0] = np.arange(320, dtype=np.uint8)[None, :]  # a ramp: any shift shows
    layer = compositor.layers[0]
    layer.set_background(Background(color=(0.0, 0.0, 1.0)))
    try:
        for _ in range(2):
            target = layer.begin(layer_pixels(picture, SIZE))
            gl.ctx.enable(moderngl.DEPTH_TEST)
            avatar.render(AvatarInput(Expression()), target)
            gl.ctx.disable(moderngl.DEPTH_TEST)
            frame = compositor.finish(layer)
            assert tuple(frame[90, 160]) == (0, 255, 0)  # the avatar, both times
            assert np.array_equal(frame[:, :100], picture[:, :100])  # the picture, exactly
        layer.begin()
        assert (compositor.finish(layer) == (0, 0, 255)).all()  # next frame: the colour again
    finally:
        avatar.release()
