"""An invisible watermark that says "made by Persona" and carries a session id.

Scheme (spread spectrum over a coarse grid of "chips", defined relative to the frame so it
survives rescaling):

* The frame is divided into ``GRID_W x GRID_H`` chips whatever its size. Every chip gets a fixed
  pseudo-random sign ``pn`` drawn from a public seed. Half the chips (chosen by a fixed
  permutation) are *sync* chips carrying ``pn`` itself; the other half are shared out among the
  40 payload bits (32-bit session id + CRC-8), carrying ``pn`` times +1 or -1 for the bit.
* The chip grid is upsampled smoothly (bicubic) to the frame size, scaled to an RMS of
  ``AMPLITUDE`` grey levels and dithered to whole levels. That is ``Watermark.pattern``, a luma
  delta: adding it to R, G and B alike moves luma by the same amount and leaves chroma alone.
  It depends only on the session and the frame size, so the compositor makes it once and adds
  it after readback with saturating adds; ``embed`` does the same in numpy, bit for bit.
* One grey level is the amplitude because flat, dark avatar backgrounds are the hardest place
  to hide anything: at two levels the chip pattern showed there as a faint mottle; at one it
  does not, and call-quality video still scores far above the threshold (docs/safety.md).
* Detection converts to luma, averages each chip (area resampling, so any frame size works),
  removes the mean of its four neighbours (natural images are smooth at that scale, the
  watermark is not), weights each chip by the inverse of the residual power around it (edges
  and hair are loud, cheeks and walls are quiet) and correlates with the sync signs. The score
  ``z = sum(w r pn) / sqrt(sum((w r)**2))`` over sync chips is a sum of random signs with
  weights that do not depend on them, so for a frame without the pattern it has mean 0,
  variance 1 and ``P(z >= t) <= exp(-t**2 / 2)`` (Hoeffding) whatever the footage shows: the
  false-positive rate is set by the threshold. For video the residuals of many frames are summed
  first, which adds the watermark coherently and a moving picture incoherently.
* The session is decoded bit by bit from the sign of each bit's correlation and accepted only if
  its CRC-8 matches.

The seed is public: this watermark proves provenance to anyone who runs ``persona watermark
verify``; it is not a secret and someone determined can remove it (see docs/ethics.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import AssetError

log = logging.getLogger(__name__)

GRID_W, GRID_H = 128, 72   # 10 px chips at 1280x720, 5 px at 640x360
AMPLITUDE = 1.0            # RMS of the luma delta in grey levels → PSNR ≈ 47 dB
SEED = 0x50455253          # "PERS": public, fixed; changing it breaks every existing mark
DITHER_SEED = 0x44495448   # "DITH": fixes the rounding noise so a session's pattern is reproducible
SESSION_BITS = 32
CRC_BITS = 8
PAYLOAD_BITS = SESSION_BITS + CRC_BITS
THRESHOLD = 5.0            # z-score; P(z >= 5) without a watermark <= exp(-25/2) ≈ 4e-6 (Hoeffding)
WEIGHT_WINDOW = 3          # chips over which the picture's local residual power is estimated
WEIGHT_FLOOR = 0.05        # x median power: keeps perfectly flat chips from taking all the weight
MAX_VIDEO_FRAMES = 240     # frames read by detect_file; more add little once the score is high


@dataclass(frozen=True)
class Detection:
    detected: bool
    confidence: float       # 0..1: 0.5 at the detection threshold, 1.0 at twice the threshold
    session: int | None     # None when not detected or the payload's CRC does not match
    score: float            # the sync correlation z-score
    frames: int = 1

    def to_dict(self) -> dict:
        return {"detected": self.detected, "confidence": round(self.confidence, 4),
                "session": self.session, "score": round(self.score, 3), "frames": self.frames}


def _layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pn signs, sync mask, bit index per chip; -1 for sync) over the GRID_H x GRID_W chips."""
    rng = np.random.default_rng(SEED)
    count = GRID_W * GRID_H
    pn = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=count)
    order = rng.permutation(count)
    bit_of_chip = np.full(count, -1, dtype=np.int64)
    payload_chips = order[count // 2:]
    bit_of_chip[payload_chips] = np.arange(payload_chips.size) % PAYLOAD_BITS
    shape = (GRID_H, GRID_W)
    return pn.reshape(shape), (bit_of_chip < 0).reshape(shape), bit_of_chip.reshape(shape)


_PN, _SYNC, _BIT = _layout()
# Predicts a chip from its four neighbours; chosen over 3x3 and 5x5 means and a 3x3 median because
# it left the least picture in the residual on real footage (sweep in docs/safety.md).
_NEIGHBOURS = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=np.float32) / 4


