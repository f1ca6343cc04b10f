"""Neural face reenactment: a FOMM-compatible model, its checkpoints, the live avatar kind,
the trainer and the benchmark (docs/neural.md)."""
