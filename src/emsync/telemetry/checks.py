"""The ingest pipeline's per-reading clinical hook: artefact rules, then the patient's score.

Kept out of `pipeline.py` so the pipeline only calls it: a vitals reading of a bound patient is
checked for probable artefacts (`artefacts.py`; flagged fields stay in the stored and pushed
reading, marked, and in the latest-value cache as measured), then scored with NEWS2 for an adult
or Bedside PEWS for a child (`paediatric.py`), by the age the incidents domain holds for the
patient; a field a suppressing rule flagged is scored with its last unflagged value instead.
Costs a few dictionary look-ups when nothing fires (bench/artefacts.py measures it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from emsync.telemetry.alerts import AlertKind
from emsync.telemetry.artefacts import Artefact, ArtefactRules, without_artefacts
from emsync.telemetry.paediatric import PewsScored, is_child, score_pews
from emsync.telemetry.schemas import LatestVitals, PewsLiveRead
from emsync.telemetry.vitals import LatestValues, Scored, score
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
        fields = cache.get(patient_id) or {}
        if found:
            values["artefacts"] = [a.as_dict() for a in found]
            fields = self._scored_fields(patient_id, fields, values, found)
        if age_years is not None and age_years < PAEDIATRIC_MAX_AGE:
            return score_pews(fields, at=ts, window=self._window, age_years=age_years)
        return score(fields, at=ts, window=self._window, spo2_scale=spo2_scale)

    def _scored_fields(
        self,
        patient_id: str,
        fields: dict[str, tuple[Any, datetime]],
        values: dict[str, Any],
        found: tuple[Artefact, ...],
    ) -> dict[str, tuple[Any, datetime]]:
        """The cache as a score may use it: suppressed fields back to their last unflagged
        value (left out when there is none)."""
        kept = without_artefacts(values, found)
        last = self.rules.last_unflagged(patient_id)
        scored = dict(fields)
        for name in values.keys() - kept.keys():
            previous = last.get(name)
            if previous is None:
                scored.pop(name, None)
            else:
                scored[name] = previous
        return scored


def detail_key(scored: Scored | PewsScored) -> str:
    """Where a reading carries its score: `news2` for an adult, `pews` for a child."""
    return "pews" if type(scored) is PewsScored else "news2"


def alert_kind(detail: dict[str, Any] | None) -> AlertKind:
    return (
        AlertKind.PEWS
        if detail is not None and detail.get("scale") == "bedside-pews"
        else (AlertKind.NEWS2)
    )


def latest_for_age(
    latest: LatestVitals, age_years: float | None, window: timedelta
) -> LatestVitals:
    """A child's latest vitals carry PEWS and never NEWS2; an adult's are returned as they are."""
    if not is_child(age_years) or not latest.values:
        return latest
    assert age_years is not None
    fields = {name: (v.value, v.ts) for name, v in latest.values.items()}
    at = max(ts for _, ts in fields.values())
    scored = score_pews(fields, at=at, window=window, age_years=age_years)
    pews = None if scored is None else PewsLiveRead(**scored.as_dict())
    return latest.model_copy(update={"news2": None, "pews": pews})
