"""The registry's candidate lookup must search its blind-key index, not scan every key: SQLite
plans a row-value `(kind, blind) IN (...)` as a full scan (80 ms per search at 100k persons,
bench/registry.py), so the query is written as OR-ed `kind = ? AND blind IN (...)` terms."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.dialects import sqlite

from emsync.registry.candidates import keys_query


def _plan(db: Path, sql: str) -> str:
    with sqlite3.connect(db) as conn:
        return " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))


def test_the_candidate_query_searches_the_key_index_on_sqlite(sqlite_template: Path) -> None:
    query = keys_query({"dob": ["a1", "a2"], "fam": ["b1"], "given": ["c1"]})
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    plan = _plan(sqlite_template, sql)
    assert "USING INDEX ix_registry_keys_lookup (kind=? AND blind=?)" in plan, plan
    assert "SCAN registry_keys" not in plan, plan


def test_the_row_value_form_would_scan(sqlite_template: Path) -> None:
    """The failure mode this guards against, shown on the same database (so the first test
    fails if someone goes back to the row-value form)."""
    sql = (
        "SELECT person_id FROM registry_keys WHERE (kind, blind) IN (('dob', 'a1'), ('fam', 'b1'))"
    )
    assert "SCAN registry_keys" in _plan(sqlite_template, sql)
