#version 330
// Lays a premultiplied RGBA texture over the framebuffer inside a rectangle, at an opacity:
// the outgoing scene during a crossfade, the disclosure badge. Blend with (ONE, ONE_MINUS_SRC_ALPHA).
#if defined VERTEX_SHADER
uniform vec4 rect;  // x, y, w, h in 0..1 framebuffer units, y up
out vec2 uv;
const vec2 CORNERS[6] = vec2[6](vec2(0, 0), vec2(1, 0), vec2(0, 1),
                                vec2(0, 1), vec2(1, 0), vec2(1, 1));
void main() {
    vec2 corner = CORNERS[gl_VertexID];
    uv = corner;
    gl_Position = vec4((rect.xy + corner * rect.zw) * 2.0 - 1.0, 0.0, 1.0);
}
#elif defined FRAGMENT_SHADER
in vec2 uv;
out vec4 color;
uniform sampler2D image;
uniform float opacity;
void main() {
    color = texture(image, uv) * opacity;
}
#endif
