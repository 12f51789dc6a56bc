"""Live deterioration risk scores at rest: written in batches, read back by the monitor.

`RiskWatch` (live_risk.py) scores a patient as readings are stored and hands each score to
`RiskRecorder.record`, which only appends to a buffer: the score reaches the database on the
recorder's next round (every EMSYNC_TELEMETRY__RISK_FLUSH_SECONDS, and at stop), one
statement per round, never on the ingest path. A failed round keeps its scores for the next
one. Each row keeps in clear only what the history's index needs (patient, time, model
version); the score itself (probability, the earlier score, trend, hours observed) is sealed
under the keyring like the readings it came from, with associated data naming the row.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

import orjson
import structlog
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from emsync.core.background import Periodic
from emsync.core.clock import Clock, as_utc
from emsync.core.crypto import Keyring
from emsync.core.db import insert_ignoring_conflicts
from emsync.telemetry.models import StoredRiskScore
from emsync.telemetry.schemas import RiskRead

log = structlog.get_logger("emsync.telemetry.risk_scores")

# Scores waiting for a round beyond this many (a database away for long) are counted and the
# oldest let go: the newest score is what the monitor needs, and each one was pushed live.
BUFFER_LIMIT = 100_000
T = TypeVar("T")
_SEALED = ("probability", "previous", "trend", "hours_observed")


def risk_aad(patient_id: str, ts: datetime, model_version: str) -> bytes:
    return f"telemetry.risk:{patient_id}:{as_utc(ts).isoformat()}:{model_version}".encode()


def sealed_row(keyring: Keyring, score: RiskRead, scored_at: datetime) -> dict[str, Any]:
    """The row of one score, its values sealed."""
    values = {name: getattr(score, name) for name in _SEALED}
    aad = risk_aad(score.patient_id, score.ts, score.model_version)
    return {
        "patient_id": score.patient_id,
        "ts": score.ts,
        "model_version": score.model_version,
        "scored_at": scored_at,
        "sealed": keyring.seal(orjson.dumps(values), aad=aad),
    }


def open_row(keyring: Keyring, row: Any) -> RiskRead:
    """A stored score as the one wire shape of a score."""
    aad = risk_aad(row.patient_id, row.ts, row.model_version)
    values = orjson.loads(keyring.open(row.sealed, aad=aad))
    return RiskRead(
        patient_id=row.patient_id, ts=as_utc(row.ts), model_version=row.model_version, **values
    )


_COLUMNS = (
    StoredRiskScore.patient_id,
    StoredRiskScore.ts,
    StoredRiskScore.model_version,
    StoredRiskScore.sealed,
)


async def latest_risk(
    *, session: AsyncSession, keyring: Keyring, patient_id: str
) -> RiskRead | None:
    """The patient's newest stored score (its trend as it was pushed), if any."""
    row = (
        await session.execute(
            select(*_COLUMNS)
            .where(StoredRiskScore.patient_id == patient_id)
            .order_by(StoredRiskScore.ts.desc(), StoredRiskScore.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else open_row(keyring, row)


async def risk_history(
    *,
    session: AsyncSession,
    keyring: Keyring,
    patient_id: str,
    start: datetime,
    end: datetime,
    limit: int,
) -> list[RiskRead]:
    """Stored scores in [start, end], oldest first; more than `limit` are thinned evenly (the
    newest always kept), as a chart needs them."""
    rows = (
        await session.execute(
            select(*_COLUMNS)
            .where(
                StoredRiskScore.patient_id == patient_id,
                StoredRiskScore.ts >= start,
                StoredRiskScore.ts <= end,
            )
            .order_by(StoredRiskScore.ts, StoredRiskScore.id)
        )
    ).all()
    return [open_row(keyring, row) for row in thinned(list(rows), limit)]


async def recent_risk(
    *, session: AsyncSession, keyring: Keyring, patient_id: str, since: datetime
) -> list[tuple[datetime, float]]:
    """The patient's stored scores at or after `since`, oldest first: (ts, probability)."""
    rows = (
        await session.execute(
            select(*_COLUMNS)
            .where(StoredRiskScore.patient_id == patient_id, StoredRiskScore.ts >= since)
            .order_by(StoredRiskScore.ts, StoredRiskScore.id)
            .limit(1000)
        )
    ).all()
    return [(score.ts, score.probability) for score in (open_row(keyring, r) for r in rows)]


def thinned(items: list[T], limit: int) -> list[T]:
    """At most `limit` of `items`, evenly spaced, the last one always among them."""
    if len(items) <= limit:
        return items
    step = len(items) / limit
    last = len(items) - 1
    return [items[last - int(i * step)] for i in range(limit)][::-1]


class RiskRecorder:
    """BackgroundService of the process that scores (see live_risk.RiskWatch): the buffer of
    scores not yet stored, and the rounds that store them."""

    name = "telemetry.risk_recorder"

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        keyring: Keyring,
        clock: Clock,
        interval: Callable[[], float],
        limit: int = BUFFER_LIMIT,
    ) -> None:
        self._engine = engine
        self._keyring = keyring
        self._clock = clock
        self._pending: deque[RiskRead] = deque()
        self._limit = limit
        self.dropped = 0
        # RETURNING: asyncpg reports no row count for an executemany.
        self._insert = insert_ignoring_conflicts(
            cast(Table, StoredRiskScore.__table__), engine.dialect.name
        ).returning(StoredRiskScore.id)
        self._periodic = Periodic("telemetry-risk-recorder", interval, self.flush)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def record(self, score: RiskRead) -> None:
        """Queue a score for the next round (no I/O: called as readings are scored)."""
        if len(self._pending) >= self._limit:
            self._pending.popleft()
            self.dropped += 1
            log.warning("risk score buffer full; oldest score not stored", dropped=self.dropped)
        self._pending.append(score)

    async def flush(self) -> int:
        """Store every queued score in one statement; rows newly written. On failure the scores
        stay queued (ahead of newer ones) and the error is raised for the round to log."""
        if not self._pending:
            return 0
        batch = list(self._pending)
        self._pending.clear()
        now = self._clock()
        try:
            rows = [sealed_row(self._keyring, score, now) for score in batch]
            async with self._engine.begin() as conn:
                written = len((await conn.execute(self._insert, rows)).all())
        except BaseException:
            self._pending.extendleft(reversed(batch))
            raise
        return written

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        try:
            await self.flush()  # what was scored before the stop is kept
        except Exception as exc:  # noqa: BLE001 - logged; nothing else can be done at stop
            log.error("risk scores not stored at stop", pending=self.pending, error=repr(exc))
