"""The "faceswap" avatar kind: the persona photo's face drawn onto the performer's live face.

``kind.py`` reads the avatar folder, ``geometry.py`` turns the live landmarks into the swapped
face's mesh, ``colour.py`` matches the photo's colours to the live skin, ``render.py`` draws the
camera picture and the face, ``metrics.py`` measures identity and seams (docs/avatars.md,
"Face swap").
"""
