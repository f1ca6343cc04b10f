"""``persona track`` and ``persona bench tracking`` from the command line."""

from __future__ import annotations

import json

from engine.cli import main
from engine.types import BLENDSHAPE_NAMES


def test_track_photo_prints_one_json_object(shared_asset, capsys):
    assert main(["track", str(shared_asset("face/pyfeat_single_face.jpg")), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert set(record) == {"t", "face", "yaw", "pitch", "roll", "blendshapes"}
    assert record["face"] is True and record["t"] == 0.0
    assert list(record["blendshapes"]) == list(BLENDSHAPE_NAMES)
    assert all(0.0 <= v <= 1.0 for v in record["blendshapes"].values())
    assert all(isinstance(record[k], float) for k in ("yaw", "pitch", "roll"))


def test_track_reads_a_mirrored_photo_as_exactly_swapped_channels(shared_asset, capsys, tmp_path):
    """``persona track`` looks at each frame and its mirror image (nobody waits for it), so a
    mirrored photo gives each left channel's value to its right partner and flips the yaw."""
    import cv2

    photo = shared_asset("face/pyfeat_single_face.jpg")
    mirrored = tmp_path / "mirrored.png"
    cv2.imwrite(str(mirrored), cv2.imread(str(photo))[:, ::-1])
    records = []
    for path in (photo, mirrored):
        assert main(["track", str(path), "--json"]) == 0
        records.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    direct, mirror = records
    for name, value in direct["blendshapes"].items():
        partner = name.replace("Left", "\0").replace("Right", "Left").replace("\0", "Right")
        assert abs(value - mirror["blendshapes"][partner]) < 2e-4, name
    assert abs(direct["yaw"] + mirror["yaw"]) < 0.05 and abs(direct["roll"] + mirror["roll"]) < 0.05


def test_track_video_text_and_plot(shared_asset, capsys, tmp_path):
    plot = tmp_path / "channels.png"
    video = str(shared_asset("video/pyfeat_single_face.mp4"))
    assert main(["track", video, "--max-frames", "12", "--plot", str(plot)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 12 and lines[0].startswith("t=") and "yaw=" in lines[0]
    assert plot.stat().st_size > 10_000


def test_track_no_face_and_bad_files(tmp_path, capsys):
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("RGB", (320, 240), (120, 120, 120)).save(blank)
    assert main(["track", str(blank), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["face"] is False and record["yaw"] is None and len(record["blendshapes"]) == 52
    for name, content in (("bad.png", b"not a png"), ("bad.mp4", b"not a video")):
        path = tmp_path / name
        path.write_bytes(content)
        assert main(["track", str(path)]) == 1
        assert name in capsys.readouterr().err
    assert main(["track", str(tmp_path / "missing.mp4")]) == 1
    assert "missing.mp4" in capsys.readouterr().err


def test_bench_tracking_prints_its_figures(capsys):
    assert main(["bench", "tracking", "--seconds", "0.5", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("track_ms_p50_640x480", "track_ms_p99_640x480", "track_ms_p50_1280x720",
                "track_ms_p99_1280x720", "jitter_px_rms_raw", "jitter_px_rms_filtered"):
        assert figures[key] > 0, key
    assert figures["jitter_px_rms_filtered"] < figures["jitter_px_rms_raw"]
    assert figures["track_mirror_averaged_ms_p50_1280x720"] > 0
    assert figures["mirror_averaged_track_ratio_p50"] > 0
