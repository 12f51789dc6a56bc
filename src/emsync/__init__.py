"""EMsync: emergency medical coordination hub."""

__version__ = "0.1.0"
