// The avatar program; see avatar.glsl (alpha-tested and blended parts), avatar_opaque.glsl and
// avatar_outline.glsl (MToon outlines: the same vertices pushed out, drawn as an inverted hull).
// Blendshape avatar: morph targets blended on the GPU, optional linear-blend skinning, lit or
// toon shading, premultiplied-alpha output for the compositor.
//
// Morph deltas are stored per vertex, only for the targets that move it (a compressed sparse
// row layout): ``in_morph`` holds the vertex's first entry and entry count in one RGBA32F texture,
// two texels per entry: (POSITION delta, target index) then (NORMAL delta, unused). The weights
// of all the mesh's targets are one uniform array. A face vertex is moved by a handful of the 52
// targets, so this costs a few fetches per vertex however many channels are active — which in
// live tracking is nearly all of them. (llvmpipe shades vertices on one thread: this matters.)

#include "avatar_lighting.glsl"

#if defined VERTEX_SHADER

#define MAX_TARGETS 256

uniform mat4 u_view;
uniform mat4 u_proj;
uniform mat4 u_model;
uniform vec4 u_uv_transform;  // offset.xy, scale.zw (KHR_texture_transform, VRM texture binds)
uniform bool u_skinned;
uniform sampler2D u_joints;  // 4 texels per row = the 4 columns of one joint matrix
uniform int u_joint_base;
uniform sampler2D u_morphs;
uniform bool u_morphed;  // false when every weight is 0: skip the loop altogether
uniform float u_weights[MAX_TARGETS];

uniform bool u_toon;
uniform bool u_two_sided;  // back faces are seen too: light the side facing the viewer
uniform vec4 u_base_color;  // the lit colour; its alpha is the fragment's
uniform bool u_mtoon;  // toon with the material's own MToon settings (light_mtoon)
uniform vec3 u_shade_color;
uniform vec3 u_shade_range;
uniform vec2 u_rim;  // fresnel power, lift
#if defined OUTLINE
uniform int u_outline_mode;  // 1: width in metres, 2: width as a fraction of the frame height
uniform float u_outline_width;
#endif

in ivec2 in_morph;  // first entry, entry count
in vec3 in_position;
in vec3 in_normal;
in vec2 in_uv;
in vec4 in_joints;
in vec4 in_weights;
#if defined OUTLINE
in float in_outline_width;  // MToon's width mask at this vertex (1 without one)
#endif

out vec4 v_light;  // rgb multiplies the texture, a times u_add_color is added to it
out vec2 v_uv;

vec4 morph_texel(int texel) {
    int width = textureSize(u_morphs, 0).x;
    return texelFetch(u_morphs, ivec2(texel % width, texel / width), 0);
}

mat4 joint_matrix(float joint) {
    int row = u_joint_base + int(joint);
    return mat4(texelFetch(u_joints, ivec2(0, row), 0), texelFetch(u_joints, ivec2(1, row), 0),
                texelFetch(u_joints, ivec2(2, row), 0), texelFetch(u_joints, ivec2(3, row), 0));
}

void main() {
    vec3 position = in_position;
    vec3 normal = in_normal;
    if (u_morphed) {
        for (int i = 0; i < in_morph.y; ++i) {
            int texel = (in_morph.x + i) * 2;
            vec4 moved = morph_texel(texel);
            float weight = u_weights[int(moved.w)];
            position += weight * moved.xyz;
            normal += weight * morph_texel(texel + 1).xyz;
        }
    }
    mat4 model = u_model;
    if (u_skinned) {
        model = in_weights.x * joint_matrix(in_joints.x) + in_weights.y * joint_matrix(in_joints.y)
              + in_weights.z * joint_matrix(in_joints.z) + in_weights.w * joint_matrix(in_joints.w);
    }
    vec4 world_pos = model * vec4(position, 1.0);
    vec3 world_normal = normalize(mat3(model) * normal);
#if defined OUTLINE
    float outline_width = u_outline_width * in_outline_width;
    if (u_outline_mode == 1) world_pos.xyz += world_normal * outline_width;
#endif
    vec4 view_pos = u_view * world_pos;
    vec3 n = normalize(mat3(u_view) * world_normal);
    if (u_two_sided && n.z < 0.0) n = -n;
#if defined OUTLINE
    v_light = u_toon ? light_toon(n) : light_lit(n);  // the light alone: the outline has its colour
#else
    if (u_toon && u_mtoon) {
        v_light = light_mtoon(n, u_base_color.rgb, u_shade_color, u_shade_range, u_rim);
    } else {
        v_light = u_toon ? light_toon(n) : light_lit(n);
        v_light.rgb *= u_base_color.rgb;
    }
#endif
    v_uv = in_uv * u_uv_transform.zw + u_uv_transform.xy;
    gl_Position = u_proj * view_pos;
#if defined OUTLINE
    if (u_outline_mode == 2) {
        // MToon's screen width: the same number of pixels whatever the distance, along the
        // normal's direction on screen, fading out where the surface faces the camera.
        vec2 across = (u_proj * vec4(n, 0.0)).xy;
        float aspect = u_proj[1][1] / u_proj[0][0];
        if (dot(across, across) > 1e-12) {
            gl_Position.xy += normalize(across) * vec2(1.0 / aspect, 1.0)
                            * (2.0 * outline_width * gl_Position.w * clamp(1.0 - abs(n.z), 0.0, 1.0));
        }
    }
#endif
}

#elif defined FRAGMENT_SHADER
// OPAQUE_ONLY (avatar_opaque.glsl) drops the alpha tests: a shader that may discard turns off
// llvmpipe's early depth test, and then every hidden fragment is shaded too.

uniform vec4 u_base_color;  // only its alpha here: the vertices multiply by its colour
uniform vec3 u_add_color;  // what v_light.a adds: white for the highlight, MToon's rim colour
uniform float u_rim_mix;  // MToon's rim lighting mix: 0 the rim colour as it is, 1 lit by the key
uniform vec3 u_emission;
#if defined OUTLINE
uniform vec4 u_outline_color;
uniform float u_outline_mix;  // 0: flat colour, 1: lit like the surface
#endif
uniform bool u_has_texture;
uniform sampler2D u_texture;
uniform int u_alpha_mode;  // 0 opaque, 1 mask, 2 blend
uniform float u_alpha_cutoff;

in vec4 v_light;
in vec2 v_uv;

out vec4 f_color;

void main() {
#if defined OUTLINE
    f_color = vec4(u_outline_color.rgb * mix(vec3(1.0), v_light.rgb, u_outline_mix), 1.0);
#else
    vec4 base = vec4(1.0, 1.0, 1.0, u_base_color.a);
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
    vec3 added = mix(u_add_color, u_add_color * KEY_COLOR, u_rim_mix);
    vec3 color = base.rgb * v_light.rgb + v_light.a * added + u_emission;
    f_color = vec4(color * base.a, base.a);  // premultiplied for the compositor
#endif
}

#endif
