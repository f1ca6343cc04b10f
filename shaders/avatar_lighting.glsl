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

// MToon-like: lit and shade colours with a soft band between them, and a thin rim.
vec4 light_toon(vec3 n) {
    float lit = smoothstep(-0.30, 0.0, dot(n, KEY_DIR));
    float edge = 1.0 - max(n.z, 0.0);
    edge *= edge;
    return vec4(mix(TOON_SHADE, vec3(1.0), lit) * KEY_COLOR + RIM_COLOR * (edge * edge * 0.22), 0.0);
}
