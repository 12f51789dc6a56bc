"""Legal case records: opened by the legal agent (one per session, keyed by the step's
idempotency key), then worked by people: police task, consent and capacity, chain of custody.

What happened to the person (circumstances, obligations, each change with its reason) is
sealed; categories and task states are in the clear so the open cases can be listed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.intake.records.models import CustodyNote, LegalCase
from emsync.intake.records.schemas import (
    CustodyNoteCreate,
    CustodyNoteRead,
    LegalCaseRead,
    LegalCaseUpdate,
    Obligation,
)


def _case_aad(case_id: str) -> str:
    return f"intake-legal-case:{case_id}"


def _note_aad(note_id: str) -> str:
    return f"intake-custody-note:{note_id}"


def _seal(keyring: Keyring, case_id: str, details: dict[str, Any]) -> bytes:
    sealed = keyring.seal_text(json.dumps(details), aad=_case_aad(case_id))
    assert sealed is not None
    return sealed


def _details(keyring: Keyring, case: LegalCase) -> dict[str, Any]:
    text = keyring.open_text(case.details_sealed, aad=_case_aad(case.id))
    return dict(json.loads(text or "{}"))


def _note_read(keyring: Keyring, n: CustodyNote) -> CustodyNoteRead:
    body = json.loads(keyring.open_text(n.note_sealed, aad=_note_aad(n.id)) or "{}")
    return CustodyNoteRead(
        id=n.id,
        sequence=n.sequence,
        item=body["item"],
        from_party=body["from_party"],
        to_party=body["to_party"],
        note=body.get("note"),
        recorded_by=n.recorded_by,
        recorded_at=n.recorded_at,
    )


async def case_read(session: AsyncSession, keyring: Keyring, case: LegalCase) -> LegalCaseRead:
    details = _details(keyring, case)
    notes = await session.scalars(
        select(CustodyNote).where(CustodyNote.case_id == case.id).order_by(CustodyNote.sequence)
    )
    return LegalCaseRead(
        id=case.id,
        session_id=case.session_id,
        person_id=case.person_id,
        jurisdiction=case.jurisdiction,
        rules=list(case.rules),
        categories=list(case.categories),
        status=case.status,
        police_task=case.police_task,
        police_due_at=case.police_due_at,
        police_reference=case.police_reference,
        consent=case.consent,
        capacity=case.capacity,
        obligations=[Obligation(**o) for o in details.get("obligations", [])],
        circumstances=details.get("circumstances"),
        custody=[_note_read(keyring, n) for n in notes],
        history=list(details.get("history", [])),
        created_at=case.created_at,
        updated_at=case.updated_at,
    )


async def case_for_key(session: AsyncSession, key: str) -> LegalCase | None:
    return await session.scalar(select(LegalCase).where(LegalCase.idempotency_key == key))


async def open_case(
    *,
    session: AsyncSession,
    keyring: Keyring,
    key: str,
    session_id: str,
    person_id: str | None,
    jurisdiction: str,
    obligations: Sequence[dict[str, Any]],
    police_task: str,
    police_due_at: datetime | None,
    consent: str,
    capacity: str,
    circumstances: str | None,
    actor: str,
    now: datetime,
) -> LegalCase:
    """Add the case in the caller's transaction (IntegrityError at flush if the key exists)."""
    case_id = new_id()
    case = LegalCase(
        id=case_id,
        idempotency_key=key,
        session_id=session_id,
        person_id=person_id,
        jurisdiction=jurisdiction,
        rules=[o["rule"] for o in obligations],
        categories=sorted({o["category"] for o in obligations}),
        status="open",
        police_task=police_task,
        police_due_at=police_due_at,
        consent=consent,
        capacity=capacity,
        details_sealed=_seal(
            keyring,
            case_id,
            {
                "circumstances": circumstances,
                "obligations": list(obligations),
                "history": [{"at": now.isoformat(), "by": actor, "change": "opened"}],
            },
        ),
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    await session.flush()
    return case


async def get_case(*, session: AsyncSession, keyring: Keyring, case_id: str) -> LegalCaseRead:
    case = await session.get(LegalCase, case_id)
    if case is None:
        raise NotFound(f"no legal case {case_id}")
    return await case_read(session, keyring, case)


async def list_cases(
    *, session: AsyncSession, keyring: Keyring, session_id: str | None, status: str | None
) -> list[LegalCaseRead]:
    query = select(LegalCase).order_by(LegalCase.created_at.desc()).limit(200)
    if session_id is not None:
        query = query.where(LegalCase.session_id == session_id)
    if status is not None:
        query = query.where(LegalCase.status == status)
    return [await case_read(session, keyring, c) for c in await session.scalars(query)]


async def update_case(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    case_id: str,
    data: LegalCaseUpdate,
    actor: str,
    now: datetime,
) -> LegalCaseRead:
    case = await uow.session.get(LegalCase, case_id)
    if case is None:
        raise NotFound(f"no legal case {case_id}")
    changes = data.model_dump(exclude={"reason"}, exclude_none=True)
    if not changes:
        raise ValidationFailed("nothing to change", errors=[{"field": "body"}])
    if changes.get("police_task") == "done" and not (
        data.police_reference or case.police_reference
    ):
        raise ValidationFailed(
            "a police notification marked done needs the police reference",
            errors=[{"field": "police_reference", "message": "required when done"}],
        )
    for name, value in changes.items():
        setattr(case, name, value)
    details = _details(keyring, case)
    details.setdefault("history", []).append(
        {"at": now.isoformat(), "by": actor, "change": changes, "reason": data.reason}
    )
    case.details_sealed = _seal(keyring, case.id, details)
    case.updated_at = now
    await uow.commit()
    return await case_read(uow.session, keyring, case)


async def add_custody_note(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    case_id: str,
    data: CustodyNoteCreate,
    actor: str,
    now: datetime,
) -> LegalCaseRead:
    """The next link of the chain (sequence numbers are unique per case: two people adding a
    link at once cannot both be link n)."""
    case = await uow.session.get(LegalCase, case_id)
    if case is None:
        raise NotFound(f"no legal case {case_id}")
    last = await uow.session.scalar(
        select(func.max(CustodyNote.sequence)).where(CustodyNote.case_id == case_id)
    )
    note_id = new_id()
    sealed = keyring.seal_text(data.model_dump_json(), aad=_note_aad(note_id))
    assert sealed is not None
    uow.session.add(
        CustodyNote(
            id=note_id,
            case_id=case_id,
            sequence=(last or 0) + 1,
            note_sealed=sealed,
            recorded_by=actor,
            recorded_at=now,
        )
    )
    case.updated_at = now
    try:
        await uow.commit()
    except IntegrityError:
        await uow.rollback()
        raise Conflict("another custody note was added meanwhile; retry") from None
    return await case_read(uow.session, keyring, case)
