"""Intake routes (thin: validation at the edge, use cases in the service, runs in the engine).
Every route names its permission."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.auth.public import actor_names
from emsync.core.errors import Conflict
from emsync.core.ids import new_id
from emsync.core.runtime import ReadSessionDep, Runtime, RuntimeDep, SessionDep, UowDep
from emsync.intake import followups, service, workers
from emsync.intake.agents import AGENTS, AgentDeps, emergency_check
from emsync.intake.agents.admission import person_index
from emsync.intake.breakers import circuit_of
from emsync.intake.engine import IntakeEngine
from emsync.intake.records.api import IdempotencyKey
from emsync.intake.records.schemas import BookingRead
from emsync.intake.schemas import (
    AgentHealth,
    AgentLogRead,
    AppointmentSchedule,
    Completion,
    DecisionRead,
    DeviceReport,
    DeviceReportRead,
    DeviceScan,
    DeviceVitals,
    EmergencyCheck,
    EmergencyTriage,
    Override,
    SessionRead,
    SessionStart,
    SessionSummary,
    WorkerHealth,
)
from emsync.intake.workflows import EMERGENCY_FIRST, unknown_workflow
from emsync.telemetry.public import (
    DeviceCreate,
    DeviceProvisioned,
    device_state,
    register_telemetry_device,
)

router = APIRouter(prefix="/api/intake", tags=["intake"])
SessionId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
AgentName = Annotated[str, Path(pattern=r"^[a-z_]{1,30}$")]


def clinical_table(runtime: Runtime) -> dict[str, bool]:
    engine = runtime.find(IntakeEngine)
    if engine is not None:
        return engine.clinical()
    return {name: agent.clinical for name, agent in AGENTS.items()}


def _running(runtime: Runtime) -> IntakeEngine | None:
    """The engine, when this process runs it; otherwise a worker's poll starts the session's
    run (the session is committed either way)."""
    engine = runtime.find(IntakeEngine)
    return engine if engine is not None and engine.running else None


async def start(
    runtime: Runtime, session: SessionDep, body: SessionStart, principal: Principal
) -> SessionRead:
    engine = _running(runtime)
    started = await service.start_claimed(
        session=session,
        keyring=runtime.keyring,
        workflow=body.workflow,
        payload=body.payload(),
        clinical=clinical_table(runtime),
        actor=principal.audit_name,
        hospital_id=body.hospital_id or principal.hospital_id,
        now=runtime.clock(),
        claim=engine is not None,
    )
    if engine is not None:
        await engine.begin(started.row.id, started.first, started.opened)
    return await read_named(runtime, session, started.row.id)


async def read_named(runtime: Runtime, session: AsyncSession, session_id: str) -> SessionRead:
    """The session, with the name of the person behind each override (not `user:<id>`)."""
    read = await service.read_session(
        session=session, keyring=runtime.keyring, session_id=session_id
    )
    names = await actor_names(session=session, actors={o.actor for o in read.overrides})
    for override in read.overrides:
        override.actor_name = names.get(override.actor)
    return read


@router.post("/workflow", response_model=SessionRead, status_code=201)
async def start_workflow(
    body: SessionStart,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: Annotated[Principal, requires(Perm.INTAKE_WRITE)],
) -> SessionRead:
    """A session of any of the four workflows (emergency, regular, device_scan,
    emergency_device)."""
    return await start(runtime, session, body, principal)


@router.post("/emergency/triage", response_model=SessionRead, status_code=201)
async def emergency_triage(
    body: EmergencyTriage,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: Annotated[Principal, requires(Perm.INTAKE_WRITE)],
) -> SessionRead:
    """An emergency arrival: an `emergency` session (`emergency_device` with a device)."""
    if body.workflow not in EMERGENCY_FIRST:
        raise unknown_workflow(body.workflow)
    return await start(runtime, session, body, principal)


@router.get("/sessions", response_model=list[SessionSummary])
async def list_sessions(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    principal: Annotated[Principal, requires(Perm.INTAKE_READ)],
    hospital_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:-]{1,64}$")] = None,
    active: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SessionSummary]:
    """The ED intake board: sessions, newest first, with each step's status."""
    return await service.list_sessions(
        session=session,
        keyring=runtime.keyring,
        hospital_id=hospital_id or principal.hospital_id,
        active_only=active,
        limit=limit,
    )


