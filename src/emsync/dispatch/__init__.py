"""EMsync dispatch."""
