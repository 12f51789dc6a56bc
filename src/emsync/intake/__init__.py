"""EMsync intake."""
