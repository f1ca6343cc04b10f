// Studio lighting for avatars, in view space: a warm key from the upper left, a cool sky/ground
// ambient, a small highlight and a rim that separates the silhouette from any background.
//
// Every fragment of a 720p avatar runs this on the CPU under llvmpipe, so it is written to be
// cheap: the viewer is taken to look straight down -z (the head fills a narrow field of view, so
// the error is a few degrees), which makes the half vector a constant, and powers are repeated
// squares instead of pow() (exp2/log2 are long polynomials on the CPU).

const vec3 KEY_DIR = vec3(-0.4511, 0.5514, 0.7018);  // normalize(-0.45, 0.55, 0.70)
const vec3 HALF_DIR = vec3(-0.2445, 0.2989, 0.9224);  // normalize(KEY_DIR + (0, 0, 1))
const vec3 KEY_COLOR = vec3(1.00, 0.96, 0.90);
const vec3 SKY_COLOR = vec3(0.62, 0.68, 0.80);
const vec3 GROUND_COLOR = vec3(0.40, 0.34, 0.32);
const vec3 RIM_COLOR = vec3(0.75, 0.85, 1.00);

vec3 shade_lit(vec3 albedo, vec3 n) {
    float ndl = dot(n, KEY_DIR);
    float diffuse = max(ndl * 0.8 + 0.2, 0.0);  // wrapped: soft terminator, kinder to faces
    vec3 ambient = mix(GROUND_COLOR, SKY_COLOR, n.y * 0.5 + 0.5);
    float s = max(dot(n, HALF_DIR), 0.0);
    s *= s; s *= s; s *= s; s *= s; s *= s;  // s^32
    float edge = 1.0 - max(n.z, 0.0);
    float rim = edge * edge * edge * 0.25;
    return albedo * (KEY_COLOR * (diffuse * 0.85) + ambient * 0.45 + RIM_COLOR * rim) + s * 0.10;
}

vec3 shade_toon(vec3 albedo, vec3 n) {
    float lit = smoothstep(-0.30, 0.0, dot(n, KEY_DIR));  // MToon-like: a soft band between shade and lit
    vec3 shade = albedo * vec3(0.86, 0.82, 0.88);
    float edge = 1.0 - max(n.z, 0.0);
    float rim = edge * edge * edge * edge * 0.22;
    return mix(shade, albedo, lit) * KEY_COLOR + rim * RIM_COLOR;
}
