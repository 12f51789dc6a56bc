"""EMsync hospitals."""
