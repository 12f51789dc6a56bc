"""The clinical picture of a handoff (pure): its ATMIST record merged with the updates sent
after it, and NEWS2 over the newest vital-sign set that allows it.

One merge serves the hospital view and the FHIR export, so the two cannot disagree about what
the crew recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from emsync.handoffs.schemas import (
    AtmistRecord,
    ClinicalPicture,
    HandoffNews2Read,
    NoteRead,
    Treatment,
    UpdateRead,
    VitalSigns,
)
from emsync.telemetry.artefacts import SUPPRESSING
from emsync.triage.news2 import news2

# NEWS2 needs these five measured; oxygen and consciousness, when not recorded, are taken as
# air and Alert (the score says so in `assumed`), as the telemetry pipeline does.
NEWS2_REQUIRED = ("rr", "spo2", "sbp", "hr", "temp")
NEWS2_FIELDS = (*NEWS2_REQUIRED, "o2", "avpu")
SUBSCORE_NAMES = ("rr", "spo2", "o2", "sbp", "hr", "avpu", "temp")
# A set missing a parameter takes it from the newest earlier set within this time, as the
# telemetry pipeline combines a monitor's readings (its NEWS2 window's default): a monitor that
# reports no AVPU must not score a patient the crew found responding only to voice as Alert.
WINDOW = timedelta(minutes=15)


def _measured(sign: VitalSigns, name: str) -> Any:
    """A set's value as a score may take it: None where the monitor's rules flagged it as not
    the patient's (a lead off's 0, motion, a probe off), as the telemetry pipeline scores."""
    value = getattr(sign, name)
    flagged = sign.artefacts and any(
        a.field == name and a.kind in SUPPRESSING for a in sign.artefacts
    )
    return None if flagged else value


def news2_of(sign: VitalSigns, earlier: Sequence[VitalSigns] = ()) -> HandoffNews2Read | None:
    """NEWS2 (SpO2 scale 1) at one set, with parameters it lacks (or has flagged as artefacts)
    carried from the newest of the `earlier` sets (time order) within WINDOW; None when a
    required one is still missing."""
    values: dict[str, Any] = {}
    carried: list[str] = []
    for name in NEWS2_FIELDS:
        value = _measured(sign, name)
        if value is None:
            value = next(
                (
                    _measured(e, name)
                    for e in reversed(earlier)
                    if _measured(e, name) is not None and sign.ts - e.ts <= WINDOW
                ),
                None,
            )
            if value is not None:
                carried.append(name)
        values[name] = value
    if any(values[name] is None for name in NEWS2_REQUIRED):
        return None
    score = news2(
        rr=values["rr"],
        spo2=values["spo2"],
        on_oxygen=bool(values["o2"]),
        sbp=values["sbp"],
        hr=values["hr"],
        consciousness=values["avpu"] or "A",
        temp=values["temp"],
    )
    return HandoffNews2Read(
        total=score.total,
        band=score.band.value,
        subscores=dict(zip(SUBSCORE_NAMES, score.subscores, strict=True)),
        assumed=[name for name in ("o2", "avpu") if values[name] is None],
        carried=carried,
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
    scored = next(
        (
            score
            for n in range(len(signs) - 1, -1, -1)
            if (score := news2_of(signs[n], signs[:n])) is not None
        ),
        None,
    )
    return ClinicalPicture(
        signs=signs,
        latest_signs=signs[-1] if signs else None,
        injuries=injuries,
        treatment=treatment,
        allergies=None if content.allergies is None else list(content.allergies),
        notes=notes,
        assessment=content.assessment,
        news2=scored,
    )
