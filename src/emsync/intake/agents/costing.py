"""Cost estimates, pure: the lines an ED visit incurs from the fee schedule, and who pays them
under the coverage rules. Both tables are data (intake/data/fee_schedule.json and
coverage_rules.json, each stating its source). An estimate is information for the patient and
the billing office: it never holds up care, and a missing detail is a flag, not a refusal."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

# A short-stay admission is estimated as this many days; the ward updates the real count.
ESTIMATED_INPATIENT_DAYS = 1


@dataclass(frozen=True, slots=True)
class FeeItem:
    code: str
    label: str
    amount: Decimal
    per: str
    age_exempt_below: float | None


@dataclass(frozen=True, slots=True)
class Payer:
    kind: str
    label: str
    patient_pays: str  # client_fee | policy_excess | full_cost
    billed_to: str
    verify: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tables:
    fee_source: str
    fee_version: str
    currency: str
    items: Mapping[str, FeeItem]
    coverage_source: str
    coverage_version: str
    payers: Mapping[str, Payer]
    payer_keywords: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Line:
    code: str
    label: str
    quantity: int
    unit_amount: Decimal
    amount: Decimal
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Estimate:
    lines: tuple[Line, ...]
    total: Decimal
    payer: Payer
    patient_share: Decimal | None  # None: depends on a contract the estimate cannot see
    flags: tuple[str, ...]


def load_tables(fees_text: str, coverage_text: str) -> Tables:
    fees = json.loads(fees_text)
    cover = json.loads(coverage_text)
    return Tables(
        fee_source=fees["source"],
        fee_version=fees["version"],
        currency=fees["currency"],
        items={
            code: FeeItem(
                code=code,
                label=spec["label"],
                amount=Decimal(spec["amount"]),
                per=spec["per"],
                age_exempt_below=spec.get("age_exempt_below"),
            )
            for code, spec in fees["items"].items()
        },
        coverage_source=cover["source"],
        coverage_version=cover["version"],
        payers={
            kind: Payer(
                kind=kind,
                label=spec["label"],
                patient_pays=spec["patient_pays"],
                billed_to=spec["billed_to"],
                verify=tuple(spec["verify"]),
            )
            for kind, spec in cover["payers"].items()
        },
        payer_keywords={k: tuple(v) for k, v in cover["payer_keywords"].items()},
    )


@cache
def tables() -> Tables:
    data = resources.files("emsync.intake").joinpath("data")
    return load_tables(
        data.joinpath("fee_schedule.json").read_text(),
        data.joinpath("coverage_rules.json").read_text(),
    )


def payer_for(t: Tables, insurance: Sequence[Mapping[str, Any]]) -> tuple[Payer, list[str]]:
    """The first recorded insurance's payer kind (by the words of its payer name; any other
    named payer is private), or self-pay when none is recorded; plus fields to verify."""
    if not insurance:
        return t.payers["self_pay"], ["no insurance recorded: ask at registration"]
    first = insurance[0]
    name = str(first.get("payer", "")).lower()
    kind = next(
        (k for k, words in t.payer_keywords.items() if any(w in name for w in words)),
        "private",
    )
    payer = t.payers[kind]
    missing = [f"insurance {f} missing" for f in payer.verify if not first.get(f)]
    return payer, missing


def _line(item: FeeItem, quantity: int, age: float | None) -> Line:
    if item.age_exempt_below is not None and age is not None and age < item.age_exempt_below:
        note = f"no fee under {item.age_exempt_below:g}"
        return Line(item.code, item.label, quantity, item.amount, Decimal("0.00"), note)
    return Line(item.code, item.label, quantity, item.amount, item.amount * quantity)


def estimate(
    t: Tables,
    *,
    age: float | None,
    admitted: bool,
    follow_up: bool,
    insurance: Sequence[Mapping[str, Any]],
) -> Estimate:
    """The visit's lines: the ED fee (or, when admitted, the daily hospital fee, which replaces
    it), a booked specialist follow-up; the payer and the patient's share."""
    lines: list[Line] = []
    if admitted:
        lines.append(_line(t.items["inpatient_day"], ESTIMATED_INPATIENT_DAYS, age))
    else:
        lines.append(_line(t.items["ed_visit"], 1, age))
    if follow_up:
        lines.append(_line(t.items["outpatient_visit"], 1, age))
    total = sum((line.amount for line in lines), Decimal("0.00"))
    payer, flags = payer_for(t, insurance)
    share: Decimal | None = total if payer.patient_pays == "client_fee" else None
    if payer.patient_pays == "full_cost":
        flags.append("self-pay: the full treatment cost is invoiced by the billing office")
    if age is None:
        flags.append("age unknown: age exemptions not applied")
    return Estimate(tuple(lines), total, payer, share, tuple(flags))


def as_json(e: Estimate, currency: str) -> dict[str, Any]:
    return {
        "currency": currency,
        "lines": [
            {
                "code": line.code,
                "label": line.label,
                "quantity": line.quantity,
                "unit_amount": str(line.unit_amount),
                "amount": str(line.amount),
                "note": line.note,
            }
            for line in e.lines
        ],
        "total": str(e.total),
        "payer": e.payer.kind,
        "payer_label": e.payer.label,
        "billed_to": e.payer.billed_to,
        "patient_share": None if e.patient_share is None else str(e.patient_share),
        "flags": list(e.flags),
        "blocking": False,
    }
