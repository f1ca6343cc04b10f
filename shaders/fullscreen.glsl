// Shared vertex stage for full-screen passes: one triangle that covers the viewport, made from
// gl_VertexID alone, so passes need no vertex buffer. uv runs 0..1 across the viewport.
#if defined VERTEX_SHADER
out vec2 uv;
void main() {
    vec2 corner = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);
    uv = corner;
    gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
#endif
