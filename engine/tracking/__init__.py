"""Face tracking: landmarks, head pose, gaze and ARKit-52 blendshapes behind ``Tracker``."""