def crc8(value: int, bits: int = SESSION_BITS) -> int:
    """CRC-8 (polynomial 0x07) of ``value``'s low ``bits`` bits, most significant first."""
    crc = 0
    for i in range(bits - 1, -1, -1):
        feedback = ((crc >> 7) & 1) ^ ((value >> i) & 1)
        crc = ((crc << 1) & 0xFF) ^ (0x07 if feedback else 0)
    return crc


def _payload_signs(session: int) -> np.ndarray:
    word = (session << CRC_BITS) | crc8(session)
    return np.array([1.0 if (word >> (PAYLOAD_BITS - 1 - i)) & 1 else -1.0
                     for i in range(PAYLOAD_BITS)], dtype=np.float32)


def _resize(plane: np.ndarray, width: int, height: int, smooth: bool) -> np.ndarray:
    """Float plane resampled to width x height: bicubic when enlarging, area mean when reducing."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32))  # mode "F"
    method = Image.Resampling.BICUBIC if smooth else Image.Resampling.BOX
    return np.array(image.resize((width, height), method), dtype=np.float32)


class Watermark:
    """The luma pattern for one session at one frame size; make it once per output size."""

    def __init__(self, session_id: int, width: int, height: int) -> None:
        if not 0 <= session_id < 2**SESSION_BITS:
            raise ValueError(f"session id must fit in {SESSION_BITS} bits, got {session_id}")
        if width < GRID_W or height < GRID_H:
            raise ValueError(f"frame {width}x{height} is smaller than the {GRID_W}x{GRID_H} grid")
        self.session_id = session_id
        self.width, self.height = width, height
        signs = _payload_signs(session_id)
        chips = _PN * np.where(_SYNC, 1.0, signs[np.maximum(_BIT, 0)]).astype(np.float32)
        smooth = _resize(chips, width, height, smooth=True)
        smooth *= AMPLITUDE / float(np.sqrt(np.mean(smooth**2)))
        # Whole levels by random dithering, not rounding: rounding would flatten most of a
        # pattern this faint to 0, while floor(x + u) with u uniform keeps every local mean equal
        # to the smooth pattern's, which is what survives scaling and compression.
        dither = np.random.default_rng(DITHER_SEED).random(smooth.shape, dtype=np.float32)
        self.pattern: np.ndarray = np.floor(smooth + dither)  # (H, W) whole grey levels

    def embed(self, rgb: np.ndarray) -> np.ndarray:
        """``rgb`` (H, W, 3) uint8 with the pattern added to every channel, clipped to 0..255."""
        if rgb.shape[:2] != self.pattern.shape:
            raise ValueError(f"frame is {rgb.shape[1]}x{rgb.shape[0]}, "
                             f"watermark was made for {self.width}x{self.height}")
        marked = rgb.astype(np.int16) + self.pattern.astype(np.int16)[:, :, None]
        return np.clip(marked, 0, 255).astype(np.uint8)


def chip_residual(rgb: np.ndarray) -> np.ndarray:
    """Per-chip luma residual (GRID_H, GRID_W) of one RGB uint8 frame: what detection correlates."""
    from scipy.ndimage import convolve

    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {rgb.shape}")
    if rgb.shape[0] < GRID_H or rgb.shape[1] < GRID_W:
        raise ValueError(f"image {rgb.shape[1]}x{rgb.shape[0]} is too small to carry a watermark")
    rgb = rgb[:, :, :3].astype(np.float32)
    luma = 0.299 * rgb[:, :, 0] + 0.587 * rgb[:, :, 1] + 0.114 * rgb[:, :, 2]
    chips = _resize(luma, GRID_W, GRID_H, smooth=False)
    return chips - convolve(chips, _NEIGHBOURS, mode="reflect")


def _weights(residual: np.ndarray) -> np.ndarray:
    """Inverse local residual power: trust flat regions, discount hair, edges and texture.

    The weights depend only on the residual, never on the signs, so under "no watermark" the
    weighted score is still a sum of independent random signs and keeps its bound.
    """
    from scipy.ndimage import uniform_filter

    local = uniform_filter(residual**2, WEIGHT_WINDOW, mode="reflect")
    return 1.0 / (local + WEIGHT_FLOOR * float(np.median(local)) + 1e-9)


def decide(residual_sum: np.ndarray, frames: int = 1) -> Detection:
    """Detection from a chip residual, or the sum of several frames' residuals."""
    weighted = residual_sum * _weights(residual_sum)
    signed = weighted * _PN
    energy = float(np.sum(weighted[_SYNC] ** 2))
    score = float(np.sum(signed[_SYNC]) / np.sqrt(energy)) if energy > 0 else 0.0
    detected = score >= THRESHOLD
    session = None
    if detected:
        bit_sums = np.bincount(_BIT[~_SYNC], weights=signed[~_SYNC], minlength=PAYLOAD_BITS)
        word = 0
        for value in bit_sums:
            word = (word << 1) | int(value > 0)
        candidate, check = word >> CRC_BITS, word & 0xFF
        session = candidate if crc8(candidate) == check else None
    confidence = float(np.clip(score / (2 * THRESHOLD), 0.0, 1.0))
    return Detection(detected, confidence, session, score, frames)