@router.get("/workflow/{session_id}", response_model=SessionRead)
async def get_workflow(
    session_id: SessionId,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: Annotated[Principal, requires(Perm.INTAKE_READ)],
) -> SessionRead:
    """One session: input, each step's status, output and decisions, and the overrides."""
    return await read_named(runtime, session, session_id)


@router.post("/emergency/override/{session_id}", response_model=SessionRead)
async def override_session(
    session_id: SessionId,
    body: Override,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: Annotated[Principal, requires(Perm.INTAKE_OVERRIDE)],
) -> SessionRead:
    """Skip, force or re-order steps of a session, with the mandatory reason (recorded)."""
    forced = await service.override(
        session=session,
        keyring=runtime.keyring,
        session_id=session_id,
        request=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )
    engine = runtime.find(IntakeEngine)
    if engine is not None:
        if forced is not None and engine.running:
            await engine.run_beside(session_id, *forced)
        await engine.push(session_id)
    return await read_named(runtime, session, session_id)


@router.post("/workflow/{session_id}/complete", response_model=SessionRead)
async def complete_workflow(
    session_id: SessionId,
    body: Completion,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: Annotated[Principal, requires(Perm.INTAKE_WRITE)],
) -> SessionRead:
    """Close a session whose clinical steps are finished; the rest is skipped, with the reason."""
    await service.complete(
        session=session,
        keyring=runtime.keyring,
        session_id=session_id,
        reason=body.reason,
        actor=principal.audit_name,
        now=runtime.clock(),
    )
    engine = runtime.find(IntakeEngine)
    if engine is not None:
        await engine.push(session_id)
    return await read_named(runtime, session, session_id)


@router.get("/workflow/{session_id}/logs", response_model=list[AgentLogRead])
async def session_logs(
    session_id: SessionId,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: Annotated[Principal, requires(Perm.INTAKE_READ)],
) -> list[AgentLogRead]:
    """Every attempt of every step of one session, with its (unsealed) inputs."""
    return await service.agent_logs(session=session, keyring=runtime.keyring, session_id=session_id)


@router.get("/agents/{agent}/logs", response_model=list[AgentLogRead])
async def agent_logs(
    agent: AgentName,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: Annotated[Principal, requires(Perm.INTAKE_READ)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AgentLogRead]:
    """One agent's latest attempts across sessions (outcome, rules, timing; no inputs)."""
    return await service.agent_logs(
        session=session, keyring=runtime.keyring, agent=agent, limit=limit
    )


@router.get("/health/agents", response_model=list[AgentHealth])
async def agents_health(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: Annotated[Principal, requires(Perm.INTAKE_READ)],
) -> list[AgentHealth]:
    """Each agent: its circuit in this process, attempts and failures so far."""
    engine = runtime.find(IntakeEngine)
    counts = await service.agent_counts(session=session)
    health = []
    agents = engine.agents if engine is not None else AGENTS
    for name, agent in sorted(agents.items()):
        breaker = engine.breakers.get(name) if engine is not None else None
        runs, failures, last_error = counts.get(name, (0, 0, None))
        health.append(
            AgentHealth(
                agent=name,
                clinical=agent.clinical,
                version=agent.version,
                circuit=circuit_of(breaker) if breaker is not None else "unknown",
                runs=runs,
                failures=failures,
                last_error=last_error,
            )
        )
    return health


@router.get("/health/workers", response_model=list[WorkerHealth])
async def workers_health(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: Annotated[Principal, requires(Perm.INTAKE_READ)],
) -> list[WorkerHealth]:
    """The worker processes that run sessions: heartbeat (and seconds since it), alive, runs in
    flight, whether a live one took over their runs (several workers on PostgreSQL)."""
    now, dead_after = runtime.clock(), runtime.settings.intake_engine.worker_dead_after_seconds
    return [
        WorkerHealth(
            executor_id=worker.executor_id,
            host=worker.host,
            pid=worker.pid,
            started_at=worker.started_at,
            heartbeat_at=worker.heartbeat_at,
            silent_seconds=workers.silent_for(worker, now=now),
            alive=workers.alive(worker, now=now, dead_after=dead_after),
            runs_in_flight=worker.runs_in_flight,
            taken_over_by=worker.taken_over_by,
            taken_over_at=worker.taken_over_at,
            runs_taken_over=worker.runs_taken_over,
        )
        for worker in await workers.seen(session)
    ]


DeviceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


async def usable_device(runtime: Runtime, device_id: str) -> None:
    """NotFound for an unknown device, Conflict for a revoked one (nothing starts)."""
    async with runtime.read_sessions() as session:
        state = await device_state(session=session, keyring=runtime.keyring, device_id=device_id)
    if state.revoked_at is not None:
        raise Conflict(f"device {device_id} is revoked; register it again to use it")


@router.post("/devices/scan", response_model=SessionRead, status_code=201)
async def scan_device(
    body: DeviceScan,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: Annotated[Principal, requires(Perm.INTAKE_WRITE)],
) -> SessionRead:
    """A `device_scan` session: the device's readings into the record, then the people told."""
    await usable_device(runtime, body.device_id)
    start_body = SessionStart(
        workflow="device_scan", hospital_id=body.hospital_id, device_id=body.device_id
    )
    return await start(runtime, session, start_body, principal)


@router.post("/devices/{device_id}/emergency-check", response_model=EmergencyCheck)
async def device_emergency_check(
    device_id: DeviceId,
    runtime: RuntimeDep,
    _: Annotated[Principal, requires(Perm.INTAKE_WRITE)],
) -> EmergencyCheck:
    """On demand: the device's battery and link, its patient's latest vitals, NEWS2 and risk."""
    await usable_device(runtime, device_id)
    output, decisions = await emergency_check(AgentDeps.from_runtime(runtime), device_id)
    return EmergencyCheck(
        output=output,
        decisions=[
            DecisionRead(rule=d.rule, version=d.version, inputs=dict(d.inputs), result=d.result)
            for d in decisions
        ],
    )


@router.post("/devices/register", response_model=DeviceProvisioned, status_code=201)
async def register_device(
    body: DeviceCreate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.DEVICES_WRITE)],
) -> DeviceProvisioned:
    """Register a patient's device at intake: the telemetry device and its first key (in clear
    in this response only); bind it to the patient with /api/telemetry/devices/{id}/bind."""
    return await register_telemetry_device(
        uow=uow, keyring=runtime.keyring, data=body, actor=principal.audit_name, now=runtime.clock()
    )


