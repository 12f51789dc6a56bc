"""Identifiers: random UUIDs as text, so SQLite and PostgreSQL store them the same way."""

from __future__ import annotations

import uuid


def new_id() -> str:
    return str(uuid.uuid4())
