"""Loader for records in the PhysioNet/CinC Challenge 2012 layout.

A folder holds a `set-*` directory (or `set-*.tar.gz`) of `RecordID.txt` files with
`Time,Parameter,Value` rows (`HH:MM` since ICU admission) and an `Outcomes-*.txt` with
`RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death`. Only monitor channels are kept
(no laboratory values); implausible values are dropped and counted.
"""

from __future__ import annotations

import csv
import io
import tarfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from emsync.triage.risk import VitalsReading

# PhysioNet parameter -> reading channel; invasive arterial pressure wins over the cuff when both
# are charted at the same minute because it is the continuous, more accurate source.
_CHANNELS: Mapping[str, str] = {
    "HR": "hr",
    "RespRate": "rr",
    "SaO2": "spo2",
    "SysABP": "sbp",
    "NISysABP": "sbp",
    "DiasABP": "dbp",
    "NIDiasABP": "dbp",
    "MAP": "map",
    "NIMAP": "map",
    "Temp": "temp",
    "GCS": "gcs",
}
_INVASIVE = frozenset({"SysABP", "DiasABP", "MAP"})
PLAUSIBLE: Mapping[str, tuple[float, float]] = {
    "hr": (10, 300),
    "rr": (2, 80),
    "spo2": (40, 100),
    "sbp": (30, 300),
    "dbp": (5, 200),
    "map": (15, 250),
    "temp": (25.0, 45.0),
    "gcs": (3, 15),
}


class PhysionetFormatError(ValueError):
    """The folder is not in the PhysioNet 2012 layout."""


@dataclass(frozen=True, slots=True)
class Outcome:
    record_id: str
    in_hospital_death: int
    saps_i: float | None
    sofa: float | None


@dataclass
class PhysionetReport:
    source: str
    records_read: int = 0
    records_kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    values_dropped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "records_read": self.records_read,
            "records_kept": self.records_kept,
            "records_dropped": dict(sorted(self.dropped.items())),
            "values_dropped": dict(sorted(self.values_dropped.items())),
        }


@dataclass(frozen=True, slots=True)
class PhysionetRecord:
    record_id: str
    readings: tuple[VitalsReading, ...]
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class PhysionetData:
    records: tuple[PhysionetRecord, ...]
    report: PhysionetReport


def _minutes(stamp: str) -> float:
    hours, minutes = stamp.split(":")
    return int(hours) * 60 + int(minutes)


def parse_record(text: str, report: PhysionetReport) -> tuple[str | None, list[VitalsReading]]:
    """Readings of one record file, one per charted minute, in time order."""
    record_id: str | None = None
    by_minute: dict[float, dict[str, float | bool]] = {}
    invasive_at: set[tuple[float, str]] = set()
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != ["Time", "Parameter", "Value"]:
        raise PhysionetFormatError("record file does not start with Time,Parameter,Value")
    for row in reader:
        if len(row) != 3:
            continue
        stamp, parameter, raw = row
        if parameter == "RecordID":
            record_id = raw.strip().split(".")[0]
            continue
        try:
            minute = _minutes(stamp)
            value = float(raw)
        except ValueError:
            report.values_dropped[f"{parameter}: unparseable"] += 1
            continue
        if parameter in {"MechVent", "FiO2"}:
            # Ventilation or an FiO2 above room air is "on oxygen" in NEWS2 terms.
            if (parameter == "MechVent" and value > 0) or (parameter == "FiO2" and value > 0.21):
                by_minute.setdefault(minute, {})["on_oxygen"] = True
            continue
        channel = _CHANNELS.get(parameter)
        if channel is None:
            continue
        low, high = PLAUSIBLE[channel]
        if not low <= value <= high:
            report.values_dropped[f"{parameter}: outside {low:g}-{high:g}"] += 1
            continue
        slot = by_minute.setdefault(minute, {})
        if parameter in _INVASIVE:
            invasive_at.add((minute, channel))
            slot[channel] = value
        elif (minute, channel) not in invasive_at:
            slot[channel] = value
    readings = [
        VitalsReading(minutes=minute, **values)  # type: ignore[arg-type]
        for minute, values in sorted(by_minute.items())
    ]
    return record_id, readings


