"""Per-window artefact checks, off the ingest hot path: flat lines and the window forest.

Reacts to `VitalsReceived` (after the batch is stored): keeps each patient's last readings, and
runs the flat-line rule and the Isolation Forest (`anomaly.py`) over them in a worker thread,
from a task of its own (never in the pipeline's).
A reading is judged once its successor has arrived (the forest looks at both neighbours), so
flags come one reading late; each is published once on `vitals:<patient_id>` as an `artefacts`
message (`{patient_id, readings: [{ts, artefacts: [{field, kind}]}]}`) for the monitor to mark.
These checks only flag: the per-reading rules alone take values out of a score.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from emsync.telemetry.anomaly import CHANNELS, IsolationForestModel, window_features
from emsync.telemetry.artefacts import ArtefactKind, flat_runs
from emsync.telemetry.events import VitalsReceived
from emsync.telemetry.schemas import ArtefactsPush

WINDOW = 64  # readings kept per patient
FOREST = Path(__file__).resolve().parent / "artifacts" / "artefact-forest.json"

log = structlog.get_logger("emsync.telemetry.artefacts")

Publish = Callable[[str, str, Any], object]


def judge_window(
    rows: list[tuple[datetime, dict[str, Any]]], forest: IsolationForestModel | None
) -> dict[int, list[dict[str, str]]]:
    """Index -> flags for the readings of one window (the last one is not judged yet)."""
    if len(rows) < 3:
        return {}
    times = [ts for ts, _ in rows]
    flags: dict[int, list[dict[str, str]]] = {}
    for start, end in flat_runs(times, [values.get("hr") for _, values in rows]):
        for i in range(start, end + 1):
            flags.setdefault(i, []).append({"field": "hr", "kind": ArtefactKind.FLAT_LINE.value})
    if forest is not None:
        t0 = times[0]
        minutes = [(ts - t0).total_seconds() / 60.0 for ts in times]
        series = {c: [values.get(c) for _, values in rows] for c in CHANNELS}
        x = window_features(minutes, series)
        for i in np.nonzero(forest.flags(x))[0][:-1] if len(x) else []:
            channel = CHANNELS[int(np.argmax(x[i, : len(CHANNELS)]))]
            flags.setdefault(int(i), []).append(
                {"field": channel, "kind": ArtefactKind.ANOMALY.value}
            )
    return {i: f for i, f in flags.items() if i < len(rows) - 1}


class ArtefactWindows:
    """Each patient's window, judged in a task of its own after the readings arrive.

    `on_vitals` only appends (the pipeline awaits its reactions before it stores the next
    batch: a judge awaited there held every patient's next readings back, bench/ingest.py p50
    1.6 s at 2,000 readings/s). The judge takes every patient with new readings in one round,
    and the readings that arrive meanwhile in the next: under load rounds grow, not queues. A
    window holds WINDOW readings, so a patient sending more than that during one round (over
    60 readings in a few milliseconds) would have the oldest unjudged: flags only, never values.
    """

    def __init__(self, publish: Publish, forest_path: Path = FOREST) -> None:
        self._publish = publish
        self._forest = IsolationForestModel.load(forest_path) if forest_path.exists() else None
        self._rows: dict[str, deque[tuple[datetime, dict[str, Any]]]] = {}
        self._reported: dict[str, set[datetime]] = {}
        self._dirty: dict[str, None] = {}  # patients with unjudged readings, in arrival order
        self._judge: asyncio.Task[None] | None = None
        self.name = "artefact-windows"  # a BackgroundService: stopped with the process

    async def start(self) -> None:
        return None  # the judge starts with the first readings

    async def on_vitals(self, event: VitalsReceived) -> None:
        rows = self._rows.setdefault(event.patient_id, deque(maxlen=WINDOW))
        added = False
        for reading in event.readings:
            ts = reading.get("ts")
            if not isinstance(ts, str):
                continue
            at = datetime.fromisoformat(ts)
            if rows and at <= rows[-1][0]:
                continue  # a redelivered or late reading: the window stays in time order
            rows.append((at, reading))
            added = True
        if not added:
            return
        self._dirty[event.patient_id] = None
        if self._judge is None or self._judge.done():
            self._judge = asyncio.create_task(self._rounds(), name="artefact-judge")

    async def settled(self) -> None:
        """Until every reading received so far is judged and its flags published."""
        while self._judge is not None and not self._judge.done():
            await asyncio.shield(self._judge)

    async def stop(self) -> None:
        if self._judge is not None and not self._judge.done():
            self._judge.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._judge

    async def _rounds(self) -> None:
        while self._dirty:
            windows = [(p, list(self._rows[p])) for p in self._dirty]
            self._dirty.clear()
            try:
                judged = await asyncio.to_thread(self._judge_all, windows)
            except Exception as exc:  # noqa: BLE001 - flags only: the next round judges again
                log.error("artefact judge failed", error=type(exc).__name__)
                continue
            for (patient_id, window), flags in zip(windows, judged, strict=True):
                self._report(patient_id, window, flags)

    def _judge_all(
        self, windows: list[tuple[str, list[tuple[datetime, dict[str, Any]]]]]
    ) -> list[dict[int, list[dict[str, str]]]]:
        return [judge_window(window, self._forest) for _, window in windows]

    def _report(
        self,
        patient_id: str,
        window: list[tuple[datetime, dict[str, Any]]],
        flags: dict[int, list[dict[str, str]]],
    ) -> None:
        reported = self._reported.setdefault(patient_id, set())
        fresh = [
            {"ts": window[i][0].isoformat(), "artefacts": found}
            for i, found in sorted(flags.items())
            if window[i][0] not in reported
        ]
        if not fresh:
            return
        reported.update(window[i][0] for i in flags)
        oldest = window[0][0]
        self._reported[patient_id] = {ts for ts in reported if ts >= oldest}
        push = ArtefactsPush.model_validate({"patient_id": patient_id, "readings": fresh})
        self._publish(f"vitals:{patient_id}", "artefacts", push.model_dump(mode="json"))
