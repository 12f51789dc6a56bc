"""How well the geocoder finds what a dispatcher types: sampled from the map, corrupted, scored.

Pure. Samples addresses, streets and crossings from the gazetteer itself (extracts differ: some
have few `addr:*` tags), corrupts the query the way hurried typing does (one or two typos in a
word, abbreviations, no capitals, a missing house number, an unfinished last word) and checks the
top hit against the truth. The baseline is what a database `ILIKE '%query%'` over names finds:
the same queries, matched as case-insensitive substrings.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from emsync.geocoding.index import GeocodeHit, Geocoder
from emsync.geocoding.places import PlaceKind
from emsync.geocoding.text import normalize

__all__ = ["Case", "evaluate", "make_cases", "substring_baseline"]

_KEYBOARD = "qwertyuiop asdfghjkl zxcvbnm"
_ABBREVIATE = {
    "Street": "St",
    "Avenue": "Ave",
    "Boulevard": "Bd",
    "Road": "Rd",
    "Straße": "Str.",
    "straße": "str.",
    "Square": "Sq",
    "Place": "Pl",
}


@dataclass(frozen=True, slots=True)
class Case:
    """A query and what it should find: an entry, or a point within `tolerance_m`."""

    kind: str  # address, street, intersection, no_number
    query: str
    lat: float
    lon: float
    tolerance_m: float
    entry: int = -1
    street_name: str = ""  # the street's normalized name (addresses, missing house number)
    number: str = ""


def _neighbour(c: str, rng: random.Random) -> str:
    row = next((r for r in _KEYBOARD.split() if c in r), None)
    if row is None:
        return c
    k = row.index(c)
    return row[max(0, min(len(row) - 1, k + rng.choice((-1, 1))))]


def typo(word: str, rng: random.Random) -> str:
    """One typing error: a neighbouring key, a dropped, doubled or swapped letter."""
    if len(word) < 4:
        return word
    k = rng.randrange(1, len(word) - 1)
    match rng.randrange(4):
        case 0:
            return word[:k] + _neighbour(word[k].lower(), rng) + word[k + 1 :]
        case 1:
            return word[:k] + word[k + 1 :]
        case 2:
            return word[:k] + word[k] + word[k:]
        case _:
            return word[: k - 1] + word[k] + word[k - 1] + word[k + 1 :]


def corrupt(text: str, rng: random.Random, typos: int) -> str:
    """`typos` errors in the longer words, sometimes abbreviated, sometimes in lower case."""
    for full, short in _ABBREVIATE.items():
        if full in text and rng.random() < 0.5:
            text = text.replace(full, short)
    words = text.split(" ")
    long_words = [k for k, w in enumerate(words) if len(w) >= 5 and not w[0].isdigit()]
    for k in rng.sample(long_words, min(typos, len(long_words))):
        words[k] = typo(words[k], rng)
    text = " ".join(words)
    return text.lower() if rng.random() < 0.5 else text


def _ambiguous_names(g: Geocoder) -> set[str]:
    names = [normalize(str(n)) for n, k in zip(g.g.name, g.g.kind, strict=True) if k == 1]
    seen: set[str] = set()
    twice: set[str] = set()
    for name in names:
        (twice if name in seen else seen).add(name)
    return twice


def make_cases(g: Geocoder, *, per_kind: int, seed: int) -> list[Case]:
    """Up to `per_kind` corrupted queries of each kind, drawn from the map."""
    rng = random.Random(seed)
    gz = g.g
    ambiguous = _ambiguous_names(g)
    cases: list[Case] = []

    def place(i: int, text: str) -> str:
        name = normalize(str(gz.name[i]))
        locality = str(gz.locality[i])
        return f"{text}, {locality}" if name in ambiguous and locality else text

    addresses = [i for i in np.flatnonzero(gz.kind == PlaceKind.ADDRESS).tolist() if gz.name[i]]
    for i in rng.sample(addresses, min(per_kind, len(addresses))):
        query = place(i, f"{gz.name[i]} {gz.housenumber[i]}")
        street, number = normalize(str(gz.name[i])), str(gz.housenumber[i])
        typed = corrupt(query, rng, rng.choice((1, 2)))
        cases.append(Case("address", typed, gz.lat[i], gz.lon[i], 50.0, i, street, number))
        if gz.street_of[i] >= 0:
            bare = corrupt(place(i, str(gz.name[i])), rng, 1)
            cases.append(
                Case(
                    "no_number", bare, gz.lat[i], gz.lon[i], 2000.0, -1, normalize(str(gz.name[i]))
                )
            )
    streets = np.flatnonzero(gz.kind == PlaceKind.STREET).tolist()
    for i in rng.sample(streets, min(per_kind, len(streets))):
        query = corrupt(place(i, str(gz.name[i])), rng, rng.choice((1, 2)))
        cases.append(Case("street", query, gz.lat[i], gz.lon[i], 1.0, i))
    crossings = list(range(gz.cross_a.shape[0]))
    for k in rng.sample(crossings, min(per_kind, len(crossings))):
        a, b = int(gz.cross_a[k]), int(gz.cross_b[k])
        query = f"{corrupt(str(gz.name[a]), rng, 1)} & {corrupt(str(gz.name[b]), rng, 1)}"
        cases.append(Case("intersection", query, gz.cross_lat[k], gz.cross_lon[k], 100.0))
    return cases


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * 111_195.0
    dx = (lon2 - lon1) * 111_195.0 * float(np.cos(np.radians((lat1 + lat2) / 2)))
    return float(np.hypot(dx, dy))


def correct(case: Case, hit: GeocodeHit) -> bool:
    if case.kind == "no_number":
        return (
            hit.kind == PlaceKind.STREET
            and normalize(hit.name) == case.street_name
            and _metres(case.lat, case.lon, hit.lat, hit.lon) <= case.tolerance_m
        )
    if case.entry >= 0 and hit.entry == case.entry:
        return True
    if case.kind == "address" and hit.kind == PlaceKind.ADDRESS and hit.entry >= 0:
        # The same address mapped twice (an entrance node and its building): the same
        # street and number within 300 m is the address asked for.
        same = normalize(hit.name) == case.street_name and hit.housenumber == case.number
        if same and _metres(case.lat, case.lon, hit.lat, hit.lon) <= 300.0:
            return True
    return _metres(case.lat, case.lon, hit.lat, hit.lon) <= case.tolerance_m


Search = Callable[[str, bool], list[GeocodeHit]]


def evaluate(cases: list[Case], search: Search, *, keystrokes: bool) -> dict[str, object]:
    """Top-1 and top-5 accuracy per kind and overall; latency of every query (and of every
    keystroke's prefix when `keystrokes`), in milliseconds."""
    per_kind: dict[str, list[tuple[bool, bool]]] = {}
    latencies: list[float] = []
    for case in cases:
        if keystrokes:
            for end in range(3, len(case.query)):
                started = time.perf_counter()
                search(case.query[:end], True)
                latencies.append((time.perf_counter() - started) * 1000.0)
        started = time.perf_counter()
        hits = search(case.query, False)
        latencies.append((time.perf_counter() - started) * 1000.0)
        top1 = bool(hits) and correct(case, hits[0])
        top5 = any(correct(case, h) for h in hits[:5])
        per_kind.setdefault(case.kind, []).append((top1, top5))
    everything = [r for rows in per_kind.values() for r in rows]
    lat = np.asarray(latencies) if latencies else np.zeros(1)
    return {
        "cases": len(everything),
        "top1": round(sum(r[0] for r in everything) / max(1, len(everything)), 4),
        "top5": round(sum(r[1] for r in everything) / max(1, len(everything)), 4),
        "by_kind": {
            kind: {
                "cases": len(rows),
                "top1": round(sum(r[0] for r in rows) / len(rows), 4),
                "top5": round(sum(r[1] for r in rows) / len(rows), 4),
            }
            for kind, rows in sorted(per_kind.items())
        },
        "queries": len(latencies),
        "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p99_ms": round(float(np.percentile(lat, 99)), 3),
    }


def substring_baseline(g: Geocoder) -> Search:
    """What `ILIKE '%query%'` over "name housenumber" finds, nearest the centre first."""
    gz = g.g
    labels = [f"{n} {h}".strip().lower() for n, h in zip(gz.name, gz.housenumber, strict=True)]

    def search(query: str, _partial: bool) -> list[GeocodeHit]:
        q = query.lower().split(",")[0].strip()
        found = [i for i, label in enumerate(labels) if q in label][:5]
        return [g.hit_of(i) for i in found]

    return search