def parse_outcomes(text: str) -> dict[str, Outcome]:
    reader = csv.DictReader(io.StringIO(text))
    needed = {"RecordID", "In-hospital_death"}
    if not needed <= set(reader.fieldnames or []):
        raise PhysionetFormatError(f"outcomes file lacks {sorted(needed)}")

    def optional(value: str | None) -> float | None:
        # -1 is the challenge's "not available".
        if value is None or value.strip() in {"", "-1", "NA"}:
            return None
        return float(value)

    outcomes: dict[str, Outcome] = {}
    for row in reader:
        death = row["In-hospital_death"].strip()
        if death not in {"0", "1"}:
            continue
        record_id = row["RecordID"].strip().split(".")[0]
        outcomes[record_id] = Outcome(
            record_id=record_id,
            in_hospital_death=int(death),
            saps_i=optional(row.get("SAPS-I")),
            sofa=optional(row.get("SOFA")),
        )
    return outcomes


def _record_texts(directory: Path) -> Iterator[tuple[str, str]]:
    folders = sorted(p for p in directory.glob("set-*") if p.is_dir())
    archives = sorted(directory.glob("set-*.tar.gz")) + sorted(directory.glob("set-*.tgz"))
    if folders:
        for folder in folders:
            for path in sorted(folder.glob("*.txt")):
                yield path.name, path.read_text(encoding="utf-8", errors="replace")
    elif archives:
        for archive in archives:
            with tarfile.open(archive, "r:gz") as tar:
                # Members are read into memory, never extracted: no path traversal is possible.
                for member in tar:
                    if not member.isfile() or not member.name.endswith(".txt"):
                        continue
                    handle = tar.extractfile(member)
                    if handle is not None:
                        yield member.name, handle.read().decode("utf-8", errors="replace")
    else:
        raise PhysionetFormatError(f"{directory}: no set-* folder or set-*.tar.gz")


def count_records(directory: Path) -> int:
    folders = sorted(p for p in directory.glob("set-*") if p.is_dir())
    if folders:
        return sum(len(list(f.glob("*.txt"))) for f in folders)
    return 0


def load_physionet(
    directory: Path | str, *, limit: int | None = None, progress: object = None
) -> PhysionetData:
    """Records that have an outcome and at least one vital sign, with a report of the rest."""
    directory = Path(directory)
    outcome_files = sorted(directory.glob("Outcomes-*.txt"))
    if not outcome_files:
        raise PhysionetFormatError(f"{directory}: no Outcomes-*.txt")
    outcomes: dict[str, Outcome] = {}
    for path in outcome_files:
        outcomes.update(parse_outcomes(path.read_text(encoding="utf-8", errors="replace")))
    report = PhysionetReport(source=str(directory))
    records: list[PhysionetRecord] = []
    for name, text in _record_texts(directory):
        report.records_read += 1
        if callable(progress):
            progress()
        try:
            record_id, readings = parse_record(text, report)
        except PhysionetFormatError:
            report.dropped["not a Time,Parameter,Value file"] += 1
            continue
        record_id = record_id or Path(name).stem
        if record_id not in outcomes:
            report.dropped["no outcome"] += 1
            continue
        if not any(
            getattr(r, ch) is not None
            for r in readings
            for ch in ("hr", "rr", "sbp", "temp", "gcs", "spo2")
        ):
            report.dropped["no vital signs"] += 1
            continue
        records.append(PhysionetRecord(record_id, tuple(readings), outcomes[record_id]))
        if limit is not None and len(records) >= limit:
            break
    report.records_kept = len(records)
    if not records:
        raise PhysionetFormatError(f"{directory}: no usable records ({dict(report.dropped)})")
    return PhysionetData(records=tuple(records), report=report)
