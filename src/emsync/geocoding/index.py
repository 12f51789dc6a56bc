"""Forward and reverse geocoding over a gazetteer (pure: numpy, scipy, rapidfuzz).

Forward search scores every entry by how much of the query it explains: each typed word is
matched to the map's words exactly, as the prefix of a word still being typed, or within one or
two edits (optimal string alignment: a swap of two letters is one edit), weighted by how rare
the word is. A house number picks the address among its street's, else is placed by
interpolation along the street, else the street is returned and says so. "A & B" finds the
crossing of two streets. Among equal matches the one nearer the dispatch area wins.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import OSA
from scipy.spatial import cKDTree

from emsync.geocoding.places import Gazetteer, PlaceKind, project
from emsync.geocoding.text import HOUSE_NUMBER, normalize, split_intersection, tokens

__all__ = ["GeocodeHit", "Geocoder", "LatLonPoint"]

F64 = npt.NDArray[np.float64]
_ADDRESS_NEAR_M = 40.0  # a reverse query this close to an address names the address
_STREET_NEAR_M = 150.0
_CONTEXT_WEIGHT = 0.6  # locality, postcode and category words count less than the name's


@dataclass(frozen=True, slots=True)
class LatLonPoint:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class GeocodeHit:
    """One answer: where, what it is, how it was found, and how sure the match is (0..1)."""

    kind: PlaceKind
    label: str
    lat: float
    lon: float
    score: float
    name: str
    housenumber: str = ""
    locality: str = ""
    postcode: str = ""
    category: str = ""
    interpolated: bool = False
    note: str = ""
    distance_m: float | None = None
    entry: int = -1  # the gazetteer entry (-1 for crossings); not sent on the wire


def _max_edits(word: str) -> int:
    return 0 if len(word) <= 2 else 1 if len(word) <= 6 else 2


def _similarity(edits: int) -> float:
    return 1.0 - 0.18 * edits


@dataclass(slots=True)
class _Doc:
    words: list[str]
    context: list[str]


def _doc(g: Gazetteer, i: int) -> _Doc:
    kind = PlaceKind(int(g.kind[i]))
    context = tokens(str(g.locality[i]))
    if g.postcode[i]:
        context.append(normalize(str(g.postcode[i])))
    if kind in (PlaceKind.POI, PlaceKind.LOCALITY) and g.category[i]:
        context.extend(tokens(str(g.category[i]).replace("_", " ")))
    return _Doc(tokens(str(g.name[i])), context)


class Geocoder:
    """Search and reverse lookup over one extract's gazetteer; thread-safe once built."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.g = gazetteer
        n = gazetteer.size
        self._lat0 = float(np.mean(gazetteer.lat)) if n else 0.0
        self.centre = LatLonPoint(self._lat0, float(np.mean(gazetteer.lon)) if n else 0.0)
        postings: dict[str, dict[int, float]] = defaultdict(dict)
        self._name_words = np.zeros(n, dtype=np.float64)
        for i in range(n):
            doc = _doc(gazetteer, i)
            for w in doc.words:
                postings[w][i] = 1.0
            for w in doc.context:
                postings[w].setdefault(i, _CONTEXT_WEIGHT)
            self._name_words[i] = max(1, len(set(doc.words)))
            street = int(gazetteer.street_of[i])
            if street >= 0:  # a street is also in the localities its addresses name
                for w in tokens(str(gazetteer.locality[i])):
                    postings[w].setdefault(street, _CONTEXT_WEIGHT)
        self.vocabulary = sorted(postings)
        self._entries = [np.fromiter(postings[w], np.int64) for w in self.vocabulary]
        self._weights = [np.fromiter(postings[w].values(), np.float64) for w in self.vocabulary]
        df = np.array([e.shape[0] for e in self._entries], dtype=np.float64)
        self._idf = np.log1p(n / np.maximum(df, 1.0))
        self._word_id = {w: k for k, w in enumerate(self.vocabulary)}
        self._prefix_lists: dict[int, tuple[list[str], list[list[int]]]] = {}
        self._match_cache: dict[tuple[str, bool], dict[int, float]] = {}
        self._by_df = np.argsort(-df, kind="stable")
        self._rank = np.empty_like(self._by_df)
        self._rank[self._by_df] = np.arange(self._by_df.shape[0])
        self._numbers = np.array([normalize(str(h)) for h in gazetteer.housenumber], dtype=np.str_)
        self._crossings: dict[tuple[int, int], list[int]] = defaultdict(list)
        for k, (a, b) in enumerate(
            zip(gazetteer.cross_a.tolist(), gazetteer.cross_b.tolist(), strict=True)
        ):
            self._crossings[(a, b)].append(k)
        self._interp: dict[int, list[int]] = defaultdict(list)
        for k, street in enumerate(gazetteer.interp_street.tolist()):
            self._interp[street].append(k)
        self._xy = project(gazetteer.lat, gazetteer.lon, self._lat0)
        point_kinds = (gazetteer.kind == PlaceKind.ADDRESS) | (gazetteer.kind == PlaceKind.POI)
        self._points = np.flatnonzero(point_kinds)
        self._point_tree = cKDTree(self._xy[self._points]) if self._points.size else None
        line_xy = project(gazetteer.line_lat, gazetteer.line_lon, self._lat0)
        self._line_tree = cKDTree(line_xy) if line_xy.shape[0] else None

    # ---- word matching ----------------------------------------------------------------------

    def _prefix_ids(self, word: str, limit: int = 400) -> list[int]:
        lo = bisect.bisect_left(self.vocabulary, word)
        hi = bisect.bisect_left(self.vocabulary, word + "\uffff")
        ids = list(range(lo, hi))
        if len(ids) > limit:  # an early keystroke: the most common completions
            ids.sort(key=lambda k: int(self._rank[k]))
            ids = ids[:limit]
        return ids

    def _prefixes(self, length: int) -> tuple[list[str], list[list[int]]]:
        """The distinct `length`-letter beginnings of the map's words, and whose they are."""
        if length not in self._prefix_lists:
            owners: dict[str, list[int]] = defaultdict(list)
            for k, w in enumerate(self.vocabulary):
                if len(w) > length:
                    owners[w[:length]].append(k)
            keys = sorted(owners)
            self._prefix_lists[length] = (keys, [owners[p] for p in keys])
        return self._prefix_lists[length]

    def _fuzzy_prefix(self, word: str, edits: int) -> list[tuple[int, int]]:
        """(word id, edits) of the map's words that begin like `word`, give or take `edits`."""
        keys, owners = self._prefixes(min(len(word), 16))
        found: list[tuple[int, int]] = []
        for _, distance, k in process.extract(
            word[:16], keys, scorer=OSA.distance, score_cutoff=edits, limit=20
        ):
            found.extend((w, int(distance)) for w in owners[int(k)][:50])
        return found

    def _matches(self, word: str, partial: bool) -> dict[int, float]:
        """Vocabulary word id -> similarity (0..1) for one typed word; each keystroke repeats
        the words before the last one, so their matches are kept (a bounded cache)."""
        key = (word, partial)
        cached = self._match_cache.get(key)
        if cached is None:
            cached = self._match_word(word, partial)
            if len(self._match_cache) >= 4096:
                self._match_cache.clear()
            self._match_cache[key] = cached
        return cached

    def _match_word(self, word: str, partial: bool) -> dict[int, float]:
        found: dict[int, float] = {}
        exact = self._word_id.get(word)
        if exact is not None:
            found[exact] = 1.0
        edits = _max_edits(word)
        if edits:
            for _, distance, k in process.extract(
                word, self.vocabulary, scorer=OSA.distance, score_cutoff=edits, limit=40
            ):
                found.setdefault(int(k), _similarity(int(distance)))
        if partial and len(word) >= 2:
            for k in self._prefix_ids(word):
                found[k] = max(found.get(k, 0.0), 0.97)
        if len(word) >= 4 and (partial or len(word) >= 5):
            # A typo in the part typed so far, or an abbreviation typed with a slip of its own
            # ("Schillertr." for "Schillerstraße", "Neckargemünder Strae").
            for k, distance in self._fuzzy_prefix(word, 1 if len(word) < 8 else 2):
                found[k] = max(found.get(k, 0.0), 0.85 - 0.12 * distance)
        return found

    def _score_words(self, words: list[str], partial: bool) -> F64:
        """Per entry, the share of the query's weight that the entry's words explain."""
        n = self.g.size
        total = np.zeros(n, dtype=np.float64)
        query_weight = 0.0
        for position, word in enumerate(words):
            typing = partial and position == len(words) - 1
            matches = self._matches(word, typing)
            # The word weighs what its closest match in the map weighs (a typo's rare neighbour
            # must not make a common word like "triq" count for more than it does).
            closest = max(matches.items(), key=lambda m: (m[1], -self._idf[m[0]]), default=None)
            weight = float(self._idf.max() if closest is None else self._idf[closest[0]])
            query_weight += weight
            best = np.zeros(n, dtype=np.float64)
            for k, sim in matches.items():
                gain = self._weights[k] * (sim * min(float(self._idf[k]), weight))
                np.maximum.at(best, self._entries[k], gain)
            total += np.minimum(best, weight)
        if query_weight == 0.0:
            return total
        return total / query_weight

    # ---- forward ----------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        near: LatLonPoint | None = None,
        limit: int = 8,
        partial: bool = True,
    ) -> list[GeocodeHit]:
        """The best matches for what was typed so far (`partial`: its last word is unfinished)."""
        words = tokens(query)
        if not words or self.g.size == 0:
            return []
        partial = partial and not query.endswith((" ", ","))
        at = _house_number_at(words, len(tokens(query.split(",")[0])))
        number = words[at] if at is not None else None
        rest = [w for k, w in enumerate(words) if k != at]
        hits: list[GeocodeHit] = []
        if rest:
            hits.extend(self._entry_hits(rest, number, near, partial, limit))
        if partial and at is not None and at == len(words) - 1:
            # "Bd Albert 1" may be a house number or "1er" being typed: both readings compete.
            hits.extend(self._entry_hits(words, None, near, partial, limit))
        pair = split_intersection(query)
        if pair is not None:
            hits.extend(self._intersection_hits(pair, near, partial))
        hits.sort(key=lambda h: -h.score)
        return _dedupe(hits)[:limit]

    def best_match(
        self, address: str, *, near: LatLonPoint | None = None, min_score: float = 0.7
    ) -> GeocodeHit | None:
        """The place an address typed in full stands for, when the match is clear enough to
        put the incident there (a locality alone is not a position)."""
        for hit in self.search(address, near=near, limit=1, partial=False):
            if hit.score >= min_score and hit.kind != PlaceKind.LOCALITY:
                return hit
        return None

    def hit_of(self, entry: int) -> GeocodeHit:
        """Gazetteer entry `entry` as a hit (for baselines and tests)."""
        return self._make(entry, 1.0, None, None)

    def _proximity(self, near: LatLonPoint | None) -> F64:
        focus = near or self.centre
        fx, fy = project(np.array([focus.lat]), np.array([focus.lon]), self._lat0)[0]
        km = np.hypot(self._xy[:, 0] - fx, self._xy[:, 1] - fy) / 1000.0
        penalty: F64 = 0.06 * np.minimum(km / 15.0, 1.0)
        return penalty

    def _entry_hits(
        self,
        words: list[str],
        number: str | None,
        near: LatLonPoint | None,
        partial: bool,
        limit: int,
    ) -> list[GeocodeHit]:
        coverage = self._score_words(words, partial)
        candidates = np.flatnonzero(coverage >= 0.5)
        if candidates.size == 0:
            return []
        g = self.g
        kind = g.kind[candidates]
        score = coverage[candidates].copy()
        # Words of the entry's name that the query left out (typing "Rue Grimaldi" should not
        # rank "Rue Grimaldi Prolongée" first).
        query_words = len(words)
        unexplained = np.clip(1.0 - query_words / self._name_words[candidates], 0.0, 1.0)
        score -= 0.08 * unexplained
        score -= self._proximity(near)[candidates]
        is_address = kind == PlaceKind.ADDRESS
        if number is None:
            score[is_address] -= 0.1  # still typing the street: the street itself first
        else:
            same = self._numbers[candidates] == number
            score[is_address & same] += 0.3
            score[is_address & ~same] -= 0.15
        top = candidates[np.argsort(-score, kind="stable")[: max(limit * 4, 20)]]
        by_entry = dict(zip(candidates.tolist(), score.tolist(), strict=True))
        return [self._hit(i, by_entry[i], number) for i in top.tolist()]

    def _hit(self, i: int, score: float, number: str | None) -> GeocodeHit:
        g = self.g
        kind = PlaceKind(int(g.kind[i]))
        typing_name = number is not None and any(
            w.startswith(number) for w in tokens(str(g.name[i]))
        )
        if kind == PlaceKind.STREET and number is not None and not typing_name:
            placed = self._interpolate(i, number)
            if placed is not None:
                lat, lon = placed
                return self._make(i, score + 0.2, lat, lon, housenumber=number, interpolated=True)
            return self._make(
                i,
                score - 0.05,
                None,
                None,
                note=f"house number {number} is not on the map: the street is shown",
            )
        return self._make(i, score, None, None)

    def _make(
        self,
        i: int,
        score: float,
        lat: float | None,
        lon: float | None,
        *,
        housenumber: str | None = None,
        interpolated: bool = False,
        note: str = "",
    ) -> GeocodeHit:
        g = self.g
        kind = PlaceKind(int(g.kind[i]))
        number = housenumber if housenumber is not None else str(g.housenumber[i])
        name = str(g.name[i])
        locality = str(g.locality[i])
        label = f"{name} {number}".strip() if number else name
        if locality and locality != name:
            label = f"{label}, {locality}"
        return GeocodeHit(
            kind=PlaceKind.ADDRESS if interpolated else kind,
            label=label,
            lat=float(g.lat[i]) if lat is None else lat,
            lon=float(g.lon[i]) if lon is None else lon,
            score=round(float(max(0.0, min(score, 1.0))), 4),
            name=name,
            housenumber=number,
            locality=locality,
            postcode=str(g.postcode[i]),
            category=str(g.category[i]),
            interpolated=interpolated,
            note=note,
            entry=i,
        )

    def _interpolate(self, street: int, number: str) -> tuple[float, float] | None:
        digits = "".join(c for c in number.split("-")[0].split("/")[0] if c.isdigit())
        if not digits:
            return None
        h = int(digits)
        g = self.g
        for k in self._interp.get(street, ()):
            first, last, step = int(g.interp_first[k]), int(g.interp_last[k]), int(g.interp_step[k])
            lo, hi = min(first, last), max(first, last)
            if not lo <= h <= hi or (step == 2 and (h - first) % 2):
                continue
            a, b = int(g.interp_offsets[k]), int(g.interp_offsets[k + 1])
            return _along(g.interp_lat[a:b], g.interp_lon[a:b], (h - first) / (last - first))
        return None

    def _street_candidates(self, part: str, partial: bool) -> list[tuple[int, float]]:
        words = tokens(part)
        if not words:
            return []
        coverage = self._score_words(words, partial)
        streets = np.flatnonzero((coverage >= 0.6) & (self.g.kind == PlaceKind.STREET))
        order = streets[np.argsort(-coverage[streets], kind="stable")][:25]
        return [(int(i), float(coverage[i])) for i in order]

    def _intersection_hits(
        self, pair: tuple[str, str], near: LatLonPoint | None, partial: bool
    ) -> list[GeocodeHit]:
        first = self._street_candidates(pair[0], False)
        second = self._street_candidates(pair[1], partial)
        if not first or not second:
            return []
        g = self.g
        focus = near or self.centre
        hits = []
        for a, sa in first:
            for b, sb in second:
                for k in self._crossings.get((min(a, b), max(a, b)), ()):
                    lat, lon = float(g.cross_lat[k]), float(g.cross_lon[k])
                    km = _km(focus.lat, focus.lon, lat, lon)
                    score = (sa + sb) / 2 + 0.05 - 0.06 * min(km / 15.0, 1.0)
                    locality = str(g.locality[a])
                    label = f"{g.name[a]} & {g.name[b]}" + (f", {locality}" if locality else "")
                    hits.append(
                        GeocodeHit(
                            kind=PlaceKind.INTERSECTION,
                            label=label,
                            lat=lat,
                            lon=lon,
                            score=round(max(0.0, min(score, 1.0)), 4),
                            name=f"{g.name[a]} & {g.name[b]}",
                            locality=locality,
                        )
                    )
        return hits

    # ---- reverse ----------------------------------------------------------------------------

    def reverse(self, point: LatLonPoint, *, limit: int = 3) -> list[GeocodeHit]:
        """What is at `point`: the address there, else the street, else the nearest place."""
        xy = project(np.array([point.lat]), np.array([point.lon]), self._lat0)[0]
        hits: list[GeocodeHit] = []
        if self._point_tree is not None:
            dist, idx = self._point_tree.query(xy, k=min(limit, self._points.size))
            for d, j in zip(np.atleast_1d(dist), np.atleast_1d(idx), strict=True):
                i = int(self._points[int(j)])
                if d <= _ADDRESS_NEAR_M or not hits:
                    hits.append(_at(self._make(i, 1.0 - d / 1000.0, None, None), float(d)))
        if self._line_tree is not None:
            d, j = self._line_tree.query(xy)
            if d <= _STREET_NEAR_M:
                street = int(self.g.line_entry[int(j)])
                hits.append(_at(self._make(street, 1.0 - d / 1000.0, None, None), float(d)))
        hits.sort(
            key=lambda h: (
                (h.distance_m or 0.0) - (_ADDRESS_NEAR_M if h.kind == PlaceKind.ADDRESS else 0.0)
            )
        )
        return _dedupe(hits)[:limit]


