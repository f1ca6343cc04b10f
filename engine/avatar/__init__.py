"""Avatars: glTF/VRM blendshape heads, generated personas, behind ``Avatar``."""
