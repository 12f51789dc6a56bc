"""EMsync core."""
