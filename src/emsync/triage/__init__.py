"""EMsync triage."""
