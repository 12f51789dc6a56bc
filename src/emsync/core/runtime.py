"""What a running app holds (built once by the composition root) and the typed dependencies
routes use to reach it. Nothing here is created at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from emsync.core.clock import Clock
from emsync.core.crypto import Keyring
from emsync.core.db import read_session_factory
from emsync.core.events import EventBus
from emsync.core.metrics import Metrics
from emsync.core.settings import Settings
from emsync.core.uow import UnitOfWork

T = TypeVar("T")


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    keyring: Keyring
    metrics: Metrics
    clock: Clock
    # Domain services (audit log, routing engine, realtime hub...) keyed by their type.
    _services: dict[type[Any], Any] = field(default_factory=dict)
    # Sessions for work that only reads: they never queue behind writers (see core.db).
    read_sessions: async_sessionmaker[AsyncSession] = field(init=False)

    def __post_init__(self) -> None:
        self.read_sessions = read_session_factory(self.engine)

    def provide(self, service: object, as_type: type[Any] | None = None) -> None:
        self._services[as_type or type(service)] = service

    def get(self, kind: type[T]) -> T:
        try:
            return cast(T, self._services[kind])
        except KeyError:
            raise LookupError(f"{kind.__name__} is not provided by this app") from None

    def find(self, kind: type[T]) -> T | None:
        return cast(T | None, self._services.get(kind))


async def get_runtime(conn: HTTPConnection) -> Runtime:
    # async, though it awaits nothing: FastAPI runs a plain `def` dependency in its thread pool,
    # a thread hop on every request for an attribute read.
    return cast(Runtime, conn.app.state.runtime)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_read_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.read_sessions() as session:
        yield session


# For routes that only read: on SQLite they never queue behind writers; a write fails.
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]


async def get_uow(runtime: RuntimeDep) -> AsyncIterator[UnitOfWork]:
    async with runtime.sessions() as session:
        yield UnitOfWork(session, runtime.bus)


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
