"""What the FHIR export reads of a handoff (pure). A module of its own so that `fhir` and the
builders it calls (`fhir_care`) both import it, and neither imports the other."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class HandoffFacts:
    """What the FHIR export needs of an opened handoff. `content` is the ATMIST record as
    recorded (patient, onset, mechanism); `picture` the record merged with its updates
    (`schemas.ClinicalPicture`, dumped): signs, findings, treatment, allergies, notes, NEWS2."""

    handoff_id: str
    hospital_id: str
    status: str
    created_at: datetime
    eta: datetime | None
    acuity: int | None
    news2: int | None  # as stated by the crew or by triage
    content: Mapping[str, Any]
    picture: Mapping[str, Any]
    incident_id: str | None = None
    patient_id: str | None = None
    unit_id: str | None = None
    unit_call_sign: str | None = None  # the ED knows the ambulance by it, not by its id
    crew: Sequence[str] = ()
    # Photos and ECGs (`schemas.AttachmentRead` dumps): DocumentReferences to their files.
    attachments: Sequence[Mapping[str, Any]] = ()
