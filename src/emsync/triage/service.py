"""Triage use case: assess, store on the incident's patient, announce PatientTriaged."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

from emsync.core.crypto import Keyring
from emsync.core.errors import ValidationFailed
from emsync.core.uow import UnitOfWork
from emsync.incidents import get_incident, record_triage
from emsync.triage.assess import TriageAssessment, TriageInputs, assess
from emsync.triage.events import PatientTriaged
from emsync.triage.pews import SOURCE as PEWS_SOURCE
from emsync.triage.schemas import (
    ContributionRead,
    News2Read,
    PewsRead,
    RangeRead,
    ReferenceRangesRead,
    TriageRequest,
    TriageResponse,
)


def _response(result: TriageAssessment, stored_on: str | None) -> TriageResponse:
    news2 = None
    if result.news2 is not None:
        news2 = News2Read(
            total=result.news2.total,
            band=result.news2.band,
            subscores=dict(result.news2.subscores._asdict()),
        )
    pews = None
    if result.pews is not None:
        pews = PewsRead(
            total=result.pews.total,
            band=result.pews.band,
            age_group=str(result.pews.age_group),
            subscores=dict(result.pews.subscores._asdict()),
            not_measured=list(result.pews.not_measured),
            source=PEWS_SOURCE,
        )
    ranges = None
    if result.reference_ranges is not None:
        r = result.reference_ranges
        ranges = ReferenceRangesRead(
            age_group=str(r.age_group),
            heart_rate=RangeRead(low=r.heart_rate.low, high=r.heart_rate.high),
            systolic_bp=RangeRead(low=r.systolic_bp.low, high=r.systolic_bp.high),
            respiratory_rate=RangeRead(low=r.respiratory_rate.low, high=r.respiratory_rate.high),
            spo2_min=r.spo2_min,
        )
    return TriageResponse(
        mode=result.mode,
        level=result.level,
        most_likely_level=result.most_likely_level,
        probabilities={str(k): round(v, 4) for k, v in result.probabilities.items()},
        news2=news2,
        explanation=[
            ContributionRead(feature=c.feature, value=c.value, contribution=c.contribution)
            for c in result.explanation
        ],
        model_version=result.model_version,
        possible_mistriage=result.possible_mistriage,
        stored_on_patient=stored_on,
        pathway=result.pathway,
        scale=result.scale,
        pews=pews,
        reference_ranges=ranges,
        reasons=list(result.reasons),
        safety_rule=result.safety_rule,
    )


async def triage(
    *, uow: UnitOfWork, keyring: Keyring, body: TriageRequest, actor: str, now: datetime
) -> TriageResponse:
    if body.patient_id is not None and body.incident_id is None:
        raise ValidationFailed(
            "incident_id: needed when patient_id is given",
            errors=[{"field": "incident_id", "reason": "needed when patient_id is given"}],
        )
    inputs = TriageInputs(
        **body.model_dump(exclude={"mode", "incident_id", "patient_id"}),
    )
    # The model is CPU work of about a millisecond; keep it off the event loop all the same.
    result = await asyncio.to_thread(assess, inputs, body.mode)
    if body.patient_id is None or body.incident_id is None:
        return _response(result, None)
    incident = await get_incident(
        session=uow.session, keyring=keyring, incident_id=body.incident_id
    )
    if body.patient_id not in {p.id for p in incident.patients}:
        raise ValidationFailed(
            f"patient_id: patient {body.patient_id} is not on incident {body.incident_id}",
            errors=[{"field": "patient_id", "reason": "not a patient of this incident"}],
        )
    response = _response(result, body.patient_id)
    await record_triage(
        session=uow.session,
        keyring=keyring,
        patient_id=body.patient_id,
        acuity=result.level,
        news2=result.news2.total if result.news2 else None,
        # The inputs too: the destination rules read the vital signs (hospitals/needs.py).
        detail_json=json.dumps(
            {
                **response.model_dump(mode="json"),
                "inputs": body.model_dump(mode="json", exclude={"mode", "patient_id"}),
            }
        ),
        actor=actor,
        now=now,
    )
    uow.record(
        PatientTriaged(
            incident_id=body.incident_id,
            patient_id=body.patient_id,
            level=result.level,
            news2=result.news2.total if result.news2 else None,
            mode=result.mode.value,
            model_version=result.model_version,
            chief_complaint=body.chief_complaint,
        )
    )
    await uow.commit()
    return response
