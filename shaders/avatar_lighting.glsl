// Studio lighting for avatars, in view space: a warm key from the upper left, a cool sky/ground
// ambient, and a rim that separates the silhouette from any background.

const vec3 KEY_DIR = vec3(-0.45, 0.55, 0.70);
const vec3 KEY_COLOR = vec3(1.00, 0.96, 0.90);
const vec3 SKY_COLOR = vec3(0.62, 0.68, 0.80);
const vec3 GROUND_COLOR = vec3(0.40, 0.34, 0.32);
const vec3 RIM_COLOR = vec3(0.75, 0.85, 1.00);

vec3 shade_lit(vec3 albedo, vec3 n, vec3 v) {
    vec3 l = normalize(KEY_DIR);
    float ndl = dot(n, l);
    float diffuse = max(ndl * 0.8 + 0.2, 0.0);  // wrapped: soft terminator, kinder to faces
    vec3 ambient = mix(GROUND_COLOR, SKY_COLOR, n.y * 0.5 + 0.5);
    vec3 h = normalize(l + v);
    float specular = pow(max(dot(n, h), 0.0), 48.0) * 0.10 * step(0.0, ndl);
    float rim = pow(1.0 - max(dot(n, v), 0.0), 3.0) * 0.25;
    return albedo * (KEY_COLOR * diffuse * 0.85 + ambient * 0.45) + specular + rim * RIM_COLOR * albedo;
}

vec3 shade_toon(vec3 albedo, vec3 n, vec3 v) {
    vec3 l = normalize(KEY_DIR);
    float lit = smoothstep(-0.25, -0.05, dot(n, l));  // MToon-like: a narrow band between shade and lit
    vec3 shade = albedo * vec3(0.80, 0.74, 0.82);
    float rim = pow(1.0 - max(dot(n, v), 0.0), 4.0) * 0.22;
    return mix(shade, albedo, lit) * KEY_COLOR + rim * RIM_COLOR;
}
