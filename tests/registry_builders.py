"""Builders of registry test data: valid national ids (Luhn, the default rule) and persons."""

from __future__ import annotations

import itertools
from typing import Any

from stdnum import luhn

_n = itertools.count(100_000)


def national_id(seed: int | None = None) -> str:
    """A fresh, valid national id under the default Luhn rule."""
    body = str(seed if seed is not None else next(_n)).rjust(9, "0")
    return body + luhn.calc_check_digit(body)


def person_body(**overrides: Any) -> dict[str, Any]:
    """Every identity field filled, so round-trip tests notice any field that is dropped."""
    body: dict[str, Any] = {
        "given_name": "Aino",
        "family_name": "Virtanen",
        "aliases": ["Aino V."],
        "birth_date": "1961-03-14",
        "birth_date_estimated": False,
        "sex": "female",
        "gender": "woman",
        "phone": "+358 40 123 4567",
        "email": "aino.virtanen@example.org",
        "address": {
            "line": "Mannerheimintie 12 B 4",
            "city": "Helsinki",
            "postcode": "00100",
            "state": "Uusimaa",
            "country": "FI",
        },
        "emergency_contacts": [
            {"name": "Pekka Virtanen", "relation": "son", "phone": "0401112233"}
        ],
        "insurance": [{"payer": "Kela", "member_id": "K-42", "plan": "basic"}],
        "language": "fi",
        "description": "scar on left hand",
        "identifiers": [
            {"system": "national", "value": national_id()},
            {"system": "mrn", "value": "MRN-001", "assigner": "hospital-a"},
        ],
    }
    body.update(overrides)
    return body
