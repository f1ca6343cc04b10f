#version 330
// Draws a top-row-first image (the finished frame) and an optional overlay (the HUD, premultiplied
// RGBA, also top-row-first) into the preview window.
#include "fullscreen.glsl"
#if defined FRAGMENT_SHADER
in vec2 uv;
out vec4 color;
uniform sampler2D image;
uniform sampler2D overlay;
uniform bool overlay_on;
void main() {
    vec2 p = vec2(uv.x, 1.0 - uv.y);
    vec3 rgb = texture(image, p).rgb;
    if (overlay_on) {
        vec4 hud = texture(overlay, p);
        rgb = hud.rgb + rgb * (1.0 - hud.a);
    }
    color = vec4(rgb, 1.0);
}
#endif
