"""The clinical picture of a handoff (pure): its ATMIST record merged with the updates sent
after it, and NEWS2 over the newest vital-sign set that allows it.

One merge serves the hospital view and the FHIR export, so the two cannot disagree about what
the crew recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

from emsync.handoffs.schemas import (
    AtmistRecord,
    ClinicalPicture,
    HandoffNews2Read,
    NoteRead,
    Treatment,
    UpdateRead,
    VitalSigns,
)
from emsync.triage.news2 import news2

# NEWS2 needs these five measured; oxygen and consciousness, when not recorded, are taken as
# air and Alert (the score says so in `assumed`), as the telemetry pipeline does.
NEWS2_REQUIRED = ("rr", "spo2", "sbp", "hr", "temp")
SUBSCORE_NAMES = ("rr", "spo2", "o2", "sbp", "hr", "avpu", "temp")


def news2_of(sign: VitalSigns) -> HandoffNews2Read | None:
    """NEWS2 of one set (SpO2 scale 1), or None when it lacks a required measurement."""
    if sign.rr is None or sign.spo2 is None or sign.sbp is None or sign.hr is None:
        return None
    if sign.temp is None:
        return None
    assumed = [name for name in ("o2", "avpu") if getattr(sign, name) is None]
    score = news2(
        rr=sign.rr,
        spo2=sign.spo2,
        on_oxygen=bool(sign.o2),
        sbp=sign.sbp,
        hr=sign.hr,
        consciousness=sign.avpu or "A",
        temp=sign.temp,
    )
    return HandoffNews2Read(
        total=score.total,
        band=score.band.value,
        subscores=dict(zip(SUBSCORE_NAMES, score.subscores, strict=True)),
        assumed=assumed,
        ts=sign.ts,
        source=sign.source,
    )


def clinical_picture(content: AtmistRecord, updates: Sequence[UpdateRead]) -> ClinicalPicture:
    signs = list(content.signs)
    injuries = list(content.injuries or ())
    treatment = None if content.treatment is None else list(content.treatment)
    notes = [NoteRead(text=content.notes)] if content.notes else []
    for update in updates:
        data = update.data
        if data is None:
            continue  # a status change: no clinical content
        if update.kind == "vitals":
            signs.append(VitalSigns.model_validate(data["vitals"]))
        elif update.kind == "findings":
            injuries.extend(data["findings"])
        elif update.kind == "treatment":
            treatment = [*(treatment or ()), Treatment.model_validate(data["treatment"])]
        elif update.kind == "note":
            notes.append(NoteRead(text=data["note"], at=update.at))
    signs.sort(key=lambda s: s.ts)
    scored = next((s for s in map(news2_of, reversed(signs)) if s is not None), None)
    return ClinicalPicture(
        signs=signs,
        latest_signs=signs[-1] if signs else None,
        injuries=injuries,
        treatment=treatment,
        allergies=None if content.allergies is None else list(content.allergies),
        notes=notes,
        news2=scored,
    )
