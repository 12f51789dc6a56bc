"""CSV import and export (pure): column tables per record kind, parsing with a report naming
each bad row and column, and spreadsheet-safe writing (ISO dates, optional UTF-8 BOM, cells
that a spreadsheet would run as formulas neutralised)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

MAX_ROWS = 10_000
LIST_SEP = ";"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    required: bool = False
    kind: str = "text"  # text | float | int | list | qualifications


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1 = the header; data rows start at 2, as a spreadsheet numbers them
    column: str | None
    message: str


C = Column
COLUMNS: dict[str, tuple[Column, ...]] = {
    "resources": (
        C("name", True), C("kind", True), C("agency", True), C("capabilities", kind="list"),
        C("home_name"), C("home_lat", True, "float"), C("home_lon", True, "float"),
        C("status"), C("notes"),
    ),
    "personnel": (
        C("name", True), C("agency", True), C("username"), C("phone"),
        C("qualifications", kind="qualifications"),
    ),
    "shelters": (
        C("name", True), C("address"), C("lat", True, "float"), C("lon", True, "float"),
        C("capacity_beds", True, "int"), C("capacity_accessible", kind="int"),
        C("capacity_pets", kind="int"), C("amenities", kind="list"), C("status"),
    ),
    "supplies": (
        C("sku", True), C("name", True), C("unit", True), C("category"),
        C("min_stock", kind="int"),
    ),
}  # fmt: skip
# Export-only columns (ignored on import): the state a record has in EMsync.
EXPORT_EXTRA: dict[str, tuple[str, ...]] = {
    "resources": ("id", "incident_id"),
    "personnel": ("id", "active"),
    "shelters": ("id", "occupied_beds", "occupied_accessible", "occupied_pets"),
    "supplies": ("id", "on_hand"),
}


def _convert(column: Column, raw: str) -> Any:
    if column.kind == "float":
        return float(raw.replace(",", ".")) if "," in raw and "." not in raw else float(raw)
    if column.kind == "int":
        value = float(raw)
        if not value.is_integer():
            raise ValueError("must be a whole number")
        return int(value)
    if column.kind == "list":
        return [part.strip() for part in raw.split(LIST_SEP) if part.strip()]
    if column.kind == "qualifications":
        out = []
        for part in raw.split(LIST_SEP):
            if not part.strip():
                continue
            kind, _, expires = part.strip().partition(":")
            out.append({"kind": kind.strip(), "expires_on": expires.strip() or None})
        return out
    return raw


def parse(
    kind: str, data: bytes, validate: Callable[[dict[str, Any]], list[tuple[str, str]]]
) -> tuple[list[dict[str, Any]], list[RowError]]:
    """Rows as dicts, and every problem found: the header's, then each row's (`validate`
    returns (column, message) pairs for one converted row)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return [], [RowError(0, None, f"the file is not UTF-8 (byte {error.start})")]
    if "\x00" in text:
        row = text[: text.index("\x00")].count("\n") + 1
        return [], [RowError(row, None, "the file contains NUL characters (not a text CSV)")]
    # The header decides the separator (spreadsheets in comma-decimal locales write ';').
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    try:
        return _rows(kind, csv.reader(io.StringIO(text), delimiter=delimiter), validate)
    except csv.Error as error:  # e.g. an unterminated quote
        return [], [RowError(0, None, f"not a readable CSV: {error}")]


def _rows(
    kind: str,
    reader: Iterable[list[str]],
    validate: Callable[[dict[str, Any]], list[tuple[str, str]]],
) -> tuple[list[dict[str, Any]], list[RowError]]:
    columns = {c.name: c for c in COLUMNS[kind]}
    reader = iter(reader)
    header = [h.strip() for h in next(reader, [])]
    errors = [
        RowError(1, h, "unknown column")
        for h in header
        if h not in columns and h not in EXPORT_EXTRA[kind]
    ]
    errors += [
        RowError(1, c.name, "required column is missing")
        for c in columns.values()
        if c.required and c.name not in header
    ]
    if errors or not header:
        return [], errors or [RowError(1, None, "the file is empty")]
    rows: list[dict[str, Any]] = []
    for number, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(rows) >= MAX_ROWS:
            errors.append(RowError(number, None, f"more than {MAX_ROWS} rows"))
            break
        if len(record) > len(header):
            errors.append(RowError(number, None, f"{len(record)} cells, header has {len(header)}"))
            continue
        row: dict[str, Any] = {}
        for name, raw in zip(header, record, strict=False):
            column = columns.get(name)
            if column is None or not raw.strip():
                continue
            try:
                row[name] = _convert(column, raw.strip())
            except ValueError as error:
                errors.append(RowError(number, name, f"{raw.strip()!r}: {error}"))
        errors += [RowError(number, col, msg) for col, msg in validate(row)]
        rows.append(row)
    return rows, errors


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return f"{LIST_SEP} ".join(_cell(v) for v in value)
    if not isinstance(value, str):
        return str(value)  # numbers, including negative coordinates, stay numbers
    # A text cell a spreadsheet would evaluate (CSV injection): shown as text instead.
    return "'" + value if value.startswith(_FORMULA_START) else value


def write(kind: str, records: Iterable[Mapping[str, Any]], *, bom: bool) -> bytes:
    names = [c.name for c in COLUMNS[kind]] + list(EXPORT_EXTRA[kind])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    for record in records:
        writer.writerow([_cell(record.get(n)) for n in names])
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


def qualifications_text(quals: Sequence[Mapping[str, Any]]) -> str:
    return f"{LIST_SEP} ".join(
        f"{q['kind']}:{q['expires_on']}" if q.get("expires_on") else str(q["kind"]) for q in quals
    )
