#version 330
// The photo avatar (engine/avatar/photo): one mesh over the whole picture, drawn in one call.
// One texture holds the photo between blurred margins (the letterbox) and, below it, the
// synthesised mouth interior; a closing lid slides its texture up, past the lashes. One plain
// lookup per fragment: the mesh covers every pixel, so the fragment stage is the frame's cost.
// Positions are photo pixels; depth is in face widths, larger = farther.
#if defined VERTEX_SHADER
uniform vec4 to_ndc;  // scale x, scale y, offset x, offset y: photo pixels → clip space
uniform vec2 blink;  // left, right eye: 0 open .. 1 closed
in vec3 position;
in vec2 uv;
in vec4 lid;  // texture slide at a full blink (u, v); which eye's lid (left, right)
out vec2 v_uv;
void main() {
    float closing = dot(lid.zw, blink);
    v_uv = uv + lid.xy * closing;
    gl_Position = vec4(position.xy * to_ndc.xy + to_ndc.zw, clamp(position.z * 0.25, -1.0, 1.0), 1.0);
}
#elif defined FRAGMENT_SHADER
uniform sampler2D picture;
in vec2 v_uv;
out vec4 color;
void main() {
    color = vec4(texture(picture, v_uv).rgb, 1.0);
}
#endif
