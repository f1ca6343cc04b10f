#version 330
// Blendshape avatar, alpha-tested and alpha-blended parts (hair cards, lashes, decals).
#include "avatar_surface.glsl"
