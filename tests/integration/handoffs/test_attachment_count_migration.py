"""Migration 0026: each existing handoff's attachments are counted into `attachment_count`, so a
handoff with attachments stored before it still shows them (reads skip the select at 0)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from emsync.core import migrate

NOW = "2026-12-06 12:00:00.000000+00:00"


def _handoff(db: sqlite3.Connection, handoff_id: str) -> None:
    db.execute(
        "INSERT INTO handoffs (id, status, incident_id, hospital_id, key_id, wrapped_key, "
        "content_sealed, last_update_seq, created_by, created_at, updated_at, version) "
        "VALUES (?, 'sent', 'i-1', 'h-1', 'k-1', x'00', x'00', 0, 'crew', ?, ?, 1)",
        (handoff_id, NOW, NOW),
    )


def test_existing_attachments_are_counted(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0004_handoffs")
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute(
            "INSERT INTO handoff_hospital_keys (id, hospital_id, version, public_key, "
            "private_key_sealed, created_by, created_at) "
            "VALUES ('k-1', 'h-1', 1, x'00', x'00', 'admin', ?)",
            (NOW,),
        )
        _handoff(db, "with-two")
        _handoff(db, "with-none")
        for n in range(2):
            db.execute(
                "INSERT INTO handoff_attachments (id, handoff_id, kind, media_type, size, "
                "content_sealed, created_by, created_at) "
                "VALUES (?, 'with-two', 'ecg', 'application/pdf', 1, x'00', 'crew', ?)",
                (f"a-{n}", NOW),
            )

    migrate.upgrade(url)

    with sqlite3.connect(tmp_path / "old.db") as db:
        counts = dict(db.execute("SELECT id, attachment_count FROM handoffs").fetchall())
    assert counts == {"with-two": 2, "with-none": 0}
