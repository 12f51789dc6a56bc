"""`emsync simulate`: patients' monitors publishing through the real envelope and MQTT.

Clinical scenarios are small deterministic trajectories (plus noise) over minutes; replay plays
real records (PhysioNet/CinC 2012 layout, or a CSV/Excel file of readings) with time compressed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import tarfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from emsync.telemetry import envelope
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.envelope import Kind


class Scenario(StrEnum):
    STABLE = "stable"
    SEPSIS = "sepsis"
    HYPOXIA = "hypoxia"
    HAEMORRHAGE = "haemorrhage"
    BRADYCARDIA = "bradycardia"
    DROPOUT = "dropout"  # stable values, but the device goes silent for minutes at a time


BASELINE = {"hr": 78.0, "spo2": 97.0, "rr": 15.0, "sbp": 124.0, "dbp": 78.0, "temp": 36.9}
# Where each scenario drifts to (reached after `ONSET_MINUTES`), from the baseline.
TARGETS: dict[Scenario, dict[str, float]] = {
    Scenario.STABLE: {},
    Scenario.DROPOUT: {},
    Scenario.SEPSIS: {"hr": 128, "rr": 27, "sbp": 88, "dbp": 50, "temp": 39.4, "spo2": 93},
    Scenario.HYPOXIA: {"spo2": 84, "rr": 29, "hr": 112},
    Scenario.HAEMORRHAGE: {"hr": 138, "sbp": 78, "dbp": 45, "rr": 24, "spo2": 95},
    Scenario.BRADYCARDIA: {"hr": 36, "sbp": 96, "dbp": 58},
}
ONSET_MINUTES = 10.0
NOISE = {"hr": 2.0, "spo2": 0.6, "rr": 0.8, "sbp": 3.0, "dbp": 2.0, "temp": 0.05}


def scenario_values(scenario: Scenario, minutes: float, rng: random.Random) -> dict[str, Any]:
    """One set of observations `minutes` into the scenario (smooth drift plus noise)."""
    progress = min(1.0, max(0.0, minutes / ONSET_MINUTES))
    eased = 0.5 - 0.5 * math.cos(math.pi * progress)
    target = TARGETS[scenario]
    values: dict[str, Any] = {}
    for name, base in BASELINE.items():
        value = base + (target.get(name, base) - base) * eased + rng.gauss(0, NOISE[name])
        values[name] = round(value, 1)
    values["spo2"] = min(100.0, values["spo2"])
    values["dbp"] = min(values["dbp"], values["sbp"] - 10)
    values["o2"] = scenario is Scenario.HYPOXIA and progress > 0.6
    avpu = "A"
    if scenario in (Scenario.SEPSIS, Scenario.HAEMORRHAGE) and progress >= 1.0:
        avpu = "C"
    values["avpu"] = avpu
    return values


def is_silent(scenario: Scenario, minutes: float) -> bool:
    """Device dropout: silent for 3 minutes out of every 6."""
    return scenario is Scenario.DROPOUT and (minutes % 6.0) >= 3.0


# ---------------------------------------------------------------- replay sources


@dataclass(frozen=True, slots=True)
class ReplayReading:
    offset_seconds: float
    values: dict[str, Any]


@dataclass
class ReplayRecord:
    name: str
    readings: list[ReplayReading] = field(default_factory=list)


_PHYSIONET = {
    "HR": "hr",
    "RespRate": "rr",
    "SaO2": "spo2",
    "SysABP": "sbp",
    "NISysABP": "sbp",
    "DiasABP": "dbp",
    "NIDiasABP": "dbp",
    "Temp": "temp",
}


def parse_physionet_record(name: str, text: str) -> ReplayRecord:
    """`Time,Parameter,Value` rows (HH:MM since admission) → readings grouped by minute.
    Values the ingest would call implausible are sent anyway: replay is also a test."""
    by_time: dict[float, dict[str, Any]] = {}
    for row in csv.reader(io.StringIO(text)):
        if len(row) != 3 or row[0] == "Time":
            continue
        channel = _PHYSIONET.get(row[1])
        if channel is None:
            continue
        try:
            hours, minutes = row[0].split(":")
            offset = int(hours) * 3600 + int(minutes) * 60
            value = float(row[2])
        except ValueError:
            continue
        if value <= 0:  # PhysioNet uses -1 / 0 for "not measured"
            continue
        by_time.setdefault(offset, {})[channel] = value
    readings = [ReplayReading(t, v) for t, v in sorted(by_time.items())]
    return ReplayRecord(name=name, readings=readings)


def load_physionet(path: Path, limit: int) -> list[ReplayRecord]:
    """Records from a folder of `<RecordID>.txt` files or a `.tar.gz` of one."""
    records: list[ReplayRecord] = []
    if path.is_dir():
        for file in sorted(path.rglob("*.txt"))[: limit * 2]:
            if file.stem.isdigit():
                records.append(parse_physionet_record(file.stem, file.read_text()))
            if len(records) >= limit:
                break
        return records
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith(".txt"):
                continue
            stem = Path(member.name).stem
            if not stem.isdigit():
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            records.append(parse_physionet_record(stem, handle.read().decode("utf-8", "replace")))
            if len(records) >= limit:
                break
    return records


TABLE_FIELDS = ("hr", "spo2", "rr", "sbp", "dbp", "temp", "o2", "avpu")


def load_table(path: Path, limit: int) -> list[ReplayRecord]:
    """A CSV or Excel sheet with columns `patient`, `seconds` (offset) and any of hr, spo2, rr,
    sbp, dbp, temp, o2, avpu; one record per patient value."""
    rows: list[dict[str, Any]]
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook  # type: ignore[import-untyped]

        sheet = load_workbook(path, read_only=True, data_only=True).active
        if sheet is None:
            raise ValueError(f"{path} has no worksheet")
        cells = list(sheet.iter_rows(values_only=True))
        header = [str(c).strip().lower() for c in cells[0]]
        rows = [dict(zip(header, r, strict=False)) for r in cells[1:]]
    else:
        with path.open(newline="") as fh:
            rows = [{k.strip().lower(): v for k, v in r.items()} for r in csv.DictReader(fh)]
    if rows and ("patient" not in rows[0] or "seconds" not in rows[0]):
        raise ValueError("the table needs columns 'patient' and 'seconds'")
    by_patient: dict[str, ReplayRecord] = {}
    for i, row in enumerate(rows, start=2):
        name = str(row["patient"])
        record = by_patient.get(name)
        if record is None:
            if len(by_patient) >= limit:
                continue
            record = by_patient[name] = ReplayRecord(name=name)
        try:
            offset = float(row["seconds"])
        except (TypeError, ValueError):
            raise ValueError(f"row {i}: 'seconds' is not a number") from None
        values: dict[str, Any] = {}
        for key in TABLE_FIELDS:
            raw = row.get(key)
            if raw is None or raw == "":
                continue
            if key == "avpu":
                values[key] = str(raw).strip().upper()
            elif key == "o2":
                values[key] = str(raw).strip().lower() in ("1", "true", "yes", "y")
            else:
                try:
                    values[key] = float(raw)
                except (TypeError, ValueError):
                    raise ValueError(f"row {i}: {key} is not a number") from None
        record.readings.append(ReplayReading(offset, values))
    for record in by_patient.values():
        record.readings.sort(key=lambda r: r.offset_seconds)
    return list(by_patient.values())


def load_replay(path: Path, limit: int) -> list[ReplayRecord]:
    if path.suffix.lower() in (".csv", ".xlsx", ".xlsm"):
        return load_table(path, limit)
    return load_physionet(path, limit)


# ---------------------------------------------------------------- devices and publishing


@dataclass
class SimDevice:
    device_id: str
    key: bytes
    key_id: int
    algorithm: Algorithm
    patient_id: str | None = None
    # Microseconds since the epoch: strictly increasing across runs, so a restarted simulator
    # is never refused as a replay.
    counter: int = field(default_factory=lambda: time.time_ns() // 1000)

    def next_counter(self) -> int:
        self.counter = max(self.counter + 1, time.time_ns() // 1000)
        return self.counter

    def seal(self, plaintext: bytes) -> tuple[str, bytes]:
        topic = envelope.topic_for(self.device_id, Kind.VITALS)
        payload = envelope.seal(
            topic=topic,
            algorithm=self.algorithm,
            key=self.key,
            key_id=self.key_id,
            counter=self.next_counter(),
            plaintext=plaintext,
        )
        return topic, payload


def save_devices(path: Path, devices: Sequence[SimDevice]) -> None:
    """Device keys in clear: the file is created 0600 and belongs with the simulator only."""
    import os

    data = [
        {
            "device_id": d.device_id,
            "key_hex": d.key.hex(),
            "key_id": d.key_id,
            "algorithm": int(d.algorithm),
            "patient_id": d.patient_id,
        }
        for d in devices
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1)


def load_devices(path: Path) -> list[SimDevice]:
    raw = json.loads(path.read_text())
    return [
        SimDevice(
            device_id=d["device_id"],
            key=bytes.fromhex(d["key_hex"]),
            key_id=int(d["key_id"]),
            algorithm=Algorithm(d["algorithm"]),
            patient_id=d.get("patient_id"),
        )
        for d in raw
    ]


def vitals_plaintext(values: dict[str, Any], at: datetime) -> bytes:
    return json.dumps({"ts": at.isoformat(), **values}, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Outgoing:
    device: SimDevice
    plaintext: bytes


def scenario_stream(
    devices: Sequence[SimDevice],
    scenarios: Sequence[Scenario],
    *,
    interval: float,
    seed: int,
    clock: Any = time.monotonic,
    speed: float = 1.0,
) -> Iterator[tuple[float, Outgoing | None]]:
    """(due time, message) in time order; None marks a silent (dropout) slot. `speed` runs the
    scenarios' clinical time faster than the wall clock (60: ten minutes of onset in ten s)."""
    rng = random.Random(seed)
    start = clock()
    tick = 0
    while True:
        due = start + tick * interval
        minutes = tick * interval * speed / 60.0
        for i, device in enumerate(devices):
            scenario = scenarios[i % len(scenarios)]
            if is_silent(scenario, minutes):
                yield due, None
                continue
            values = scenario_values(scenario, minutes, rng)
            yield due, Outgoing(device, vitals_plaintext(values, datetime.now(UTC)))
        tick += 1


def replay_stream(
    devices: Sequence[SimDevice],
    records: Sequence[ReplayRecord],
    *,
    speed: float,
    clock: Any = time.monotonic,
) -> Iterator[tuple[float, Outgoing | None]]:
    """Each record on its own device, its offsets divided by `speed`, merged in time order."""
    start = clock()
    events: list[tuple[float, int, ReplayReading]] = []
    for i, (device, record) in enumerate(zip(devices, records, strict=False)):
        del device
        events.extend((r.offset_seconds / speed, i, r) for r in record.readings)
    events.sort(key=lambda e: (e[0], e[1]))
    for offset, i, reading in events:
        at = datetime.now(UTC) + timedelta(seconds=0)
        yield start + offset, Outgoing(devices[i], vitals_plaintext(reading.values, at))
