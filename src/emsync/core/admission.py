"""Admission: a few API requests at a time on the event loop, so that the telemetry pipeline
and the WebSocket pushes that share it get their turn.

Why. One process serves the dashboards and ingests the monitors (the embedded profile). The
event loop runs its ready callbacks in turn; with 50 dashboards polling, each turn ran ~50
request steps, and a reading needs about five turns from the broker to the WebSocket
(bench/ingest.py --latency-only --api-load at 2,000 readings/s: telemetry p50 6 s, loop lag p99
411 ms; with two API requests at a time p50 0.3 s, lag 80 ms, and more API requests/s, since
the CPU is the limit either way).

A turn is a lease: it is handed to the next request when this one finishes or after `lease`
seconds, whichever comes first; the request itself runs on. So a request that holds its turn
idle (a slow upload or reader, an external call) delays the others by at most the lease, never
starves them. Requests wait in arrival order. Only `/api/` HTTP requests take turns: health,
metrics, the dashboard's files and the WebSocket pass freely.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIX = "/api/"


class Admission:
    def __init__(self, app: ASGIApp, *, slots: int, lease: float) -> None:
        self._app = app
        self._slots = asyncio.Semaphore(slots) if slots > 0 else None
        self._lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: Any = scope.get("path", "")
        slots = self._slots
        if slots is None or scope["type"] != "http" or not path.startswith(API_PREFIX):
            await self._app(scope, receive, send)
            return
        await slots.acquire()
        held = True

        def hand_on() -> None:
            nonlocal held
            if held:
                held = False
                slots.release()

        expiry = asyncio.get_running_loop().call_later(self._lease, hand_on)
        try:
            await self._app(scope, receive, send)
        finally:
            expiry.cancel()
            hand_on()
