"""EMsync routing."""
