"""Notifications and on-call paging (placeholder docstring; public API below)."""
