"""Real-time voice morphing with the WORLD vocoder."""
