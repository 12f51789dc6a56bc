"""EMsync auth."""
