#version 330
// The swapped face: the live face's mesh (positions in camera pixels) textured from the persona
// photo with a Reinhard colour transfer in Oklab, or, for the eye and mouth openings, from the
// live camera picture as it is. The photo texture holds (Oklab - mean_photo) / std_photo per
// texel, computed once at load (engine/avatar/faceswap/persona.py), so a fragment pays only the
// live half of the transfer and one conversion back to sRGB. Output is premultiplied (blend
// with ONE, ONE_MINUS_SRC_ALPHA, or none for the opaque triangles). The Oklab matrices are
// engine/avatar/faceswap/colour.py's (Ottosson 2020).
#if defined VERTEX_SHADER
in vec3 position;   // x, y camera pixels (y down), z MediaPipe depth in pixel units
in vec2 uv;
in float alpha;
uniform vec2 frame_size;
out vec2 v_uv;
out float v_alpha;
void main() {
    v_uv = uv;
    v_alpha = alpha;
    vec2 ndc = vec2(position.x / frame_size.x * 2.0 - 1.0, 1.0 - position.y / frame_size.y * 2.0);
    gl_Position = vec4(ndc, clamp(position.z / frame_size.x, -1.0, 1.0), 1.0);
}
#elif defined FRAGMENT_SHADER
in vec2 v_uv;
in float v_alpha;
out vec4 color;
uniform sampler2D image;
uniform bool transfer;   // photo skin: give its standardised colours the live skin's statistics
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
    vec4 texel = texture(image, v_uv);
    vec3 rgb = texel.rgb;
    if (transfer) {
        vec3 lms = LAB_TO_LMS * (rgb * std_live + mean_live);
        rgb = to_srgb(clamp(LMS_TO_RGB * (lms * lms * lms), 0.0, 1.0));
    }
    float alpha = v_alpha * texel.a;  // the photo's alpha leaves out a fringe over the brows
    color = vec4(rgb * alpha, alpha);
}
#endif
