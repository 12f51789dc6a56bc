"""Admission's identity and insurance checks, pure: what registration has and lacks, so the
desk knows what to ask for, and whether the person is registered as an unknown patient.

Nothing here refuses a patient: an emergency is registered with what is known (an unknown
patient is a registry record like any other, matched and merged later).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RULE = "identity-insurance-checks"
VERSION = "1"


@dataclass(frozen=True, slots=True)
class IdentityCheck:
    unknown: bool
    missing: tuple[str, ...]
    insurance_missing: tuple[str, ...]

    @property
    def result(self) -> str:
        head = "unknown patient" if self.unknown else "identified"
        gaps = [*self.missing, *self.insurance_missing]
        return f"{head}; to ask: {', '.join(gaps)}" if gaps else head


def check(person: Mapping[str, Any]) -> IdentityCheck:
    """Unknown when there is neither a name nor an identifier (or it is marked unknown)."""
    named = bool(person.get("given_name") or person.get("family_name"))
    identifiers = person.get("identifiers") or []
    unknown = bool(person.get("unknown")) or not (named or identifiers)
    missing = [
        label
        for label, present in (
            ("name", named),
            ("date of birth", bool(person.get("birth_date"))),
            ("national id", any(i.get("system") == "national" for i in identifiers)),
            ("phone", bool(person.get("phone"))),
            ("emergency contact", bool(person.get("emergency_contacts"))),
        )
        if not present
    ]
    insurance = person.get("insurance") or []
    if not insurance:
        insurance_missing = ["insurance"]
    else:
        first = insurance[0]
        insurance_missing = [f"insurance {f}" for f in ("payer", "member_id") if not first.get(f)]
    return IdentityCheck(unknown, tuple(missing), tuple(insurance_missing))


def registration_fields(person: Mapping[str, Any], check: IdentityCheck) -> dict[str, Any]:
    """The registry registration: the identity as given, marked unknown when it is."""
    fields = {k: v for k, v in person.items() if v is not None}
    if check.unknown:
        fields["unknown"] = True
    return fields


def unknown_fields(person: Mapping[str, Any]) -> dict[str, Any]:
    """A minimal unknown-patient registration when the given identity is invalid (the invalid
    fields are reported; care does not wait for them)."""
    keep = {k: person[k] for k in ("sex", "estimated_age_years") if k in person}
    sex = keep.get("sex")
    if sex not in ("male", "female", "other", "unknown"):
        keep.pop("sex", None)
    age = keep.get("estimated_age_years")
    if not isinstance(age, int) or not 0 <= age <= 130:
        keep.pop("estimated_age_years", None)
    return {**keep, "unknown": True, "description": "registered at arrival; identity to check"}
