"""How typed and mapped names are made comparable: case, accents, punctuation, abbreviations (pure).

The same `normalize` runs on the map's names and on what the dispatcher types, so an abbreviation
expanded on one side is expanded on the other ("Hauptstr." and "Hauptstraße" both become
"hauptstrasse", "5th Ave" and "5th Avenue" both "5th avenue").
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "HOUSE_NUMBER",
    "INTERSECTION",
    "normalize",
    "split_intersection",
    "tokens",
]

# Whole-token abbreviations seen in street names of the extracts we serve (English, French,
# German, Italian, Catalan, Maltese). Mapping an ambiguous one ("st": street or saint) is safe:
# both sides of a comparison go through the same table.
_ABBREVIATIONS: dict[str, str] = {
    "st": "street",
    "str": "strasse",
    "ave": "avenue",
    "av": "avenue",
    "avda": "avinguda",
    "rd": "road",
    "blvd": "boulevard",
    "bd": "boulevard",
    "bld": "boulevard",
    "bvd": "boulevard",
    "dr": "drive",
    "ln": "lane",
    "pl": "place",
    "sq": "square",
    "ct": "court",
    "cres": "crescent",
    "hwy": "highway",
    "pkwy": "parkway",
    "mt": "mount",
    "ste": "sainte",
    "pza": "piazza",
    "tr": "triq",
}
_PUNCTUATION = re.compile(r"[^\w\s&/@-]+")
_SPACES = re.compile(r"\s+")
# "12", "12a", "12-14", "12/1": what a house number looks like once normalized.
HOUSE_NUMBER = re.compile(r"^\d{1,5}[a-z]?(?:[-/]\d{1,5}[a-z]?)?$")
# "A St & B Ave", "A St and B Ave", "A St / B Ave", "A St @ B Ave", "corner of A and B".
INTERSECTION = re.compile(r"\s*(?:&|\band\b|(?<!\d)/|/(?!\d)|@|\bat\b)\s*")
_WORD_HYPHEN = re.compile(r"(?<!\d)-|-(?!\d)")


def _fold(text: str) -> str:
    # Letters without a Unicode decomposition that people type without their mark.
    text = text.replace("ß", "ss").replace("ẞ", "ss").replace("ħ", "h").replace("Ħ", "H")
    text = text.replace("ø", "o").replace("Ø", "O").replace("ł", "l").replace("Ł", "L")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _expand(token: str) -> str:
    if token in _ABBREVIATIONS:
        return _ABBREVIATIONS[token]
    # German compounds: "Hauptstr." is "Hauptstraße"
    if len(token) > 5 and token.endswith("str"):
        return token + "asse"
    return token


def normalize(text: str) -> str:
    """Lower case, no accents, no punctuation but the intersection marks, abbreviations expanded."""
    folded = _fold(text).replace("'", "").replace("\u2019", "")
    folded = _PUNCTUATION.sub(" ", _WORD_HYPHEN.sub(" ", folded))
    return " ".join(_expand(t) for t in _SPACES.split(folded.strip()) if t)


def tokens(text: str) -> list[str]:
    """The normalized words of `text`, intersection marks dropped."""
    return [t for t in normalize(text).split(" ") if t and t.strip("&/@")]


def split_intersection(text: str) -> tuple[str, str] | None:
    """The two street parts of "A & B" (and its spellings), or None when there is no pair."""
    normalized = normalize(text).removeprefix("corner of ")
    parts = [p.strip() for p in INTERSECTION.split(normalized, maxsplit=1)]
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]
