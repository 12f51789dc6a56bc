"""Long-running parts of a process role (MQTT ingest, delivery retries, scheduled checks)."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class ProcessRole(StrEnum):
    API = "api"
    INGEST = "ingest"
    WORKER = "worker"


class BackgroundService(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
