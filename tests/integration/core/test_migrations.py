"""Every migration goes down as well as up: an operator who rolls a release back runs
`emsync db downgrade`, and a downgrade that leaves a function or table behind makes the next
upgrade fail (0022's PostgreSQL search trigger function did, until this test)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from emsync.core import migrate

# What PostgreSQL lists that the migrations own: tables, views, sequences, indexes, functions and
# triggers in the public schema; functions that an extension owns (pg_trgm, btree_gist) stay with
# the extension, which a downgrade leaves installed.
PG_OBJECTS = """
SELECT 'relation ' || c.relname || ' ' || c.relkind::text FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
UNION ALL
SELECT 'function ' || p.proname FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT 'trigger ' || t.tgname || ' on ' || c.relname FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND NOT t.tgisinternal
UNION ALL
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
  FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
"""
SQLITE_OBJECTS = "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master"
BOOKKEEPING = ("alembic_version", "sqlite_sequence")


async def _objects(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await _list(conn)
    finally:
        await engine.dispose()


async def _list(conn: AsyncConnection) -> set[str]:
    query = PG_OBJECTS if conn.dialect.name == "postgresql" else SQLITE_OBJECTS
    rows = (await conn.execute(text(query))).scalars().all()
    return {row for row in rows if not any(name in row for name in BOOKKEEPING)}


def test_every_migration_downgrades_to_nothing_and_upgrades_to_the_same_schema(
    database_url: str,
) -> None:
    # Synchronous: Alembic runs the async engine in an event loop of its own.
    at_head = asyncio.run(_objects(database_url))
    assert at_head

    migrate.downgrade(database_url, "base")
    assert asyncio.run(_objects(database_url)) == set()

    migrate.upgrade(database_url)
    assert asyncio.run(_objects(database_url)) == at_head
