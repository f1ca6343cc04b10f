"""Persona: a real-time avatar engine.

A webcam frame flows through an ordered list of stages (capture, track, retarget, render,
composite, output); see ``engine.app`` for the list and ``docs/architecture.md`` for the why.
"""

import os

# One BLAS thread, set before anything imports numpy or scipy. The engine's matrices are small
# (a 52-channel basis, 4x4 poses, spring chains), and OpenBLAS's second thread busy-waits after
# every call for the next one: on a 2-core machine it took the core llvmpipe and MediaPipe
# needed (measured: the photo avatar's live loop went from 76 % of frames on time and 65 ms of
# CPU per frame to 100 % and 47 ms; docs/performance.md). A user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
