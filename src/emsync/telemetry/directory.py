"""The ingest's view of devices: each device's binding, scale, revocation and unwrapped keys,
read from storage and cached for a few seconds (`mqtt.device_cache_seconds`).

A view is never used once it is older than its time to live: the bound on how long a revoked
device or key is still accepted by an ingest that did not see the change itself. It is read
again before that, in the background, once half of it has passed (`REFRESH_AFTER`).

Why. Every device of a bench or a ward is first seen within the same second, so every view
expired at the same moment, every `ttl`, and the batch that found them expired waited for the
reads (three queries, the keys unwrapped) before it could be opened, and every reading behind
it too. Traced in `emsync serve` under bench/ingest.py --latency-only --api-load on PostgreSQL
(20 devices, machine load 8-10): 48-186 ms per read, once every 5 s, the whole ingest stopped
each time; at a quiet machine's few ms per hop it is still several turns of the event loop.
Read ahead, the batches go on with views that are still within their time to live.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.incidents import patient_ages
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.keys import KeyValidity, unwrap
from emsync.telemetry.models import Device, DeviceKey

log = structlog.get_logger("emsync.telemetry.ingest")

# The share of its time to live after which a view in use is read again in the background.
REFRESH_AFTER = 0.5


@dataclass(slots=True)
class DeviceKeyView:
    algorithm: Algorithm
    key: bytes
    validity: KeyValidity


@dataclass(slots=True)
class DeviceView:
    patient_id: str | None
    spo2_scale: int
    revoked: bool
    keys: dict[int, DeviceKeyView] = field(default_factory=dict)
    age_years: int | None = None  # the bound patient's (a child is scored with PEWS)


class DeviceDirectory:
    """Devices and their unwrapped keys, cached for `ttl` seconds (unknown ids too, so a flood
    from an unregistered device costs one query per `ttl`, not one per message)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        ttl: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, DeviceView | None]] = {}
        # Per device, how often it was invalidated: a read that began before the last of them
        # may hold the view from before the change.
        self._changes: dict[str, int] = {}
        self._refresh: asyncio.Task[None] | None = None

    def get(self, device_id: str) -> DeviceView | None:
        hit = self._cache.get(device_id)
        return None if hit is None else hit[1]

    def use(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    def invalidate(self, device_id: str) -> None:
        self._cache.pop(device_id, None)
        self._changes[device_id] = self._changes.get(device_id, 0) + 1

    async def ensure(self, device_ids: Iterable[str]) -> None:
        """Every device in `device_ids` viewed as of at most `ttl` ago: those never read or
        expired are read now; those past REFRESH_AFTER of it are read again in the background
        (one read at a time), and used meanwhile."""
        now = self._clock()
        missing: list[str] = []
        ageing: list[str] = []
        for device_id in set(device_ids):
            hit = self._cache.get(device_id)
            if hit is None or now - hit[0] > self._ttl:
                missing.append(device_id)
            elif now - hit[0] > self._ttl * REFRESH_AFTER:
                ageing.append(device_id)
        if ageing and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(
                self._refresh_quietly(ageing, now, self._marks(ageing)),
                name="telemetry-device-refresh",
            )
        if missing:
            await self._read(missing, now, self._marks(missing))

    async def settled(self) -> None:
        """Once the background read under way, if any, has ended."""
        refresh = self._refresh
        if refresh is not None:
            await asyncio.wait([refresh])

    async def stop(self) -> None:
        """Cancel the background read under way (the ingest is stopping)."""
        refresh, self._refresh = self._refresh, None
        if refresh is not None and not refresh.done():
            refresh.cancel()
            await asyncio.wait([refresh])

    def _marks(self, device_ids: Sequence[str]) -> dict[str, int]:
        return {d: self._changes.get(d, 0) for d in device_ids}

    async def _refresh_quietly(
        self, device_ids: Sequence[str], now: float, marks: dict[str, int]
    ) -> None:
        try:
            await self._read(device_ids, now, marks)
        except Exception as exc:  # noqa: BLE001 - the views expire and are read in line then
            log.warning("telemetry device views not read ahead", error=type(exc).__name__)

    async def _read(self, device_ids: Sequence[str], now: float, marks: dict[str, int]) -> None:
        """Read `device_ids` and cache their views as of `now`, when the read was asked for
        (`marks`: their changes counted then)."""
        views: dict[str, DeviceView | None] = dict.fromkeys(device_ids)
        async with self._sessions() as session:
            for chunk in _chunks(device_ids, 500):
                for dev in await session.scalars(select(Device).where(Device.id.in_(chunk))):
                    views[dev.id] = DeviceView(
                        patient_id=dev.patient_id,
                        spo2_scale=dev.spo2_scale,
                        revoked=dev.revoked_at is not None,
                    )
                for k in await session.scalars(
                    select(DeviceKey).where(DeviceKey.device_id.in_(chunk))
                ):
                    view = views.get(k.device_id)
                    if view is None:
                        continue
                    view.keys[k.key_id] = DeviceKeyView(
                        algorithm=Algorithm(k.algorithm),
                        key=unwrap(
                            self._keyring, device_id=k.device_id, key_id=k.key_id, wrapped=k.wrapped
                        ),
                        validity=KeyValidity(
                            created_at=as_utc(k.created_at),
                            expires_at=as_utc(k.expires_at) if k.expires_at else None,
                            revoked_at=as_utc(k.revoked_at) if k.revoked_at else None,
                        ),
                    )
            bound = {v.patient_id for v in views.values() if v is not None and v.patient_id}
            ages = await patient_ages(session=session, patient_ids=sorted(bound))
            for view in views.values():
                if view is not None and view.patient_id is not None:
                    view.age_years = ages.get(view.patient_id)
        for device_id, view in views.items():
            held = self._cache.get(device_id)
            if held is not None and held[0] > now:
                continue  # read again meanwhile, after this read began
            # A device changed since the read was asked for: the view may be from before the
            # change, so it is used at most until the next `ensure`, which reads it afresh (a
            # batch being opened needs a view).
            fresh = self._changes.get(device_id, 0) == marks[device_id]
            self._cache[device_id] = (now if fresh else -math.inf, view)


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
