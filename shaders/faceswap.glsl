#version 330
// The swapped face: the live face's mesh (positions in camera pixels) textured from the persona
// photo as lit for the live skin (faceswap_light.glsl, redrawn only when the live statistics
// change), or, for the eye and mouth openings, from the live camera picture as it is. One lookup
// per fragment. Output is premultiplied (blend with ONE, ONE_MINUS_SRC_ALPHA, or none for the
// opaque triangles).
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

void main() {
    vec4 texel = texture(image, v_uv);
    float alpha = v_alpha * texel.a;  // the photo's alpha leaves out a fringe over the brows
    color = vec4(texel.rgb * alpha, alpha);
}
#endif