@router.get("/devices/{device_id}/vital-signs", response_model=DeviceVitals)
async def device_vital_signs(
    device_id: DeviceId,
    runtime: RuntimeDep,
    _: Annotated[Principal, requires(Perm.VITALS_READ)],
) -> DeviceVitals:
    """The bound patient's newest vital signs, NEWS2, and the device's link and battery."""
    await usable_device(runtime, device_id)
    output, _decisions = await emergency_check(AgentDeps.from_runtime(runtime), device_id)
    return DeviceVitals(
        device_id=device_id,
        bound=output["bound"],
        patient_id=output["patient_id"],
        latest=output["latest_vitals"],
        artefacts=output["artefacts"],
        latest_at=output["latest_at"],
        news2=output["news2"],
        connectivity=output["connectivity"],
        battery_pct=output["battery_pct"],
        battery=output["battery"],
    )


@router.post("/devices/{device_id}/reports", response_model=DeviceReportRead, status_code=201)
async def device_report(
    device_id: DeviceId,
    body: DeviceReport,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.INTAKE_WRITE)],
    idempotency_key: IdempotencyKey = None,
) -> DeviceReportRead:
    """File a device's report on the chart of the session's person (shown on the session)."""
    await usable_device(runtime, device_id)
    return await followups.file_report(
        uow=uow,
        keyring=runtime.keyring,
        index=person_index(AgentDeps.from_runtime(runtime)),
        device_id=device_id,
        body=body,
        key=idempotency_key or new_id(),
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.get("/workflow/{session_id}/device-reports", response_model=list[DeviceReportRead])
async def session_device_reports(
    session_id: SessionId,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: Annotated[Principal, requires(Perm.INTAKE_READ)],
) -> list[DeviceReportRead]:
    """The device reports on the chart of the session's person, newest first."""
    return await followups.session_reports(
        session=session,
        keyring=runtime.keyring,
        index=person_index(AgentDeps.from_runtime(runtime)),
        session_id=session_id,
    )


@router.post("/appointments/schedule", response_model=BookingRead, status_code=201)
async def schedule_appointment(
    body: AppointmentSchedule,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.INTAKE_WRITE)],
    idempotency_key: IdempotencyKey = None,
) -> BookingRead:
    """A follow-up for the session's person in the earliest free slot of the specialty; 409
    `slot-taken` when there is none; the same Idempotency-Key again returns the first."""
    return await followups.schedule(
        uow=uow,
        keyring=runtime.keyring,
        body=body,
        key=f"appointment:{body.session_id}:{idempotency_key or new_id()}",
        actor=principal.audit_name,
        now=runtime.clock(),
    )
