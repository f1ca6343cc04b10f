#version 330
// Blendshape avatar, opaque parts: no discard, so hidden fragments are rejected before shading.
#define OPAQUE_ONLY
#include "avatar_surface.glsl"
