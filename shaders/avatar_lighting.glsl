// Studio lighting for avatars, in view space: a warm key from the upper left, a cool sky/ground
// ambient, a small highlight and a rim that separates the silhouette from any background.
//
// Light is worked out per vertex (avatar meshes are dense enough) as a colour that multiplies the
// albedo plus a highlight that is added, so a fragment costs a texture fetch and a multiply-add:
// under llvmpipe per-pixel lighting was about a third of the avatar's CPU time. The viewer is
// taken to look straight down -z (the head fills a narrow field of view, so the error is a few
// degrees), which makes the half vector a constant; powers are repeated squares, not pow().

const vec3 KEY_DIR = vec3(-0.4511, 0.5514, 0.7018);  // normalize(-0.45, 0.55, 0.70)
const vec3 HALF_DIR = vec3(-0.2445, 0.2989, 0.9224);  // normalize(KEY_DIR + (0, 0, 1))
const vec3 KEY_COLOR = vec3(1.00, 0.96, 0.90);
const vec3 SKY_COLOR = vec3(0.62, 0.68, 0.80);
const vec3 GROUND_COLOR = vec3(0.40, 0.34, 0.32);
const vec3 RIM_COLOR = vec3(0.75, 0.85, 1.00);
const vec3 TOON_SHADE = vec3(0.86, 0.82, 0.88);

// Soft studio light: wrapped diffuse (kinder to faces), sky/ground ambient, highlight, rim.
vec4 light_lit(vec3 n) {
    float diffuse = max(dot(n, KEY_DIR) * 0.8 + 0.2, 0.0);
    vec3 ambient = mix(GROUND_COLOR, SKY_COLOR, n.y * 0.5 + 0.5);
    float edge = 1.0 - max(n.z, 0.0);
    vec3 scale = KEY_COLOR * (diffuse * 0.85) + ambient * 0.45 + RIM_COLOR * (edge * edge * edge * 0.25);
    float s = max(dot(n, HALF_DIR), 0.0);
    s *= s; s *= s; s *= s; s *= s; s *= s;  // s^32
    return vec4(scale, s * 0.10);
}

// MToon-like, for toon materials that carry no MToon settings (unlit glTF, shading = "toon"):
// lit and shade colours with a soft band between them, and a thin rim.
vec4 light_toon(vec3 n) {
    float lit = smoothstep(-0.30, 0.0, dot(n, KEY_DIR));
    float edge = 1.0 - max(n.z, 0.0);
    edge *= edge;
    return vec4(mix(TOON_SHADE, vec3(1.0), lit) * KEY_COLOR + RIM_COLOR * (edge * edge * 0.22), 0.0);
}

// MToon as authored (engine/avatar/gltf.py: MToon) for toon materials that carry its settings.
// ``shade_range`` is where dot(n, light) turns from the shade colour into the lit one (from, to,
// and 1 for MToon 0.x's smoothstep or 0 for 1.0's linear step); ``rim`` is the fresnel power and
// lift. .rgb multiplies the texture; .a is the rim's fresnel term (the fragment adds it times
// the rim colour).
vec4 light_mtoon(vec3 n, vec3 lit_color, vec3 shade_color, vec3 shade_range, vec2 rim) {
    float t = clamp((dot(n, KEY_DIR) - shade_range.x) / (shade_range.y - shade_range.x), 0.0, 1.0);
    t = mix(t, t * t * (3.0 - 2.0 * t), shade_range.z);
    float fresnel = pow(max(1.0 - max(n.z, 0.0) + rim.y, 1e-6), rim.x);
    return vec4(mix(shade_color, lit_color, t) * KEY_COLOR, min(fresnel, 1.0));
}
