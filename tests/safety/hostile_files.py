"""Small hostile files for the loader tests: GLB containers, glTF documents, PNG headers."""

from __future__ import annotations

import base64
import json
import struct
import zlib

import numpy as np


def glb(document: dict, binary: bytes) -> bytes:
    """A GLB container holding ``document`` as its JSON chunk and ``binary`` as its BIN chunk."""
    text = json.dumps(document, allow_nan=True).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\x00" * (-len(binary) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(binary),
                                                                        b"BIN\x00") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


TRIANGLE = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32).tobytes()


def triangle_gltf(nodes: list[dict], embedded: bool = True) -> dict:
    """A glTF document with one triangle mesh placed by ``nodes``; its buffer is a base64 data
    URI, or (``embedded=False``) the GLB binary chunk ``TRIANGLE``."""
    buffer = {"byteLength": len(TRIANGLE)}
    if embedded:
        buffer["uri"] = ("data:application/octet-stream;base64,"
                         + base64.b64encode(TRIANGLE).decode("ascii"))
    return {
        "asset": {"version": "2.0"},
        "buffers": [buffer],
        "bufferViews": [{"buffer": 0, "byteLength": len(TRIANGLE)}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "nodes": nodes,
        "scenes": [{"nodes": [0]}],
    }


def png_claiming(width: int, height: int) -> bytes:
    """A 70-byte grey PNG whose header claims ``width`` x ``height`` (the pixel data is a stub:
    a reader that decodes before checking the size is the one that suffers)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
