#version 330
// The face swap's colour transfer (Reinhard in Oklab), drawn over the whole persona photo into
// the lit photo texture whenever the live skin's statistics change — ten times a second at most
// (engine/avatar/faceswap/colour.py) — so that the swapped face's own draw (faceswap.glsl) is one
// lookup per fragment. The photo texture holds (Oklab - mean_photo) / std_photo per texel,
// computed once at load (engine/avatar/faceswap/persona.py); this pass gives it the live skin's
// mean and spread and converts it back to sRGB, alpha kept. The Oklab matrices are colour.py's
// (Ottosson 2020).
#include "fullscreen.glsl"
#if defined FRAGMENT_SHADER
in vec2 uv;
out vec4 color;
uniform sampler2D image;
uniform vec3 mean_live;
uniform vec3 std_live;

const mat3 LAB_TO_LMS = transpose(mat3(1.0, 0.3963377774, 0.2158037573,
                                       1.0, -0.1055613458, -0.0638541728,
                                       1.0, -0.0894841775, -1.2914855480));
const mat3 LMS_TO_RGB = transpose(mat3(4.0767416621, -3.3077115913, 0.2309699292,
                                       -1.2684380046, 2.6097574011, -0.3413193965,
                                       -0.0041960863, -0.7034186147, 1.7076147010));

vec3 to_srgb(vec3 c) {
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}

void main() {
    vec4 texel = texture(image, uv);
    vec3 lms = LAB_TO_LMS * (texel.rgb * std_live + mean_live);
    color = vec4(to_srgb(clamp(LMS_TO_RGB * (lms * lms * lms), 0.0, 1.0)), texel.a);
}
#endif
