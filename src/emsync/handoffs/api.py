"""Handoff routes (thin: validation at the edge, use cases in the service)."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from fastapi.responses import JSONResponse, Response

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm, Role
from emsync.auth.principal import Principal
from emsync.core.errors import Forbidden, ValidationFailed
from emsync.core.gate import body_limit
from emsync.core.runtime import ReadSessionDep, Runtime, RuntimeDep, SessionDep, UowDep
from emsync.core.schemas import Page
from emsync.handoffs import drafting, export, feed, keys, reads, transitions, updates
from emsync.handoffs.attachments import AttachmentKind
from emsync.handoffs.lifecycle import HandoffStatus, Side
from emsync.handoffs.models import HospitalKey
from emsync.handoffs.public import viewer_for
from emsync.handoffs.schemas import (
    AtmistRecord,
    AttachmentRead,
    DraftRequest,
    FeedAck,
    FeedPage,
    HandoffCreate,
    HandoffDraftEdit,
    HandoffRead,
    HospitalKeyRead,
    Redirect,
    StatusChange,
    UpdateCreate,
    UpdateRead,
)
from emsync.handoffs.timing import future_fields

router = APIRouter(prefix="/api/handoffs", tags=["handoffs"])
HOSPITAL_ID = r"^[A-Za-z0-9._:-]{1,64}$"
HospitalIdQuery = Annotated[str, Query(pattern=HOSPITAL_ID)]
HospitalIdPath = Annotated[str, Path(pattern=HOSPITAL_ID)]
FHIR_JSON = "application/fhir+json"
# Sequence numbers are stored as 64-bit integers: a larger one is no position, and used to reach
# the database as an overflow (500, issue #14 item 8).
MAX_SEQ = 2**62


def refuse_future_times(
    runtime: Runtime, *, content: AtmistRecord | None = None, update: UpdateCreate | None = None
) -> None:
    """422 naming each observation time later than now plus the allowed clock skew."""
    skew = timedelta(seconds=runtime.settings.handoffs.max_clock_skew_seconds)
    fields = future_fields(now=runtime.clock(), max_skew=skew, content=content, update=update)
    if fields:
        raise ValidationFailed(
            f"{', '.join(fields)}: in the future; check the device's clock",
            errors=[
                {"field": f"body.{f}", "message": "later than now", "type": "future_time"}
                for f in fields
            ],
        )


def _key_read(key: HospitalKey, active_version: int) -> HospitalKeyRead:
    return HospitalKeyRead(
        hospital_id=key.hospital_id,
        version=key.version,
        public_key=base64.b64encode(key.public_key).decode(),
        active=key.version == active_version,
        created_at=key.created_at,
    )


def _crew_writes_for_its_call(
    viewer: reads.Viewer, *, incident_id: str, unit_id: str | None
) -> None:
    """A crew writes handoffs only for the call its unit is on, as that unit: a draft pulls the
    incident's patient details in, which a crew of another call must not read."""
    if viewer.crew is not None and not viewer.crew.covers_new(
        incident_id=incident_id, unit_id=unit_id
    ):
        raise Forbidden("a crew writes handoffs only for its own unit's current call")


@router.post("", response_model=HandoffRead, status_code=201)
async def create_handoff(
    body: HandoffCreate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_WRITE)],
) -> HandoffRead:
    """A draft sealed for its destination hospital; `POST /{id}/send` delivers it."""
    refuse_future_times(runtime, content=body.content)
    viewer = await viewer_for(session=uow.session, principal=principal)
    _crew_writes_for_its_call(viewer, incident_id=body.incident_id, unit_id=body.unit_id)
    return await drafting.create_and_read(
        uow=uow, keyring=runtime.keyring, data=body, viewer=viewer, now=runtime.clock()
    )


@router.post("/draft", response_model=HandoffRead, status_code=201)
async def draft_handoff(
    body: DraftRequest,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_WRITE)],
) -> HandoffRead:
    """The bridge: incident, patient, unit and destination ids in; a pre-filled draft out."""
    viewer = await viewer_for(session=uow.session, principal=principal)
    _crew_writes_for_its_call(viewer, incident_id=body.incident_id, unit_id=body.unit_id)
    handoff = await drafting.draft_from_inputs(
        uow=uow,
        keyring=runtime.keyring,
        request=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )
    return await reads.get_handoff(
        session=uow.session,
        keyring=runtime.keyring,
        handoff_id=handoff.id,
        viewer=viewer,
    )


