"""The "photo" avatar kind: one photograph warped live by a fitted face mesh (docs/avatars.md)."""
