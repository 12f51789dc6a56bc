"""EMsync handoffs."""
