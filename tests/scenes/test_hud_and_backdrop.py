"""The HUD image (premultiplied, real font, throttled redraws) and the segmented camera backdrop
on a real face photo: the person is cut out, the room stays, and untrusted frames fall back."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import ImageFont

from engine.backdrop import SHOW_SIZE, CameraBackdrop
from engine.blank import font
from engine.control.board import StatusBoard
from engine.hud import Hud, voice_level
from engine.status import SceneEntry, Status, VoiceStatus
from engine.types import FaceState, Frame

STATUS = Status(scene="Calm", hotkey="1", fps=29.9, latency_ms=40.0, face=True, confidence=0.9,
                scenes=(SceneEntry("Calm", "1", "calm", "AI avatar"),
                        SceneEntry("Expressive", "2", "expressive", "AI avatar")),
                voice=VoiceStatus(muted=False, bypass=False, preset="calm-warm",
                                  output_db=-30.0))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_hud_is_premultiplied_rgba_with_text_from_a_real_font():
    assert isinstance(font(20), ImageFont.FreeTypeFont)
    image = Hud((640, 360)).render(STATUS)
    assert image.shape == (360, 640, 4) and image.dtype == np.uint8
    assert (image[..., :3] <= image[..., 3:4]).all(), "premultiplied: colour never exceeds alpha"
    assert image[..., 3].max() == 255 and (image[..., 3] == 0).mean() > 0.5  # mostly clear


def test_hud_redraws_text_at_most_a_few_times_a_second():
    clock = FakeClock()
    hud = Hud((640, 360), redraw_hz=4.0, clock=clock)
    for _ in range(30):
        hud.render(STATUS)
    assert hud.redraws == 1
    assert hud.render_if_changed(STATUS) is None
    clock.now = 0.3
    hud.render(replace(STATUS, fps=30.1))
    assert hud.redraws == 2
    hud.render(replace(STATUS, scene="Expressive"))  # a discrete change shows at once
    assert hud.redraws == 3
    louder = replace(STATUS, scene="Expressive", voice=replace(STATUS.voice, output_db=-6.0))
    assert hud.render_if_changed(louder) is not None and hud.redraws == 3  # meter only


def test_voice_level_reads_the_output_level_in_dbfs():
    def at(output_db: float) -> float:
        return voice_level(VoiceStatus(muted=False, bypass=False, output_db=output_db))

    assert at(-60.0) == 0.0 and at(0.0) == 1.0
    assert at(-45.0) == 0.25 and voice_level(None) == 0.0


def test_status_board_publishes_at_its_rate():
    clock = FakeClock()
    board = StatusBoard(hz=5.0, clock=clock, status=lambda app: {"n": clock.now})

    for t in (0.0, 0.1, 0.19, 0.2, 0.3, 0.45):
        clock.now = t
        board.on_frame(None)
    assert board.version == 3 and board.latest() == {"n": 0.45}


@pytest.fixture(scope="module")
def photo_and_face(shared_asset):
    from PIL import Image

    from engine.tracking.face_mesh import FaceMeshDetector

    path = shared_asset("face/pyfeat_single_face.jpg")
    with Image.open(path) as picture:
        image = np.asarray(picture.convert("RGB").resize((640, 360)))
    detector = FaceMeshDetector(max_faces=1, video=False)
    try:
        (points,) = detector.detect(image)
    finally:
        detector.close()
    x0, y0 = points[:, :2].min(axis=0)
    x1, y1 = points[:, :2].max(axis=0)
    return image, (float(x0), float(y0), float(x1 - x0), float(y1 - y0))


def shown(backdrop: CameraBackdrop) -> np.ndarray:
    """What the backdrop writes into the layer, top row first, back at SHOW_SIZE."""
    import cv2

    picture = backdrop.pixels[::-1, :, :3]
    return cv2.resize(picture, SHOW_SIZE, interpolation=cv2.INTER_AREA).astype(int)


def test_segmented_backdrop_cuts_the_person_out_and_keeps_the_room(photo_and_face):
    import cv2

    image, box = photo_and_face
    backdrop = CameraBackdrop("segmented", (640, 360))
    try:
        face = FaceState(t=0.0, found=True, box=box, confidence=1.0)
        backdrop.update(Frame(image, 0.0, 0), face)
        assert not backdrop.fell_back
        out = shown(backdrop)
        small = cv2.resize(image, SHOW_SIZE, interpolation=cv2.INTER_AREA).astype(int)
        sx, sy = SHOW_SIZE[0] / 640, SHOW_SIZE[1] / 360
        x, y, w, h = box
        face_region = (slice(int(y * sy), int((y + h) * sy)), slice(int(x * sx), int((x + w) * sx)))
        # The face is replaced by a flat fill: none of its structure survives.
        assert out[face_region].std(axis=(0, 1)).max() < 8
        assert np.abs(out[face_region] - small[face_region]).mean() > 15
        # The room beside the person is still the room.
        corner = (slice(0, 30), slice(0, 30))
        assert np.abs(out[corner] - small[corner]).mean() < 12

        backdrop.update(Frame(image, 0.0, 1), FaceState.lost(0.0))  # no face: not trusted
        assert backdrop.fell_back
        assert np.abs(np.diff(shown(backdrop).mean(axis=2), axis=1)).max() < 30
    finally:
        backdrop.release()


def test_blur_backdrop_paints_out_the_tracked_face(photo_and_face):
    import cv2

    image, box = photo_and_face
    backdrop = CameraBackdrop("blur", (640, 360))
    try:
        backdrop.update(Frame(image, 0.0, 0), FaceState(t=0.0, found=True, box=box))
        out = shown(backdrop)
        small = cv2.resize(image, SHOW_SIZE, interpolation=cv2.INTER_AREA).astype(int)
        sx, sy = SHOW_SIZE[0] / 640, SHOW_SIZE[1] / 360
        x, y, w, h = box
        centre = out[int((y + h / 2) * sy), int((x + w / 2) * sx)]
        mean = small.reshape(-1, 3).mean(axis=0)
        assert np.abs(centre - mean).max() < 25  # skin tone gone: the fill colour shows
        # A frame with no face leaves only ambient light, even a one-frame dropout: the boxes
        # last seen say nothing of a bystander who has moved since.
        backdrop.update(Frame(image, 0.04, 1), FaceState.lost(0.04))
        ambient = shown(backdrop)
        assert np.abs(np.diff(ambient.mean(axis=2), axis=1)).max() < 3
        assert np.abs(np.diff(out.mean(axis=2), axis=1)).max() > 3  # the 16x9 picture had more
    finally:
        backdrop.release()


def test_live_the_backdrop_never_waits_and_shows_only_finished_blurred_pictures(photo_and_face):
    """On its worker (``wait_s=0``, as the live loop calls it) an update does not wait; what
    shows is the black start or a finished blur of some frame, never the camera picture, and
    the newest frame's picture arrives once the worker is done with it."""
    image, box = photo_and_face
    backdrop = CameraBackdrop("blur", (640, 360))
    try:
        seen = []
        for index in range(12):
            backdrop.update(Frame(image, index / 30, index), FaceState(t=index / 30, found=True,
                                                                    box=box), wait_s=0.0)
            seen.append(shown(backdrop))
        for picture in seen:
            # A 16x9 picture enlarged: no camera detail from pixel to pixel.
            assert np.abs(np.diff(picture.mean(axis=2), axis=1)).max() < 30
        backdrop.update(Frame(image, 11 / 30, 11), None, wait_s=2.0)  # the same frame: waits
        assert shown(backdrop).any()
    finally:
        backdrop.release()
