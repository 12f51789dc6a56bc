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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from pydantic import TypeAdapter

from emsync.telemetry.anomaly import CHANNELS, FloatArray, IsolationForestModel, window_features
from emsync.telemetry.artefacts import ArtefactKind, flat_runs
from emsync.telemetry.events import VitalsReceived

WINDOW = 64  # readings kept per patient
# A judge round at most this often: flags are for the monitor to mark, a quarter of a second
# later is soon, and a round per batch took the CPU the pushes needed (bench/ingest.py).
ROUND_SECONDS = 0.25
FOREST = Path(__file__).resolve().parent / "artifacts" / "artefact-forest.json"

log = structlog.get_logger("emsync.telemetry.artefacts")

Publish = Callable[[str, str, Any], object]


Rows = list[tuple[datetime, dict[str, Any]]]
Flags = dict[int, list[dict[str, str]]]

_DATETIME = TypeAdapter(datetime)
_MINUTE = timedelta(minutes=1)


def json_time(at: datetime) -> str:
    """`at` as pydantic renders a datetime in JSON mode (ArtefactsPush's `ts`), without pydantic.

    A round built the push as an ArtefactsPush and dumped it: validating what this module had
    just built cost more than the judge's own work on the event loop (bench/ingest.py at 2,000
    readings/s, whose readings are all flat lines: 5-7 % of the loop). isoformat is the same
    text except that pydantic writes UTC as "Z"; an offset with seconds (not RFC 3339, never
    parsed from a device) goes to pydantic itself.
    """
    text = at.isoformat()
    if text.endswith("+00:00"):
        return text[:-6] + "Z"
    offset = at.utcoffset()
    if offset is not None and offset % _MINUTE:
        return str(_DATETIME.dump_python(at, mode="json"))
    return text


def judge_window(rows: Rows, forest: IsolationForestModel | None) -> Flags:
    """Index -> flags for the readings of one window (the last one is not judged yet)."""
    return judge_windows([(rows, 0)], forest)[0]


def judge_windows(
    windows: list[tuple[Rows, int]], forest: IsolationForestModel | None
) -> list[Flags]:
    """`judge_window` for several windows, the forest asked about all of them in one call and
    only about each window's readings from its index on: a reading's forest verdict depends on
    it and its two neighbours, so it is final once its successor is in (judged before then)."""
    out: list[Flags] = []
    pending: list[tuple[Flags, int, FloatArray]] = []  # flags, index of x[0], features
    for rows, first in windows:
        flags: Flags = {}
        out.append(flags)
        if len(rows) < 3:
            continue
        times = [ts for ts, _ in rows]
        for start, end in flat_runs(times, [values.get("hr") for _, values in rows]):
            for i in range(start, end + 1):
                flags.setdefault(i, []).append(
                    {"field": "hr", "kind": ArtefactKind.FLAT_LINE.value}
                )
        begin = max(first - 1, 0)  # the first reading asked about, with its predecessor
        if forest is not None and len(rows) - begin >= 2:
            t0 = times[begin]
            minutes = [(ts - t0).total_seconds() / 60.0 for ts in times[begin:]]
            series = {c: [values.get(c) for _, values in rows[begin:]] for c in CHANNELS}
            pending.append((flags, begin, window_features(minutes, series)))
    if forest is not None and pending:
        # The features a reading gets only with its predecessor in view: skip the row kept
        # for that (begin > 0), and the last (no successor yet).
        asked = [(f, begin, x, 1 if begin else 0) for f, begin, x in pending]
        flagged = forest.flags(np.vstack([x[skip:-1] for _, _, x, skip in asked]))
        at = 0
        for flags, begin, x, skip in asked:
            n = len(x) - 1 - skip
            for j in np.nonzero(flagged[at : at + n])[0]:
                row = x[skip + int(j)]
                channel = CHANNELS[int(np.argmax(row[: len(CHANNELS)]))]
                flags.setdefault(begin + skip + int(j), []).append(
                    {"field": channel, "kind": ArtefactKind.ANOMALY.value}
                )
            at += n
    return [
        {i: f for i, f in flags.items() if i < len(rows) - 1}
        for flags, (rows, _) in zip(out, windows, strict=True)
    ]


class ArtefactWindows:
    """Each patient's window, judged in a task of its own after the readings arrive.

    `on_vitals` only appends (the pipeline awaits its reactions before it stores the next
    batch: a judge awaited there held every patient's next readings back, bench/ingest.py p50
    1.6 s at 2,000 readings/s). A round, at most every `round_seconds`, takes every patient
    with new readings and asks the forest about those readings only, all patients in one call;
    what arrives meanwhile waits for the next round: under load rounds grow, not queues. A
    window holds WINDOW readings, so a patient sending more than that within one round (over
    250 readings/s) would have the oldest unjudged: flags only, never values.
    """

    def __init__(
        self, publish: Publish, forest_path: Path = FOREST, round_seconds: float = ROUND_SECONDS
    ) -> None:
        self._publish = publish
        self._round_seconds = round_seconds
        self._forest = IsolationForestModel.load(forest_path) if forest_path.exists() else None
        self._rows: dict[str, deque[tuple[datetime, dict[str, Any]]]] = {}
        self._reported: dict[str, set[datetime]] = {}
        # Per patient, the newest reading with a final forest verdict: later rounds ask the
        # forest only about the readings after it.
        self._judged: dict[str, datetime] = {}
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
        loop = asyncio.get_running_loop()
        while self._dirty:
            started = loop.time()
            windows = [(p, list(self._rows[p])) for p in self._dirty]
            self._dirty.clear()
            asked = [(window, self._first_unjudged(p, window)) for p, window in windows]
            try:
                judged = await asyncio.to_thread(judge_windows, asked, self._forest)
            except Exception as exc:  # noqa: BLE001 - flags only: the next round judges again
                log.error("artefact judge failed", error=type(exc).__name__)
                judged = []
            for (patient_id, window), flags in zip(windows, judged, strict=False):
                if len(window) >= 3:
                    self._judged[patient_id] = window[-2][0]
                self._report(patient_id, window, flags)
            await asyncio.sleep(max(0.0, started + self._round_seconds - loop.time()))

    def _first_unjudged(self, patient_id: str, window: Rows) -> int:
        judged = self._judged.get(patient_id)
        if judged is None:
            return 0
        return next((i for i, (ts, _) in enumerate(window) if ts > judged), len(window))

    def _report(self, patient_id: str, window: Rows, flags: Flags) -> None:
        reported = self._reported.setdefault(patient_id, set())
        # The shape of ArtefactsPush in JSON mode (tests check it against the schema); each
        # flag is a fresh {field, kind} dict of strings, as ArtefactRead dumps it.
        fresh = [
            {"ts": json_time(window[i][0]), "artefacts": found}
            for i, found in sorted(flags.items())
            if window[i][0] not in reported
        ]
        if not fresh:
            return
        reported.update(window[i][0] for i in flags)
        oldest = window[0][0]
        self._reported[patient_id] = {ts for ts in reported if ts >= oldest}
        self._publish(
            f"vitals:{patient_id}", "artefacts", {"patient_id": patient_id, "readings": fresh}
        )
