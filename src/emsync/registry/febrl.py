"""The FEBRL record layout (`rec_id, given_name, surname, street_number, address_1, address_2,
suburb, postcode, state, date_of_birth, soc_sec_id`) as registry demographics, and which pairs
of records are the same person (`rec-N-org` and `rec-N-dup-K` share N). Pure: parses text."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections import defaultdict

from emsync.registry.identity import Demographics, normalise_name

FEBRL_COLUMNS = (
    "rec_id",
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)
_REC = re.compile(r"^rec-(\d+)-(org|dup-\d+)$")


class FebrlFormatError(ValueError):
    pass


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _birth_year(dob: str | None) -> int | None:
    if dob and len(dob) == 8 and dob.isdigit():
        return int(dob[:4])
    return None


def parse(text: str) -> list[tuple[str, Demographics]]:
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in FEBRL_COLUMNS if c not in header]
    if missing:
        raise FebrlFormatError(f"not the FEBRL layout: missing columns {', '.join(missing)}")
    at = {name: header.index(name) for name in FEBRL_COLUMNS}
    records: list[tuple[str, Demographics]] = []
    for line_no, values in enumerate(reader, start=2):
        if not values:
            continue
        if len(values) < len(header):
            raise FebrlFormatError(f"line {line_no}: {len(values)} fields, expected {len(header)}")
        field = {name: _clean(values[i]) for name, i in at.items()}
        rec_id = field["rec_id"] or ""
        if not _REC.match(rec_id):
            raise FebrlFormatError(f"line {line_no}: rec_id {rec_id!r} is not rec-N-org/dup-K")
        dob = field["date_of_birth"]
        street = " ".join(v for v in (field["street_number"], field["address_1"]) if v) or None
        records.append(
            (
                rec_id,
                Demographics(
                    given_name=normalise_name(field["given_name"]),
                    family_name=normalise_name(field["surname"]),
                    dob=dob,
                    birth_year=_birth_year(dob),
                    sex=None,
                    street=street,
                    city=field["suburb"],
                    postcode=field["postcode"],
                    phone=None,
                    email=None,
                    identifier=field["soc_sec_id"],
                ),
            )
        )
    return records


def true_pairs(rec_ids: list[str]) -> set[tuple[str, str]]:
    """Every pair of records of one person, each pair sorted."""
    people: dict[str, list[str]] = defaultdict(list)
    for rec_id in rec_ids:
        match = _REC.match(rec_id)
        if match:
            people[match.group(1)].append(rec_id)
    return {
        (a, b) if a < b else (b, a)
        for group in people.values()
        for a, b in itertools.combinations(group, 2)
    }
