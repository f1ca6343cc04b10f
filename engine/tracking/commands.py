"""``persona track FILE``: run the face tracker over an image or video and print what it sees."""

from __future__ import annotations

import argparse
import json
import sys

# The channels people notice first; the text output and the plot show these.
MAIN_CHANNELS = (
    "eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "mouthSmileLeft", "mouthSmileRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthPucker", "mouthFunnel", "browInnerUp",
    "browDownLeft", "browOuterUpLeft", "cheekSquintLeft", "mouthLeft", "mouthRight",
)


def track_records(path: str, max_frames: int | None = None):
    """One dict per frame: {"t", "face", "yaw", "pitch", "roll", "blendshapes": {name: value}}."""
    from engine.tracking.head_pose import yaw_pitch_roll
    from engine.tracking.media import is_image, read_frames
    from engine.tracking.mediapipe_tracker import MediaPipeTracker
    from engine.types import BLENDSHAPE_NAMES

    # Nobody waits for these frames: both looks (frame and mirror image) are worth the time.
    tracker = MediaPipeTracker(video=not is_image(path), looks="both")
    try:
        for frame in read_frames(path, max_frames):
            face = tracker.track(frame)
            yaw, pitch, roll = yaw_pitch_roll(face.head) if face.found else (None, None, None)
            yield {
                "t": round(frame.t_capture, 4),
                "face": face.found,
                "yaw": None if yaw is None else round(yaw, 2),
                "pitch": None if pitch is None else round(pitch, 2),
                "roll": None if roll is None else round(roll, 2),
                "blendshapes": {name: round(float(value), 4)
                                for name, value in zip(BLENDSHAPE_NAMES, face.blendshapes)},
            }
    finally:
        tracker.close()


def _text_line(record: dict) -> str:
    if not record["face"]:
        return f"t={record['t']:8.3f}  no face"
    top = sorted(record["blendshapes"].items(), key=lambda item: -item[1])[:5]
    shapes = "  ".join(f"{name}={value:.2f}" for name, value in top if value > 0.05)
    return (f"t={record['t']:8.3f}  yaw={record['yaw']:6.1f}  pitch={record['pitch']:6.1f}  "
            f"roll={record['roll']:6.1f}  {shapes}")


def plot_channels(records: list[dict], title: str, out: str) -> None:
    """Main channels and head angles over time, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r["t"] for r in records]
    groups = [
        ("eyes", ("eyeBlinkLeft", "eyeBlinkRight", "cheekSquintLeft")),
        ("mouth", ("jawOpen", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft",
                   "mouthPucker", "mouthFunnel")),
        ("brows and sides", ("browInnerUp", "browDownLeft", "browOuterUpLeft",
                             "mouthLeft", "mouthRight")),
    ]
    figure, axes = plt.subplots(len(groups) + 1, 1, figsize=(12, 10), sharex=True)
    for axis, (label, names) in zip(axes, groups):
        for name in names:
            values = [r["blendshapes"][name] if r["face"] else float("nan") for r in records]
            axis.plot(t, values, label=name)
        axis.set_ylim(-0.02, 1.02)
        axis.set_ylabel(label)
        axis.legend(loc="upper left", fontsize=8, ncol=3)
        axis.grid(alpha=0.3)
    for angle in ("yaw", "pitch", "roll"):
        axes[-1].plot(t, [r[angle] if r["face"] else float("nan") for r in records], label=angle)
    axes[-1].set_ylabel("head (degrees)")
    axes[-1].set_xlabel("time (s)")
    axes[-1].legend(loc="upper left", fontsize=8, ncol=3)
    axes[-1].grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out, dpi=90)
    plt.close(figure)


def run_track(args: argparse.Namespace) -> int:
    records = [] if args.plot else None
    for record in track_records(args.file, args.max_frames):
        if records is not None:
            records.append(record)
        line = json.dumps(record, separators=(",", ":")) if args.json else _text_line(record)
        sys.stdout.write(line + "\n")
    if args.plot:
        plot_channels(records, f"persona track {args.file}", args.plot)
    return 0


def register(commands) -> None:
    parser = commands.add("track", run_track,
                          help="track the face in an image or video and print it per frame")
    parser.add_argument("file", help="image (.jpg, .png, ...) or video file")
    parser.add_argument("--json", action="store_true",
                        help='one JSON object per frame: '
                             '{"t","face","yaw","pitch","roll","blendshapes"}')
    parser.add_argument("--plot", metavar="PNG",
                        help="also save a plot of the main channels over time")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
