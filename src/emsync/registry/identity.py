"""Who a person is, as values: normalised names and phones, national-id check digits, the
blocking keys that find candidates, and their keyed blind index. Pure: no database, no network.

A blind index is HMAC-SHA256 under a key derived from the master keyring: equality lookups work
(same input, same digest) while the table holds no name, phone or identifier in the clear. It
does reveal which rows share a value (how many people share a birth date), the accepted price of
exact lookups on sealed data.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from types import ModuleType

import jellyfish
import phonenumbers

BLIND_BYTES = 16
_SPACES = re.compile(r"\s+")
_NOT_NAME = re.compile(r"[^a-z' -]")
_SCHEME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")


class InvalidIdentity(ValueError):
    """A value of a person's identity is malformed; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def normalise_name(value: str | None) -> str | None:
    """Lower case, accents folded, punctuation other than ' and - dropped, spaces collapsed."""
    if value is None:
        return None
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    cleaned = _SPACES.sub(" ", _NOT_NAME.sub(" ", folded)).strip()
    return cleaned or None


def phonetic(value: str | None) -> str | None:
    """Metaphone of the first word of a normalised name (Smith, Smyth and Smithe agree)."""
    name = normalise_name(value)
    if not name:
        return None
    code = jellyfish.metaphone(name.split(" ")[0].replace("'", ""))
    return code or None


def normalise_phone(value: str | None, region: str) -> str | None:
    """E.164 (`+358401234567`); a number without a country code is read in `region`."""
    if value is None or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity("phone", f"not a phone number: {exc}") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentity("phone", "not a possible phone number (wrong length)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def identifier_rule(scheme: str) -> ModuleType | None:
    """The python-stdnum module that validates national ids (`none`: no check digit)."""
    if scheme == "none":
        return None
    if not _SCHEME.match(scheme):
        raise ValueError(f"registry.national_id_scheme {scheme!r} is not a module name")
    try:
        module = importlib.import_module(f"stdnum.{scheme}")
    except ImportError as exc:
        raise ValueError(f"registry.national_id_scheme {scheme!r} is not in python-stdnum") from exc
    if not hasattr(module, "validate"):
        raise ValueError(f"stdnum.{scheme} has no validate()")
    return module


def check_national_id(value: str, rule: ModuleType | None) -> str:
    """The compact form of a valid national id, or InvalidIdentity naming the check that failed."""
    compact = _SPACES.sub("", value).replace("-", "") if rule is None else None
    if rule is None:
        if not compact:
            raise InvalidIdentity("value", "the national id is empty")
        return compact
    try:
        return str(rule.validate(value))
    except Exception as exc:
        raise InvalidIdentity("value", f"not a valid national id ({rule.__name__}): {exc}") from exc


def compact_identifier(value: str) -> str:
    """Other identifiers (MRNs, passports): case and separators do not distinguish them."""
    compact = re.sub(r"[\s\-/.]", "", value).upper()
    if not compact:
        raise InvalidIdentity("value", "the identifier is empty")
    return compact


def dob_key(dob: date | None, estimated: bool) -> str | None:
    """`YYYYMMDD` of an exact date of birth; an estimated one compares as unknown."""
    if dob is None or estimated:
        return None
    return dob.strftime("%Y%m%d")


@dataclass(frozen=True, slots=True)
class Demographics:
    """The fields matching compares, normalised (None where unknown)."""

    given_name: str | None
    family_name: str | None
    dob: str | None  # YYYYMMDD, exact dates only
    birth_year: int | None  # also for estimated dates
    sex: str | None
    street: str | None
    city: str | None
    postcode: str | None
    phone: str | None  # E.164
    email: str | None
    identifier: str | None  # national id, compact


def blocking_keys(d: Demographics) -> set[tuple[str, str]]:
    """The (kind, value) pairs under which a person is found: any shared key makes two persons
    candidates. Phonetic codes make spelling variants meet; the birth year narrows a common
    family name."""
    keys: set[tuple[str, str]] = set()
    family, given = phonetic(d.family_name), phonetic(d.given_name)
    if d.dob:
        keys.add(("dob", d.dob))
    if family:
        keys.add(("fam", family))
        if d.birth_year is not None:
            keys.add(("fam_year", f"{family}:{d.birth_year}"))
        if given:
            keys.add(("giv_fam", f"{given}:{family}"))
    if given and d.dob:
        keys.add(("giv_dob", f"{given}:{d.dob}"))
    if d.phone:
        keys.add(("phone", d.phone))
    if d.email:
        keys.add(("email", d.email.strip().lower()))
    if d.postcode and family:
        keys.add(("fam_post", f"{family}:{d.postcode}"))
    return keys


# Keys that alone identify few enough people to be used for an exact lookup.
LOOKUP_KINDS = frozenset({"phone", "email"})


def blind(key: bytes, kind: str, value: str) -> str:
    """The blind index entry of one value: hex of the first 16 bytes of HMAC-SHA256."""
    mac = hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256)
    return mac.hexdigest()[: BLIND_BYTES * 2]


def blind_index_key(master_key: bytes) -> bytes:
    """A key of its own for the blind index, so it is never the key that seals data."""
    return hmac.new(master_key, b"emsync.registry.blind-index.v1", hashlib.sha256).digest()


def name_similarity(a: str | None, b: str | None) -> float:
    """Jaro-Winkler of two normalised names, 0 when either is unknown (search ranking only)."""
    if not a or not b:
        return 0.0
    return float(jellyfish.jaro_winkler_similarity(a, b))
