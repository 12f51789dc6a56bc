"""What the communication agent says, pure: the family's arrival message in the patient's
language where a template exists (else English, the notifications default), the staff's
arrival notice, and who is reachable.

Family messages name no diagnosis: a phone number in an emergency contact list is not proof
of who reads it, so they say where the patient is and whom to call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import phonenumbers

RULE = "notify-family-and-staff"
VERSION = "1"

FAMILY: dict[str, tuple[str, str]] = {
    "en": (
        "{name} has arrived at {hospital}",
        "{name} has been brought to the emergency department of {hospital} and is being "
        "cared for. Please call the emergency department for more information.",
    ),
    "fi": (
        "{name} on saapunut: {hospital}",
        "{name} on tuotu sairaalan {hospital} päivystykseen ja on hoidossa. Lisätietoja saat "
        "soittamalla päivystykseen.",
    ),
}
STAFF = (
    "ED arrival: KTAS {level}",
    "A patient has arrived (KTAS {level}{bed}{legal}{conflicts}). Open the intake board.",
)


@dataclass(frozen=True, slots=True)
class Contact:
    index: int
    name: str
    relation: str | None
    phone: str


def language_for(preferred: str | None, available: Sequence[str]) -> str:
    """The patient's language ("fi-FI" -> "fi") when both our text and a template exist."""
    base = (preferred or "").split("-")[0].lower()
    return base if base in FAMILY and base in available else "en"


def e164(phone: str, region: str | None) -> str | None:
    """The number in E.164 (what SMS needs): as written when international, else read as a
    national number of `region` (the patient's country); None when it is not a valid number."""
    try:
        parsed = phonenumbers.parse(phone, None if phone.strip().startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def reachable(
    contacts: Sequence[Mapping[str, Any]], region: str | None = None
) -> tuple[list[Contact], list[str]]:
    """Contacts with a valid phone number (national numbers read in `region`); and why the
    others cannot be reached."""
    ok: list[Contact] = []
    skipped: list[str] = []
    for i, c in enumerate(contacts):
        phone = c.get("phone")
        if not isinstance(phone, str) or not phone.strip():
            skipped.append(f"contact {i}: no phone")
            continue
        number = e164(phone, region)
        if number is None:
            skipped.append(f"contact {i}: not a valid phone number")
            continue
        ok.append(Contact(i, str(c.get("name", "")), c.get("relation"), number))
    return ok, skipped


def region_of(person: Mapping[str, Any], jurisdiction: str | None) -> str | None:
    """The patient's country (address), else the jurisdiction's ("GB-ENG" -> "GB")."""
    address = person.get("address")
    if isinstance(address, Mapping) and isinstance(address.get("country"), str):
        return str(address["country"])
    return jurisdiction.split("-")[0] if jurisdiction else None


def family_message(language: str, *, name: str, hospital: str) -> dict[str, str]:
    title, body = FAMILY[language]
    return {
        "title": title.format(name=name, hospital=hospital),
        "body": body.format(name=name, hospital=hospital),
    }


def staff_message(
    *, level: int | None, bed: str | None, legal: bool, conflicts: int
) -> dict[str, str]:
    title, body = STAFF
    values = {
        "level": "?" if level is None else str(level),
        "bed": f", bed {bed}" if bed else ", no bed yet",
        "legal": ", legal case open" if legal else "",
        "conflicts": f", {conflicts} allergy conflict(s)" if conflicts else "",
    }
    return {"title": title.format(**values), "body": body.format(**values)}
