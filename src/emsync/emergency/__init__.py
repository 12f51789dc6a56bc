"""EMsync emergency."""
