"""Render a face mesh textured with a real photo at a known head pose (ground truth for tests).

The photo's own MediaPipe landmarks are the texture coordinates of the mesh's vertices, so the
rendered face shows the photo's skin, eyes and mouth where the mesh has them. Vertices are
projected by the same pinhole model the tracker assumes; the shader only interpolates.
"""

from __future__ import annotations

import numpy as np

from engine.tracking.head_pose import FACING_CAMERA, Intrinsics, rotation_from_yaw_pitch_roll

VERTEX_SHADER = """
#version 330
in vec4 clip;
in vec2 uv;
in vec3 normal;
out vec2 v_uv;
out vec3 v_normal;
void main() { gl_Position = clip; v_uv = uv; v_normal = normal; }
"""
FRAGMENT_SHADER = """
#version 330
uniform sampler2D photo;
in vec2 v_uv;
in vec3 v_normal;
out vec4 color;
// A light above and in front of the face, in camera axes (y down, z forward), so shading moves
// with the head the way it would on a real one.
const vec3 LIGHT = normalize(vec3(0.2, -0.6, -1.0));
void main() {
    float diffuse = max(dot(normalize(v_normal), LIGHT), 0.0);
    color = vec4(texture(photo, v_uv).rgb * (0.35 + 0.75 * diffuse), 1.0);
}
"""
NEAR, FAR = 10.0, 200.0


class FaceRenderer:
    """Draws ``vertices`` (N, 3 cm, face frame) with ``triangles`` and per-vertex ``uvs``."""

    def __init__(self, ctx, photo: np.ndarray, vertices: np.ndarray, triangles: np.ndarray,
                 uvs: np.ndarray, size: tuple[int, int] = (640, 480)) -> None:
        self.ctx, self.size = ctx, size
        self.vertices = vertices.astype(np.float64)
        self.intrinsics = Intrinsics.for_frame(*size)
        self.program = ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=FRAGMENT_SHADER)
        self.texture = ctx.texture((photo.shape[1], photo.shape[0]), 3,
                                   np.ascontiguousarray(photo).tobytes())
        self.texture.build_mipmaps()
        self.clip = ctx.buffer(reserve=len(vertices) * 16)
        self.normals = vertex_normals(vertices, triangles)
        self.normal = ctx.buffer(reserve=len(vertices) * 12)
        self.uv = ctx.buffer(uvs.astype("f4").tobytes())
        self.index = ctx.buffer(triangles.astype("i4").tobytes())
        self.vao = ctx.vertex_array(self.program, [(self.clip, "4f", "clip"), (self.uv, "2f", "uv"),
                                                   (self.normal, "3f", "normal")],
                                    index_buffer=self.index)
        self.fbo = ctx.simple_framebuffer(size)

    def render(self, yaw: float, pitch: float, roll: float = 0.0,
               distance_cm: float = 45.0) -> np.ndarray:
        """(H, W, 3) uint8 RGB image of the face at the pose (degrees), centred in the frame."""
        width, height = self.size
        rotation = FACING_CAMERA @ rotation_from_yaw_pitch_roll(yaw, pitch, roll)
        camera = self.vertices @ rotation.T + np.array([0.0, 0.0, distance_cm])
        k = self.intrinsics
        px = k.fx * camera[:, 0] / camera[:, 2] + k.cx
        py = k.fy * camera[:, 1] / camera[:, 2] + k.cy
        w = camera[:, 2]
        ndc = np.stack([px / width * 2 - 1, 1 - py / height * 2,
                        (w - NEAR) / (FAR - NEAR) * 2 - 1], axis=1)
        clip = np.concatenate([ndc * w[:, None], w[:, None]], axis=1)
        self.clip.write(clip.astype("f4").tobytes())
        self.normal.write((self.normals @ rotation.T).astype("f4").tobytes())
        self.fbo.use()
        self.fbo.clear(0.45, 0.45, 0.45, 1.0, depth=1.0)
        self.ctx.enable(self.ctx.DEPTH_TEST)
        self.texture.use(0)
        self.program["photo"].value = 0
        self.vao.render()
        pixels = np.frombuffer(self.fbo.read(components=3), np.uint8).reshape(height, width, 3)
        return np.ascontiguousarray(pixels[::-1])

    def release(self) -> None:
        for resource in (self.vao, self.index, self.uv, self.normal, self.clip, self.texture,
                         self.program, self.fbo):
            resource.release()


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, oriented towards +z (out of the face)."""
    v = vertices.astype(np.float64)
    face = np.cross(v[triangles[:, 1]] - v[triangles[:, 0]],
                    v[triangles[:, 2]] - v[triangles[:, 0]])
    face *= np.where(face[:, 2:3] < 0, -1.0, 1.0)
    normals = np.zeros_like(v)
    for corner in range(3):
        np.add.at(normals, triangles[:, corner], face)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.where(length > 0, length, 1.0)


def load_obj(path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) and triangles (T, 3, 0-based) of a Wavefront OBJ with triangle faces."""
    vertices, faces = [], []
    for line in open(path):
        if line.startswith("v "):
            vertices.append([float(v) for v in line.split()[1:4]])
        elif line.startswith("f "):
            faces.append([int(part.split("/")[0]) - 1 for part in line.split()[1:4]])
    return np.array(vertices), np.array(faces, np.int32)
