// The avatar program; see avatar.glsl (alpha-tested and blended parts) and avatar_opaque.glsl.
// Blendshape avatar: morph targets blended on the GPU, optional linear-blend skinning, lit or
// toon shading, premultiplied-alpha output for the compositor.
//
// Morph deltas live in one RGBA32F texture per primitive, read with texelFetch by gl_VertexID:
// texel (target * 2 + 0) * vertex_count + vertex is the POSITION delta, (target * 2 + 1) * ... the
// NORMAL delta, laid out row by row across the texture's width. Only the targets active this frame
// are passed (index + weight arrays), so cost grows with active targets, not with the model's.

#if defined VERTEX_SHADER

#define MAX_ACTIVE_MORPHS 64

uniform mat4 u_view;
uniform mat4 u_proj;
uniform mat4 u_model;
uniform bool u_skinned;
uniform sampler2D u_joints;  // 4 texels per row = the 4 columns of one joint matrix
uniform int u_joint_base;
uniform sampler2D u_morphs;
uniform int u_vertex_count;
uniform int u_morph_count;
uniform int u_morph_index[MAX_ACTIVE_MORPHS];
uniform float u_morph_weight[MAX_ACTIVE_MORPHS];
// First and last vertex each active target moves. llvmpipe shades vertices on one thread, eight
// at a time, so skipping the fetches outside a target's span is most of the cost of a morph.
uniform ivec2 u_morph_span[MAX_ACTIVE_MORPHS];

in vec3 in_position;
in vec3 in_normal;
in vec2 in_uv;
in vec4 in_joints;
in vec4 in_weights;

out vec3 v_normal;
out vec2 v_uv;

vec3 morph_delta(int texel) {
    int width = textureSize(u_morphs, 0).x;
    return texelFetch(u_morphs, ivec2(texel % width, texel / width), 0).xyz;
}

mat4 joint_matrix(float joint) {
    int row = u_joint_base + int(joint);
    return mat4(texelFetch(u_joints, ivec2(0, row), 0), texelFetch(u_joints, ivec2(1, row), 0),
                texelFetch(u_joints, ivec2(2, row), 0), texelFetch(u_joints, ivec2(3, row), 0));
}

void main() {
    vec3 position = in_position;
    vec3 normal = in_normal;
    for (int k = 0; k < u_morph_count; ++k) {
        if (gl_VertexID < u_morph_span[k].x || gl_VertexID > u_morph_span[k].y) continue;
        int base = u_morph_index[k] * 2 * u_vertex_count + gl_VertexID;
        position += u_morph_weight[k] * morph_delta(base);
        normal += u_morph_weight[k] * morph_delta(base + u_vertex_count);
    }
    mat4 model = u_model;
    if (u_skinned) {
        model = in_weights.x * joint_matrix(in_joints.x) + in_weights.y * joint_matrix(in_joints.y)
              + in_weights.z * joint_matrix(in_joints.z) + in_weights.w * joint_matrix(in_joints.w);
    }
    vec4 view_pos = u_view * (model * vec4(position, 1.0));
    v_normal = mat3(u_view) * (mat3(model) * normal);
    v_uv = in_uv;
    gl_Position = u_proj * view_pos;
}

#elif defined FRAGMENT_SHADER
// OPAQUE_ONLY (avatar_opaque.glsl) drops the alpha tests: a shader that may discard turns off
// llvmpipe's early depth test, and then every hidden fragment is shaded too.

#include "avatar_lighting.glsl"

uniform vec4 u_base_color;
uniform bool u_has_texture;
uniform sampler2D u_texture;
uniform int u_alpha_mode;  // 0 opaque, 1 mask, 2 blend
uniform float u_alpha_cutoff;
uniform bool u_toon;

in vec3 v_normal;
in vec2 v_uv;

out vec4 f_color;

void main() {
    vec4 base = u_base_color;
    if (u_has_texture) {
        base *= texture(u_texture, v_uv);
    }
#if defined OPAQUE_ONLY
    base.a = 1.0;
#else
    if (u_alpha_mode == 1) {
        if (base.a < u_alpha_cutoff) discard;
        base.a = 1.0;
    } else if (u_alpha_mode == 0) {
        base.a = 1.0;
    } else if (base.a < 0.004) {
        discard;  // keeps fully transparent texels out of the depth-sorted blend
    }
#endif
    vec3 normal = normalize(v_normal);
    if (!gl_FrontFacing) normal = -normal;
    vec3 color = u_toon ? shade_toon(base.rgb, normal) : shade_lit(base.rgb, normal);
    f_color = vec4(color * base.a, base.a);  // premultiplied for the compositor
}

#endif
