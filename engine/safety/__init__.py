"""Trust and safety: consent manifests, disclosure badge and watermark, encryption, audit log."""
