"""Persona: a real-time avatar engine.

A webcam frame flows through an ordered list of stages (capture, track, retarget, render,
composite, output); see ``engine.app`` for the list and ``docs/architecture.md`` for the why.
"""

__version__ = "0.1.0"
