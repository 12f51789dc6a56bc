"""EMsync telemetry."""
