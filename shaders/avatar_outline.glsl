#version 330
// MToon outlines as an inverted hull: the outlined meshes again, pushed out along their normals
// and drawn with front faces culled, so only the rim beyond the surface shows. Flat colour, no
// texture fetch; drawn only when asked for (ModelRenderer.outline).
#define OUTLINE
#include "avatar_surface.glsl"
