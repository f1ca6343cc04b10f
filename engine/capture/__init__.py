"""Video sources: webcam, video file, still image and a synthetic performer, behind ``Source``."""