@router.get("", response_model=Page[HandoffRead])
async def list_handoffs(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_READ)],
    hospital_id: HospitalIdQuery | None = None,
    status: Annotated[list[HandoffStatus] | None, Query()] = None,
    incident_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[HandoffRead]:
    """Routing metadata only; open one handoff with `GET /{id}`."""
    return await reads.list_handoffs(
        session=session,
        keyring=runtime.keyring,
        viewer=await viewer_for(session=session, principal=principal),
        hospital_id=hospital_id,
        statuses=status or (),
        incident_id=incident_id,
        limit=limit,
        offset=offset,
    )


@router.get("/feed", response_model=FeedPage)
async def read_feed(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_RECEIVE)],
    hospital_id: HospitalIdQuery,
    after_seq: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
    client_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._-]{1,64}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> FeedPage:
    """Catch-up for a reconnecting hospital client: every entry after `after_seq` (or after
    `client_id`'s acknowledged cursor), in order, with the same `seq` as the live channel."""
    return await feed.read_feed(
        session=session,
        keyring=runtime.keyring,
        hospital_id=hospital_id,
        after_seq=after_seq,
        client_id=client_id,
        limit=limit,
        viewer=await viewer_for(session=session, principal=principal),
    )


@router.post("/feed/ack")
async def ack_feed(
    body: FeedAck,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_RECEIVE)],
) -> dict[str, Any]:
    """A client has processed everything up to `seq`; sent handoffs it covers are delivered."""
    acked = await feed.ack_feed(
        uow=uow,
        keyring=runtime.keyring,
        hospital_id=body.hospital_id,
        client_id=body.client_id,
        seq=body.seq,
        viewer=await viewer_for(session=uow.session, principal=principal),
        now=runtime.clock(),
    )
    return {"hospital_id": body.hospital_id, "client_id": body.client_id, "acked_seq": acked}


@router.get("/hospital-keys/{hospital_id}", response_model=list[HospitalKeyRead])
async def list_hospital_keys(
    hospital_id: HospitalIdPath,
    session: ReadSessionDep,
    _: Annotated[Principal, requires(Perm.HANDOFFS_READ)],
) -> list[HospitalKeyRead]:
    """Public keys only, newest first; the private keys never leave the hub."""
    rows = await keys.hospital_keys(session=session, hospital_id=hospital_id)
    active = rows[0].version if rows else 0
    return [_key_read(k, active) for k in rows]


@router.post("/hospital-keys/{hospital_id}", response_model=HospitalKeyRead, status_code=201)
async def rotate_hospital_key(
    hospital_id: HospitalIdPath,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: Annotated[Principal, requires(Perm.HOSPITALS_WRITE)],
) -> HospitalKeyRead:
    """Create the hospital's key pair, or rotate it: the new pair seals new handoffs; older
    handoffs keep opening with the pair they were sealed for."""
    if principal.role is not Role.ADMIN and principal.hospital_id != hospital_id:
        raise Forbidden("only an admin or this hospital's coordinator may manage its keys")
    key = await keys.rotate_hospital_key(
        session=session,
        keyring=runtime.keyring,
        hospital_id=hospital_id,
        actor=principal.audit_name,
        now=runtime.clock(),
    )
    return _key_read(key, key.version)


@router.get("/{handoff_id}", response_model=HandoffRead)
async def get_handoff(
    handoff_id: str,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_READ)],
) -> HandoffRead:
    """Opened for the receiving hospital's staff (and the crew while a draft); metadata else."""
    return await reads.get_handoff(
        session=session,
        keyring=runtime.keyring,
        handoff_id=handoff_id,
        viewer=await viewer_for(session=session, principal=principal),
    )


@router.patch("/{handoff_id}", response_model=HandoffRead)
async def edit_draft(
    handoff_id: str,
    body: HandoffDraftEdit,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_WRITE)],
) -> HandoffRead:
    """Edit a draft. Once sent, a handoff is never overwritten: append updates instead."""
    refuse_future_times(runtime, content=body.content)
    return await drafting.edit_draft(
        uow=uow,
        keyring=runtime.keyring,
        handoff_id=handoff_id,
        edit=body,
        viewer=await viewer_for(session=uow.session, principal=principal),
        now=runtime.clock(),
    )


@router.post("/{handoff_id}/send", response_model=HandoffRead)
async def send_handoff(
    handoff_id: str,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_WRITE)],
) -> HandoffRead:
    """The one action that sends a draft; 422 lists every ATMIST rule it still breaks."""
    return await transitions.change_status(
        uow=uow,
        keyring=runtime.keyring,
        handoff_id=handoff_id,
        target=HandoffStatus.SENT,
        side=Side.CREW,
        viewer=await viewer_for(session=uow.session, principal=principal),
        now=runtime.clock(),
    )