def _house_number_at(words: list[str], street_part: int) -> int | None:
    """Where the house number is: first or last in the street part, before any comma ("12 Main
    St", "Hauptstr. 12, 69117 Heidelberg"), never inside a name ("Avenue du 3 Septembre")."""
    if street_part == 0:
        return None
    for k in (street_part - 1, 0):
        if HOUSE_NUMBER.match(words[k]) and not (words[k].isdigit() and len(words[k]) > 5):
            return k
    return None


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = math.radians(lat2 - lat1) * 6371.0088
    dx = math.radians(lon2 - lon1) * 6371.0088 * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


def _along(lat: F64, lon: F64, fraction: float) -> tuple[float, float]:
    """The point `fraction` of the way along a polyline."""
    xy = project(lat, lon, float(lat[0]))
    seg = np.hypot(*(xy[1:] - xy[:-1]).T)
    target = float(seg.sum()) * min(max(fraction, 0.0), 1.0)
    run = np.concatenate([[0.0], np.cumsum(seg)])
    k = int(np.clip(np.searchsorted(run, target, side="right") - 1, 0, seg.shape[0] - 1))
    t = 0.0 if seg[k] == 0 else (target - run[k]) / seg[k]
    return (
        float(lat[k] + (lat[k + 1] - lat[k]) * t),
        float(lon[k] + (lon[k + 1] - lon[k]) * t),
    )


def _at(hit: GeocodeHit, distance_m: float) -> GeocodeHit:
    return dataclasses.replace(hit, distance_m=round(distance_m, 1))


def _dedupe(hits: list[GeocodeHit]) -> list[GeocodeHit]:
    """The best of hits that say the same thing about the same place (within ~50 m)."""
    kept: list[GeocodeHit] = []
    for hit in hits:
        if not any(
            h.label == hit.label and _km(h.lat, h.lon, hit.lat, hit.lon) < 0.05 for h in kept
        ):
            kept.append(hit)
    return kept
