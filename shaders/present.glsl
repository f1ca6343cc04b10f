#version 330
// Draws a top-row-first image (the finished frame) and an optional overlay (the HUD, premultiplied
// RGBA, also top-row-first) into the preview window; ``mirrored`` flips the image left to right
// (the selfie view), never the overlay.
#include "fullscreen.glsl"
#if defined FRAGMENT_SHADER
in vec2 uv;
out vec4 color;
uniform sampler2D image;
uniform sampler2D overlay;
uniform bool overlay_on;
uniform bool mirrored;
void main() {
    vec2 p = vec2(uv.x, 1.0 - uv.y);
    vec3 rgb = texture(image, vec2(mirrored ? 1.0 - p.x : p.x, p.y)).rgb;
    if (overlay_on) {
        vec4 hud = texture(overlay, p);
        rgb = hud.rgb + rgb * (1.0 - hud.a);
    }
    color = vec4(rgb, 1.0);
}
#endif
