"""Routes for the intake agents' records (under /api/intake/): the ED bed board, legal cases
and their chain of custody, clinicians, slots and bookings with .ics export, and the rule
tables the agents use. Each route names its permission."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm, Role
from emsync.auth.principal import Principal
from emsync.core.errors import Forbidden, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.runtime import ReadSessionDep, RuntimeDep, UowDep
from emsync.intake.agents import costing, reportable
from emsync.intake.records import calendar, legal, scheduling, service
from emsync.intake.records.schemas import (
    AvailabilityCreate,
    BedAssign,
    BedBoard,
    BedCreate,
    BedMove,
    BedRead,
    BookingCreate,
    BookingRead,
    ClinicianCreate,
    ClinicianRead,
    CustodyNoteCreate,
    LegalCaseRead,
    LegalCaseUpdate,
    SlotRead,
)

Reader = Annotated[Principal, requires(Perm.INTAKE_READ)]
Writer = Annotated[Principal, requires(Perm.INTAKE_WRITE)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Repeat a request safely: the same key returns the first result",
    ),
]
ICS = "text/calendar; charset=utf-8"

beds_router = APIRouter(prefix="/api/intake/beds", tags=["intake records"])
legal_router = APIRouter(prefix="/api/intake/legal-cases", tags=["intake records"])
scheduling_router = APIRouter(prefix="/api/intake", tags=["intake records"])


def _own_hospital(principal: Principal, hospital_id: str) -> None:
    """Hospital staff see and change only their own ED's board."""
    if principal.role is Role.ADMIN or principal.hospital_id is None:
        return
    if principal.hospital_id != hospital_id:
        raise Forbidden("hospital staff may use only their own hospital's bed board")


def _key(header: str | None, scope: str) -> str:
    """The effect's key: the client's (hashed to a fixed length), else a fresh one. The HTTP
    layer replays a repeated request's response (core.idempotency); this key also holds when
    that record is still pending after a crash (the unique column refuses a second effect)."""
    if not header:
        return f"{scope}:{new_id()}"
    return f"{scope}:{hashlib.sha256(header.encode()).hexdigest()[:40]}"


# ---- bed board -------------------------------------------------------------------------------


@beds_router.get("", response_model=BedBoard)
async def bed_board(
    session: ReadSessionDep, principal: Reader, hospital_id: str = Query(max_length=36)
) -> BedBoard:
    _own_hospital(principal, hospital_id)
    return await service.board(session=session, hospital_id=hospital_id)


