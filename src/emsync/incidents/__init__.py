"""EMsync incidents."""
