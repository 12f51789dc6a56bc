"""Loader for the raw KTAS triage file of Moon et al. (PLoS One 2019) and files in its format.

The published file is `;`-separated, cp1252, CRLF, marks missing vitals with `??`, has a spreadsheet
error (`#BOÞ!`, Korean Excel's `#VALUE!`) in NRS_pain where no pain was recorded, and a comma
decimal in `KTAS duration_min`. Every value that is dropped or imputed is counted with its reason
in a `LoadReport`, so nobody has to guess what the model was trained or evaluated on.

Outcome columns are never read into a `KtasVisit` (except the nurse's level, kept apart for review
mode): a model built from visits cannot see them.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")

# Known only after triage: using any of these as a triage-time feature leaks the answer.
OUTCOME_COLUMNS: frozenset[str] = frozenset(
    {
        "KTAS_RN",
        "Diagnosis in ED",
        "Disposition",
        "Error_group",
        "mistriage",
        "Length of stay_min",
        "KTAS duration_min",
    }
)
# The nurse's level is an outcome for field mode but the very input of review mode.
NURSE_LEVEL_COLUMN = "KTAS_RN"
LABEL_COLUMN = "KTAS_expert"
REQUIRED_COLUMNS: tuple[str, ...] = (
    "Sex",
    "Age",
    "Arrival mode",
    "Injury",
    "Chief_complain",
    "Mental",
    "Pain",
    "NRS_pain",
    "SBP",
    "DBP",
    "HR",
    "RR",
    "BT",
    "Saturation",
)
MISSING_MARKERS: frozenset[str] = frozenset({"", "??", "#BOÞ!", "#VALUE!", "NA", "nan"})

# Plausible ranges for an adult ED visit; a value outside them is a recording error, not a patient.
PLAUSIBLE: Mapping[str, tuple[float, float]] = {
    "Age": (0, 120),
    "SBP": (30, 300),
    "DBP": (10, 200),
    "HR": (20, 250),
    "RR": (4, 70),
    "BT": (30.0, 43.0),
    "Saturation": (40, 100),
    "NRS_pain": (0, 10),
}


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class ArrivalMode(StrEnum):
    WALKING = "walking"
    PUBLIC_AMBULANCE = "public_ambulance"
    PRIVATE_VEHICLE = "private_vehicle"
    PRIVATE_AMBULANCE = "private_ambulance"
    OTHER = "other"


class Mental(IntEnum):
    """AVPU as recorded in the KTAS file (1-4), kept ordinal."""

    ALERT = 1
    VERBAL = 2
    PAIN = 3
    UNRESPONSIVE = 4


_SEX = {"1": Sex.FEMALE, "2": Sex.MALE}
_ARRIVAL = {
    "1": ArrivalMode.WALKING,
    "2": ArrivalMode.PUBLIC_AMBULANCE,
    "3": ArrivalMode.PRIVATE_VEHICLE,
    "4": ArrivalMode.PRIVATE_AMBULANCE,
    "5": ArrivalMode.OTHER,
    "6": ArrivalMode.OTHER,
    "7": ArrivalMode.OTHER,
}


@dataclass(frozen=True, slots=True)
class KtasVisit:
    """What is known about a patient at the triage desk."""

    sex: Sex
    age: float
    arrival_mode: ArrivalMode
    injury: bool
    chief_complaint: str
    mental: Mental
    pain: bool
    nrs_pain: float | None
    sbp: float | None
    dbp: float | None
    hr: float | None
    rr: float | None
    bt: float | None
    spo2: float | None


@dataclass(frozen=True, slots=True)
class LabelledVisit:
    visit: KtasVisit
    expert_level: int
    nurse_level: int | None
    line: int


@dataclass
class LoadReport:
    """Counts of what the loader read, dropped and imputed, with reasons."""

    source: str
    rows_read: int = 0
    rows_kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    imputed: Counter[str] = field(default_factory=Counter)
    missing: Counter[str] = field(default_factory=Counter)
    dropped_lines: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "dropped": dict(sorted(self.dropped.items())),
            "imputed": dict(sorted(self.imputed.items())),
            "missing_left_for_model": dict(sorted(self.missing.items())),
            "dropped_lines": [{"line": n, "reason": r} for n, r in self.dropped_lines[:50]],
        }


class KtasFormatError(ValueError):
    """The file is not in the KTAS layout at all (missing columns, empty)."""


@dataclass(frozen=True, slots=True)
class KtasData:
    rows: tuple[LabelledVisit, ...]
    report: LoadReport


def _decode(raw: bytes) -> str:
    # The original is cp1252; a re-saved copy may be UTF-8 (with or without BOM). Strict UTF-8
    # fails on cp1252's 0x80-0xFF bytes, so trying it first cannot misread the original.
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


def _number(text: str) -> float | None:
    """A float from a cell with either decimal mark; None for a missing marker."""
    text = text.strip()
    if text in MISSING_MARKERS:
        return None
    return float(text.replace(",", "."))


class _RowError(Exception):
    pass


def _parse_row(
    row: Mapping[str, str], line: int, report: LoadReport, *, require_nurse: bool
) -> LabelledVisit:
    def code(column: str, table: Mapping[str, _T]) -> _T:
        value = row[column].strip()
        if value not in table:
            raise _RowError(f"{column}: unknown code {value!r}")
        return table[value]

    def measured(column: str) -> float | None:
        try:
            value = _number(row[column])
        except ValueError:
            report.missing[f"{column}: unparseable"] += 1
            return None
        if value is None:
            report.missing[f"{column}: placeholder or blank"] += 1
            return None
        low, high = PLAUSIBLE[column]
        if not low <= value <= high:
            report.missing[f"{column}: outside {low:g}-{high:g}"] += 1
            return None
        return value

    def level(column: str) -> int:
        try:
            value = _number(row.get(column, ""))
        except ValueError:
            value = None
        if value is None or value not in {1, 2, 3, 4, 5}:
            raise _RowError(f"{column}: not a KTAS level 1-5 ({row.get(column, '')!r})")
        return int(value)

    age = measured("Age")
    if age is None:
        raise _RowError("Age: missing or implausible")
    pain = code("Pain", {"0": False, "1": True})
    nrs = measured("NRS_pain")
    if nrs is None and not pain:
        # No pain recorded: the NRS cell holds a spreadsheet error, and the honest value is 0.
        nrs = 0.0
        report.imputed["NRS_pain: 0 where Pain=0"] += 1
        report.missing["NRS_pain: placeholder or blank"] -= 1
    mental_value = row["Mental"].strip()
    if mental_value not in {"1", "2", "3", "4"}:
        raise _RowError(f"Mental: unknown code {mental_value!r}")
    visit = KtasVisit(
        sex=code("Sex", _SEX),
        age=age,
        arrival_mode=code("Arrival mode", _ARRIVAL),
        injury=code("Injury", {"1": False, "2": True}),
        chief_complaint=" ".join(row["Chief_complain"].split()),
        mental=Mental(int(mental_value)),
        pain=pain,
        nrs_pain=nrs,
        sbp=measured("SBP"),
        dbp=measured("DBP"),
        hr=measured("HR"),
        rr=measured("RR"),
        bt=measured("BT"),
        spo2=measured("Saturation"),
    )
    nurse: int | None
    if require_nurse:
        nurse = level(NURSE_LEVEL_COLUMN)
    else:
        try:
            nurse = level(NURSE_LEVEL_COLUMN) if NURSE_LEVEL_COLUMN in row else None
        except _RowError:
            nurse = None
    return LabelledVisit(
        visit=visit, expert_level=level(LABEL_COLUMN), nurse_level=nurse, line=line
    )


def parse_ktas(text: str, *, source: str = "<text>", require_nurse: bool = False) -> KtasData:
    """Parse KTAS rows; rows that cannot be used are dropped and counted, never guessed."""
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    needed = [*REQUIRED_COLUMNS, LABEL_COLUMN] + ([NURSE_LEVEL_COLUMN] if require_nurse else [])
    absent = [c for c in needed if c not in header]
    if absent:
        raise KtasFormatError(f"{source}: missing columns {absent}")
    report = LoadReport(source=source)
    rows: list[LabelledVisit] = []
    for index, row in enumerate(reader):
        line = index + 2  # 1-based, after the header
        report.rows_read += 1
        if None in row or any(v is None for v in row.values()):
            reason = "wrong number of fields"
            report.dropped[reason] += 1
            report.dropped_lines.append((line, reason))
            continue
        try:
            rows.append(_parse_row(row, line, report, require_nurse=require_nurse))
        except _RowError as error:
            reason = str(error)
            report.dropped[reason.split(" (")[0]] += 1
            report.dropped_lines.append((line, reason))
    report.missing = Counter({k: v for k, v in report.missing.items() if v > 0})
    report.rows_kept = len(rows)
    if not rows:
        raise KtasFormatError(f"{source}: no usable rows ({dict(report.dropped)})")
    return KtasData(rows=tuple(rows), report=report)


def load_ktas(path: Path | str, *, require_nurse: bool = False) -> KtasData:
    """Load a KTAS file in the published format (or a UTF-8 / comma-separated re-save of it)."""
    path = Path(path)
    return parse_ktas(_decode(path.read_bytes()), source=str(path), require_nurse=require_nurse)


def visits(rows: Iterable[LabelledVisit]) -> list[KtasVisit]:
    return [r.visit for r in rows]
