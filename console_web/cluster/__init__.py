"""Several console nodes as one console: routing through Redis (see docs/architecture.md, "Console scale-out")."""
