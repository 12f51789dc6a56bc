"""FHIR export of a handoff, validated against the R4B model and the project's rules."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.errors import Forbidden
from emsync.dispatch import call_sign_of
from emsync.handoffs import fhir, fhir_rules
from emsync.handoffs.keys import handoff_data_key, open_json, part_aad
from emsync.handoffs.lifecycle import HandoffStatus
from emsync.handoffs.reads import Viewer, load_handoff, may_open, read_handoff

S = HandoffStatus


# ---------------------------------------------------------------- FHIR


async def fhir_bundle(
    *, session: AsyncSession, keyring: Keyring, handoff_id: str, viewer: Viewer
) -> dict[str, Any]:
    handoff = await load_handoff(session, handoff_id, viewer)
    if not may_open(viewer, handoff):
        raise Forbidden(f"only staff of hospital {handoff.hospital_id} may export this handoff")
    read = await read_handoff(session, keyring, handoff, viewer)
    assert read.content is not None
    assert read.picture is not None
    body = open_json(
        await handoff_data_key(session, keyring, handoff),
        handoff.content_sealed,
        part_aad(handoff.id, "content"),
    )
    bundle = fhir.bundle(
        fhir.HandoffFacts(
            handoff_id=handoff.id,
            hospital_id=handoff.hospital_id,
            status=handoff.status,
            created_at=as_utc(handoff.created_at),
            eta=as_utc(handoff.eta) if handoff.eta else None,
            acuity=handoff.acuity,
            news2=body.get("news2"),  # as stated; the computed one is in the picture
            content=read.content.model_dump(),
            picture=read.picture.model_dump(),
            incident_id=handoff.incident_id,
            patient_id=handoff.patient_id,
            unit_id=handoff.unit_id,
            unit_call_sign=None
            if handoff.unit_id is None
            else await call_sign_of(session=session, unit_id=handoff.unit_id),
            crew=read.crew or (),
            attachments=[a.model_dump() for a in read.attachments or ()],
        )
    )
    # The R4B models (~0.3 s of CPU to import) on the first export, not in every API process.
    from fhir.resources.R4B.bundle import Bundle

    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:  # a defect in fhir.py, never the caller's input
        raise RuntimeError(f"the FHIR export of handoff {handoff.id} is invalid: {exc}") from exc
    broken = fhir_rules.problems(bundle)
    if broken:
        raise RuntimeError(f"the FHIR export of handoff {handoff.id} breaks: {broken}")
    return bundle
