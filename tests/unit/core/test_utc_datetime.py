"""UTCDateTime's one-call result processing gives what TypeDecorator's chain (the dialect's
processing, then process_result_value) gives, on both dialects."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from emsync.core.db import UTCDateTime

HELSINKI = timezone(timedelta(hours=2))


def _chained(dialect: Dialect, value: Any) -> datetime | None:
    """What SQLAlchemy's own TypeDecorator.result_processor makes of the value."""
    typ = cast(UTCDateTime, UTCDateTime().dialect_impl(dialect))
    process: Callable[[Any], datetime | None] | None = TypeDecorator.result_processor(
        typ, dialect, None
    )
    assert process is not None
    return process(value)


def _ours(dialect: Dialect, value: Any) -> datetime | None:
    process = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert process is not None
    return process(value)


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "2026-12-07 19:52:12.123456",
        "2026-12-07 19:52:12",
        "0001-01-01 00:00:00.000000",
        "9999-12-31 23:59:59.999999",
    ],
)
def test_sqlite_text_reads_back_as_the_chain_reads_it(stored: str | None) -> None:
    dialect = sqlite.dialect()
    ours = _ours(dialect, stored)
    assert ours == _chained(dialect, stored)
    if ours is not None:
        assert ours.tzinfo is UTC


@pytest.mark.parametrize(
    "stored",
    [
        None,
        datetime(2026, 12, 7, 19, 52, 12, 5, tzinfo=UTC),
        datetime(2026, 12, 7, 21, 52, 12, tzinfo=HELSINKI),
        datetime(2026, 12, 7, 19, 52, 12),  # naive: read as UTC
    ],
)
def test_postgresql_values_read_back_as_the_chain_reads_them(stored: datetime | None) -> None:
    dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
    ours = _ours(dialect, stored)
    chained = _chained(dialect, stored)
    assert ours == chained
    if ours is not None and chained is not None:
        assert ours.tzinfo is UTC
        assert chained.tzinfo is UTC
