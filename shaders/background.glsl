#version 330
// A scene's background image, cover-fitted to the frame; sampling a coarser mip level blurs it
// for free (the mip chain is built once when the image is set).
#include "fullscreen.glsl"
#if defined FRAGMENT_SHADER
in vec2 uv;
out vec4 color;
uniform sampler2D image;
uniform float lod;      // 0 sharp, 4–6 soft
uniform vec4 uv_rect;   // offset.xy, scale.zw inside the image
void main() {
    color = vec4(textureLod(image, uv_rect.xy + uv * uv_rect.zw, lod).rgb, 1.0);
}
#endif