@beds_router.post("", response_model=BedRead, status_code=201)
async def create_bed(
    body: BedCreate, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> BedRead:
    _own_hospital(principal, body.hospital_id)
    return await service.create_bed(uow=uow, data=body, now=runtime.clock())


async def _check_bed(uow: UowDep, principal: Principal, bed_id: str) -> None:
    _own_hospital(principal, await service.hospital_of_bed(session=uow.session, bed_id=bed_id))


@beds_router.patch("/{bed_id}", response_model=BedRead)
async def move_bed(
    bed_id: str, body: BedMove, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> BedRead:
    """Cleaning done, closed, reopened (assign and release move a bed into and out of use)."""
    await _check_bed(uow, principal, bed_id)
    return await service.move_bed(uow=uow, bed_id=bed_id, data=body, now=runtime.clock())


@beds_router.delete("/{bed_id}", status_code=204)
async def delete_bed(bed_id: str, uow: UowDep, principal: Writer) -> Response:
    await _check_bed(uow, principal, bed_id)
    await service.delete_bed(uow=uow, bed_id=bed_id)
    return Response(status_code=204)


@beds_router.post("/{bed_id}/assign", response_model=BedRead)
async def assign_bed(
    bed_id: str,
    body: BedAssign,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> BedRead:
    """Put a patient in a free bed; 409 when it is not available (someone was quicker)."""
    await _check_bed(uow, principal, bed_id)
    return await service.assign_bed(
        uow=uow,
        bed_id=bed_id,
        key=_key(idempotency_key, f"bed:{principal.id}"),
        session_id=body.session_id,
        person_id=body.person_id,
        acuity=body.acuity,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@beds_router.post("/{bed_id}/release", response_model=BedRead)
async def release_bed(bed_id: str, runtime: RuntimeDep, uow: UowDep, principal: Writer) -> BedRead:
    """The patient left the bed: it goes to cleaning."""
    await _check_bed(uow, principal, bed_id)
    return await service.release_bed(uow=uow, bed_id=bed_id, now=runtime.clock())


# ---- legal cases -----------------------------------------------------------------------------


@legal_router.get("", response_model=list[LegalCaseRead])
async def list_legal_cases(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: Reader,
    session_id: str | None = Query(default=None, max_length=36),
    status: str | None = Query(default=None, pattern="^(open|reported|closed)$"),
) -> list[LegalCaseRead]:
    return await legal.list_cases(
        session=session, keyring=runtime.keyring, session_id=session_id, status=status
    )


@legal_router.get("/rules", response_model=dict[str, Any])
async def legal_rules(_: Reader) -> dict[str, Any]:
    """The reportable-case rules per jurisdiction, with their legal basis and source."""
    book = reportable.rule_book()
    return {
        "source": book.source,
        "version": book.version,
        "default_jurisdiction": book.default_jurisdiction,
        "categories": {k: c.label for k, c in book.categories.items()},
        "jurisdictions": {
            code: [
                {
                    "id": r.id,
                    "category": r.category,
                    "authority": r.authority,
                    "police": r.police,
                    "due_hours": r.due_hours,
                    "legal_basis": r.legal_basis,
                }
                for r in rules
            ]
            for code, rules in book.jurisdictions.items()
        },
    }


@legal_router.get("/{case_id}", response_model=LegalCaseRead)
async def get_legal_case(
    case_id: str, runtime: RuntimeDep, session: ReadSessionDep, _: Reader
) -> LegalCaseRead:
    return await legal.get_case(session=session, keyring=runtime.keyring, case_id=case_id)


@legal_router.patch("/{case_id}", response_model=LegalCaseRead)
async def update_legal_case(
    case_id: str, body: LegalCaseUpdate, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> LegalCaseRead:
    """Police told (with their reference), consent or capacity recorded, case closed; each
    change with its reason, kept in the case's history."""
    return await legal.update_case(
        uow=uow,
        keyring=runtime.keyring,
        case_id=case_id,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@legal_router.post("/{case_id}/custody", response_model=LegalCaseRead, status_code=201)
async def add_custody_note(
    case_id: str, body: CustodyNoteCreate, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> LegalCaseRead:
    """The next link of an evidence item's chain of custody (who handed what to whom)."""
    return await legal.add_custody_note(
        uow=uow,
        keyring=runtime.keyring,
        case_id=case_id,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


# ---- clinicians, slots, bookings -------------------------------------------------------------


@scheduling_router.get("/clinicians", response_model=list[ClinicianRead])
async def list_clinicians(
    session: ReadSessionDep,
    _: Reader,
    specialty: str | None = Query(default=None, max_length=60),
) -> list[ClinicianRead]:
    return await scheduling.list_clinicians(session=session, specialty=specialty)


@scheduling_router.post("/clinicians", response_model=ClinicianRead, status_code=201)
async def create_clinician(
    body: ClinicianCreate, runtime: RuntimeDep, uow: UowDep, _: Writer
) -> ClinicianRead:
    return await scheduling.create_clinician(uow=uow, data=body, now=runtime.clock())


@scheduling_router.post(
    "/clinicians/{clinician_id}/availability", response_model=list[SlotRead], status_code=201
)
async def add_availability(
    clinician_id: str, body: AvailabilityCreate, uow: UowDep, _: Writer
) -> list[SlotRead]:
    """A window of the clinician's time, cut into bookable slots."""
    return await scheduling.add_availability(uow=uow, clinician_id=clinician_id, data=body)


@scheduling_router.get("/slots", response_model=list[SlotRead])
async def open_slots(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: Reader,
    specialty: str | None = Query(default=None, max_length=60),
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[SlotRead]:
    """Free slots, earliest first (default: from now, 30 days)."""
    start = start or runtime.clock()
    end = end or start + timedelta(days=30)
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValidationFailed(
            "start and end need a UTC offset and end must be after start",
            errors=[{"field": "end", "message": "after start, with an offset"}],
        )
    return await scheduling.open_slots(session=session, specialty=specialty, start=start, end=end)


@scheduling_router.post("/bookings", response_model=BookingRead, status_code=201)
async def book(
    body: BookingCreate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> BookingRead:
    """Book a free slot; 409 `slot-taken` when someone else booked it first."""
    return await scheduling.book(
        uow=uow,
        slot_id=body.slot_id,
        key=_key(idempotency_key, f"booking:{principal.id}"),
        reason=body.reason,
        person_id=body.person_id,
        session_id=body.session_id,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@scheduling_router.get("/bookings", response_model=list[BookingRead])
async def list_bookings(
    session: ReadSessionDep,
    _: Reader,
    session_id: str | None = Query(default=None, max_length=36),
    clinician_id: str | None = Query(default=None, max_length=36),
) -> list[BookingRead]:
    return await scheduling.list_bookings(
        session=session, session_id=session_id, clinician_id=clinician_id
    )


@scheduling_router.get("/bookings/{booking_id}", response_model=BookingRead)
async def get_booking(booking_id: str, session: ReadSessionDep, _: Reader) -> BookingRead:
    return await scheduling.get_booking(session=session, booking_id=booking_id)


@scheduling_router.post("/bookings/{booking_id}/cancel", response_model=BookingRead)
async def cancel_booking(
    booking_id: str, runtime: RuntimeDep, uow: UowDep, _: Writer
) -> BookingRead:
    return await scheduling.cancel_booking(uow=uow, booking_id=booking_id, now=runtime.clock())


@scheduling_router.get("/bookings/{booking_id}/calendar.ics", response_class=Response)
async def booking_ics(booking_id: str, session: ReadSessionDep, _: Reader) -> Response:
    """The appointment as an iCalendar file (RFC 5545) for the patient's or clinic's calendar."""
    booking = await scheduling.get_booking(session=session, booking_id=booking_id)
    body = calendar.to_ics(scheduling.as_appointments([booking]))
    return Response(
        body,
        media_type=ICS,
        headers={"Content-Disposition": f'attachment; filename="appointment-{booking_id}.ics"'},
    )


@scheduling_router.get("/clinicians/{clinician_id}/calendar.ics", response_class=Response)
async def clinician_ics(clinician_id: str, session: ReadSessionDep, _: Reader) -> Response:
    """Every booking of the clinician as one iCalendar file."""
    bookings = await scheduling.list_bookings(
        session=session, session_id=None, clinician_id=clinician_id
    )
    return Response(calendar.to_ics(scheduling.as_appointments(bookings)), media_type=ICS)


@scheduling_router.get("/billing/fee-schedule", response_model=dict[str, Any])
async def fee_schedule(_: Reader) -> dict[str, Any]:
    """The fee schedule and coverage rules the billing agent estimates with (and their sources)."""
    t = costing.tables()
    return {
        "currency": t.currency,
        "fee_source": t.fee_source,
        "fee_version": t.fee_version,
        "items": {
            k: {"label": i.label, "amount": str(i.amount), "per": i.per} for k, i in t.items.items()
        },
        "coverage_source": t.coverage_source,
        "payers": {k: {"label": p.label, "billed_to": p.billed_to} for k, p in t.payers.items()},
    }


routers = [beds_router, legal_router, scheduling_router]
