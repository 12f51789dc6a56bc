"""Times of things that already happened may not lie in the future (issue #14 item 3; pure).

A crew tablet or monitor with a wrong clock would otherwise order a patient's signs wrongly and
put a "latest" set first that is not. Onset, vital signs and treatment are observations: each
must be no later than now plus the allowed skew. The ETA is the one time meant to be ahead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from emsync.handoffs.schemas import AtmistRecord, Treatment, UpdateCreate, VitalSigns


def future_fields(
    *,
    now: datetime,
    max_skew: timedelta,
    content: AtmistRecord | None = None,
    update: UpdateCreate | None = None,
) -> list[str]:
    """The fields (dotted, as in 422 errors) whose time is later than `now` + `max_skew`."""
    latest = now + max_skew
    found: list[tuple[str, datetime | None]] = []
    if content is not None:
        found.append(("content.time_of_onset", content.time_of_onset))
        found += _signs("content.signs", content.signs)
        found += _treatments("content.treatment", content.treatment or ())
    if update is not None:
        if update.vitals is not None:
            found.append(("vitals.ts", update.vitals.ts))
        if update.treatment is not None:
            found.append(("treatment.at", update.treatment.at))
    return [name for name, at in found if at is not None and at > latest]


def _signs(prefix: str, signs: list[VitalSigns]) -> list[tuple[str, datetime | None]]:
    return [(f"{prefix}.{n}.ts", s.ts) for n, s in enumerate(signs)]


def _treatments(
    prefix: str, items: list[Treatment] | tuple[()]
) -> list[tuple[str, datetime | None]]:
    return [(f"{prefix}.{n}.at", t.at) for n, t in enumerate(items)]
