"""Video sources: webcam, video file, still image and a synthetic picture, behind ``Source``.

``open_source(spec)`` (``engine.capture.factory``) turns the ``--source`` text into a source,
not yet started::

    webcam              the first camera
    webcam:1            camera index 1
    webcam:Logitech     the camera whose name contains "Logitech"
    synthetic           a moving test picture, no camera needed
    PATH                a video or a still image
"""

from engine.capture.base import Source
from engine.capture.factory import open_source

__all__ = ["Source", "open_source"]
