"""Named indices into MediaPipe's 478-point face mesh (468 mesh points + 2 x 5 iris points).

"Left" and "right" are the person's own, as in ARKit: the left eye is the one on the right of an
unmirrored camera image. The indices are facts of MediaPipe's published topology; keeping them in
one place lets the blendshape formulas read as geometry rather than numbers.
"""

from __future__ import annotations

NUM_MESH = 468  # landmarks 468..477 are the irises (refine_landmarks=True)

# Midline
FOREHEAD = 10
NOSE_BRIDGE = 168
NOSE_TIP = 1
SUBNASALE = 2
UPPER_LIP_TOP = 0  # outer edge of the upper lip, midline
UPPER_LIP_INNER = 13
LOWER_LIP_INNER = 14
LOWER_LIP_BOTTOM = 17  # outer edge of the lower lip, midline
CHIN = 152

# Eyes: outer corner, inner corner, upper lid and lower lid points in matching pairs.
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
RIGHT_UPPER_LID = (160, 159, 158)
RIGHT_LOWER_LID = (144, 145, 153)
LEFT_UPPER_LID = (387, 386, 385)
LEFT_LOWER_LID = (373, 374, 380)
RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER = 468, 473
RIGHT_IRIS_RING = (469, 470, 471, 472)
LEFT_IRIS_RING = (474, 475, 476, 477)

# Brows: upper edge from inner to outer end.
RIGHT_BROW = (107, 66, 105, 63, 70)
LEFT_BROW = (336, 296, 334, 293, 300)
RIGHT_BROW_LOWER = (55, 65, 52, 53, 46)
LEFT_BROW_LOWER = (285, 295, 282, 283, 276)

# Mouth
RIGHT_MOUTH_CORNER, LEFT_MOUTH_CORNER = 61, 291
RIGHT_UPPER_LIP = 40  # upper lip outer edge, between midline and corner
LEFT_UPPER_LIP = 270
RIGHT_UPPER_LIP_INNER = 81
LEFT_UPPER_LIP_INNER = 311
RIGHT_LOWER_LIP = 91  # lower lip outer edge, between midline and corner
LEFT_LOWER_LIP = 321
RIGHT_LOWER_LIP_INNER = 178
LEFT_LOWER_LIP_INNER = 402

# Cheeks and nose
RIGHT_CHEEK_UPPER, LEFT_CHEEK_UPPER = 117, 346  # below the lower lid, moves up in a cheek raise
RIGHT_CHEEK, LEFT_CHEEK = 205, 425  # over the cheekbone, beside the nose-lip fold
RIGHT_CHEEK_SIDE, LEFT_CHEEK_SIDE = 50, 280  # mid-cheek, bulges outward when puffed
RIGHT_NOSE_WING, LEFT_NOSE_WING = 129, 358  # alar crease, rises in a sneer
RIGHT_JAW, LEFT_JAW = 172, 397