def detect(frames: np.ndarray | list[np.ndarray]) -> Detection:
    """Look for the watermark in one RGB uint8 image (H, W, 3) or a sequence of frames."""
    if isinstance(frames, np.ndarray) and frames.ndim == 3:
        frames = [frames]
    total = None
    count = 0
    for frame in frames:
        residual = chip_residual(frame)
        total = residual if total is None else total + residual
        count += 1
    if total is None:
        raise ValueError("no frames to look for a watermark in")
    return decide(total, count)


VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".y4m"}


def detect_file(path: Path, max_frames: int = MAX_VIDEO_FRAMES) -> Detection:
    """Detect in an image file or in the first ``max_frames`` frames of a video file."""
    path = Path(path)
    if not path.is_file():
        raise AssetError(f"{path}: no such file")
    try:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return _detect_video(path, max_frames)
        return detect(_read_image(path))
    except ValueError as error:  # too small to carry the watermark
        raise AssetError(f"{path}: {error}") from None


def _read_image(path: Path) -> np.ndarray:
    from engine.images import read_image

    return np.asarray(read_image(path))


def _detect_video(path: Path, max_frames: int) -> Detection:
    """Sum the residuals of up to ``max_frames`` frames; a damaged tail ends the reading."""
    import av

    total, count = None, 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise AssetError(f"{path}: has no video stream")
            for frame in container.decode(video=0):
                residual = chip_residual(frame.to_ndarray(format="rgb24"))
                total = residual if total is None else total + residual
                count += 1
                if count >= max_frames:
                    break
    except av.FFmpegError as error:
        if total is None:
            raise AssetError(f"{path}: cannot decode video ({error})") from None
        log.warning("%s: decoding stopped after %d frames (%s)", path, count, error)
    if total is None:
        raise AssetError(f"{path}: no decodable video frames")
    return decide(total, count)