@router.post("/{handoff_id}/status", response_model=HandoffRead)
async def crew_status(
    handoff_id: str,
    body: StatusChange,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_WRITE)],
) -> HandoffRead:
    """The crew's moves (sent, arrived, handed_over, cancelled); others are a 409 or 403."""
    return await transitions.change_status(
        uow=uow,
        keyring=runtime.keyring,
        handoff_id=handoff_id,
        target=body.status,
        side=Side.CREW,
        viewer=await viewer_for(session=uow.session, principal=principal),
        now=runtime.clock(),
        reason=body.reason,
    )


@router.post("/{handoff_id}/receipt", response_model=HandoffRead)
async def hospital_status(
    handoff_id: str,
    body: StatusChange,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_RECEIVE)],
) -> HandoffRead:
    """The receiving hospital's moves (delivered, acknowledged, arrived, handed_over)."""
    return await transitions.change_status(
        uow=uow,
        keyring=runtime.keyring,
        handoff_id=handoff_id,
        target=body.status,
        side=Side.HOSPITAL,
        viewer=await viewer_for(session=uow.session, principal=principal),
        now=runtime.clock(),
        reason=body.reason,
    )


@router.post("/{handoff_id}/redirect", response_model=HandoffRead)
async def redirect_handoff(
    handoff_id: str,
    body: Redirect,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_WRITE)],
) -> HandoffRead:
    """Send the handoff to another hospital: re-sealed for it; the first loses access."""
    return await transitions.redirect(
        uow=uow,
        keyring=runtime.keyring,
        handoff_id=handoff_id,
        hospital_id=body.hospital_id,
        eta=body.eta,
        viewer=await viewer_for(session=uow.session, principal=principal),
        now=runtime.clock(),
        reason=body.reason,
    )


@router.post("/{handoff_id}/updates", response_model=UpdateRead, status_code=201)
async def append_update(
    handoff_id: str,
    body: UpdateCreate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_WRITE)],
) -> UpdateRead:
    """New vitals, ETA, findings, treatment or a note while en route: appended, delivered."""
    refuse_future_times(runtime, update=body)
    return await updates.append_update(
        uow=uow,
        keyring=runtime.keyring,
        handoff_id=handoff_id,
        body=body,
        viewer=await viewer_for(session=uow.session, principal=principal),
        now=runtime.clock(),
    )


@router.get("/{handoff_id}/updates", response_model=list[UpdateRead])
async def list_updates(
    handoff_id: str,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_READ)],
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
) -> list[UpdateRead]:
    return await reads.list_updates(
        session=session,
        keyring=runtime.keyring,
        handoff_id=handoff_id,
        viewer=await viewer_for(session=session, principal=principal),
        after=after,
    )


@router.post("/{handoff_id}/attachments", response_model=AttachmentRead, status_code=201)
# The file may be up to its setting; the multipart envelope around it adds a little.
@body_limit(lambda settings: settings.handoffs.attachment_max_bytes + 64 * 1024)
async def add_attachment(
    handoff_id: str,
    kind: Annotated[AttachmentKind, Form()],
    file: Annotated[UploadFile, File()],
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_WRITE)],
) -> AttachmentRead:
    """An ECG or a photo, checked by its bytes and size, stored sealed for the hospital."""
    limit = runtime.settings.handoffs.attachment_max_bytes
    content = await file.read(limit + 1)
    return await updates.add_attachment(
        uow=uow,
        keyring=runtime.keyring,
        handoff_id=handoff_id,
        kind=kind,
        content=content,
        declared_type=file.content_type,
        filename=file.filename,
        max_bytes=limit,
        viewer=await viewer_for(session=uow.session, principal=principal),
        now=runtime.clock(),
    )


@router.get("/{handoff_id}/attachments/{attachment_id}", response_class=Response)
async def get_attachment(
    handoff_id: str,
    attachment_id: str,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_READ)],
) -> Response:
    media_type, content = await reads.get_attachment(
        session=session,
        keyring=runtime.keyring,
        handoff_id=handoff_id,
        attachment_id=attachment_id,
        viewer=await viewer_for(session=session, principal=principal),
    )
    return Response(
        content,
        media_type=media_type,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/{handoff_id}/fhir")
async def fhir_bundle(
    handoff_id: str,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    principal: Annotated[Principal, requires(Perm.HANDOFFS_RECEIVE)],
) -> JSONResponse:
    """The handoff as a FHIR R4 Bundle (collection) for the receiving hospital's systems."""
    bundle = await export.fhir_bundle(
        session=session,
        keyring=runtime.keyring,
        handoff_id=handoff_id,
        viewer=await viewer_for(session=session, principal=principal),
    )
    return JSONResponse(bundle, media_type=FHIR_JSON, headers={"Cache-Control": "no-store"})
