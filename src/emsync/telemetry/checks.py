"""The ingest pipeline's per-reading clinical hook: artefact rules, then the patient's score.

Kept out of `pipeline.py` so the pipeline only calls it: a vitals reading of a bound patient is
checked for probable artefacts (`artefacts.py`; flagged fields stay in the stored and pushed
reading, marked, and in the latest-value cache as measured, with their marks), then scored with
NEWS2 for an adult or Bedside PEWS for a child (`paediatric.py`), by the age the incidents
domain holds for the patient; a field a suppressing rule flagged is scored with its last
unflagged value instead, in that reading and in later ones that do not measure it again.
Costs a few dictionary look-ups when nothing fires (bench/artefacts.py measures it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from emsync.telemetry.alerts import AlertKind
from emsync.telemetry.artefacts import SUPPRESSING, ArtefactRules
from emsync.telemetry.paediatric import PewsScored, score_pews
from emsync.telemetry.vitals import LatestValues, Mark, Scored, Value, score
from emsync.triage.paediatric import PAEDIATRIC_MAX_AGE


class ReadingChecks:
    __slots__ = ("_cache", "_window", "rules")

    def __init__(self, cache: LatestValues, window: timedelta) -> None:
        self._cache = cache
        self._window = window
        self.rules = ArtefactRules()

    def apply(
        self,
        patient_id: str,
        ts: datetime,
        values: dict[str, Any],
        *,
        age_years: float | None,
        spo2_scale: int,
    ) -> Scored | PewsScored | None:
        """Flag artefacts into `values["artefacts"]`, update the cache, return the score."""
        found = self.rules.check(patient_id, ts, values)
        cache = self._cache
        cache.update(patient_id, ts, values)
        if found:
            flagged = [a.as_dict() for a in found]
            values["artefacts"] = flagged
            cache.mark(patient_id, ts, marks_of(flagged, self.rules.last_unflagged(patient_id)))
        # A field flagged in an earlier reading and not measured since is still scored with
        # its last unflagged value, as the reading that brought it was.
        fields = cache.scoring(patient_id)
        if age_years is not None and age_years < PAEDIATRIC_MAX_AGE:
            return score_pews(fields, at=ts, window=self._window, age_years=age_years)
        return score(fields, at=ts, window=self._window, spo2_scale=spo2_scale)


def marks_of(
    artefacts: Iterable[Mapping[str, str]], last_unflagged: Mapping[str, tuple[Value, datetime]]
) -> dict[str, Mark]:
    """The cache's marks of one reading's artefacts ({field, kind}, as stored and pushed); a
    suppressing kind takes the field's last unflagged value instead (`vitals.Mark`)."""
    marks: dict[str, Mark] = {}
    for a in artefacts:
        name, kind = a["field"], a["kind"]
        if kind in SUPPRESSING:
            marks[name] = (kind, last_unflagged.get(name), True)
        elif name not in marks:  # a suppressing flag on the same field wins
            marks[name] = (kind, None, False)
    return marks


def detail_key(scored: Scored | PewsScored) -> str:
    """Where a reading carries its score: `news2` for an adult, `pews` for a child."""
    return "pews" if type(scored) is PewsScored else "news2"


def alert_kind(detail: dict[str, Any] | None) -> AlertKind:
    return (
        AlertKind.PEWS
        if detail is not None and detail.get("scale") == "bedside-pews"
        else (AlertKind.NEWS2)
    )
