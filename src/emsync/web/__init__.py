"""EMsync web."""
