"""The composition root: the only module that imports every domain. It builds the runtime,
mounts the routers, wires event handlers and WebSocket channels, and starts background work."""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.websockets import WebSocket

from emsync.auth import api as auth_api
from emsync.auth.audit import AuditLog, AuditRecord
from emsync.auth.checkpoints import AuditCheckpointer, audit_key, checkpoint_file
from emsync.auth.deps import (
    LoginLimits,
    principal_from_credentials,
    principal_from_headers,
    public,
)
from emsync.auth.events import AccountChanged
from emsync.auth.freshness import ACCOUNTS_CHANNEL, AccountStates
from emsync.auth.handlers import apply_account_change, broadcast_account_change
from emsync.auth.passwords import Passwords
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.auth.ratelimit import SlidingWindowLimiter
from emsync.auth.service import HospitalLookup
from emsync.basemap import BasemapService
from emsync.basemap import api as basemap_api
from emsync.core.background import BackgroundService, ProcessRole
from emsync.core.clock import Clock, utcnow
from emsync.core.crypto import Keyring
from emsync.core.db import WalCheckpointer, create_engine, session_factory, sqlite_file
from emsync.core.docs import install_docs
from emsync.core.events import DeadLetter, Event, EventBus
from emsync.core.fanout import RedisFanout
from emsync.core.gate import RequestGate, flat_routes
from emsync.core.http import (
    PROBLEM_RESPONSES,
    RequestContextMiddleware,
    StateChange,
    document_problems,
    install_error_handlers,
    respond_problem,
)
from emsync.core.logging import configure_logging
from emsync.core.metrics import Metrics
from emsync.core.ops import ops_router
from emsync.core.realtime import Hub, realtime_router
from emsync.core.runtime import Runtime
from emsync.core.settings import Settings, with_development_secrets
from emsync.core.uow import UnitOfWork
from emsync.dispatch import CrewCheck, record_device_position
from emsync.dispatch import api as dispatch_api
from emsync.dispatch.events import (
    DestinationChosen,
    DispatchRecommended,
    UnitAssigned,
    UnitCreated,
    UnitPositionChanged,
    UnitStatusChanged,
    UnitUpdated,
)
from emsync.dispatch.handlers import recommend_when_unassigned
from emsync.dispatch.roadmap import RoadMapService
from emsync.emergency import api as emergency_api
from emsync.emergency import crew_problems
from emsync.emergency.events import ALL_EVENTS as EMERGENCY_EVENTS
from emsync.emergency.handlers import index_incident, index_unit
from emsync.geocoding import GeocoderService
from emsync.geocoding import api as geocoding_api
from emsync.handoffs import api as handoffs_api
from emsync.handoffs.events import ALL_EVENTS as HANDOFF_EVENTS
from emsync.handoffs.events import (
    HandoffAcknowledged,
    HandoffAcknowledgementOverdue,
    HandoffDrafted,
    HandoffRedirected,
    HandoffSent,
    HandoffStatusChanged,
)
from emsync.handoffs.handlers import (
    draft_on_destination,
    push_handoff_events,
    refresh_draft_on_triage,
)
from emsync.handoffs.watch import AcknowledgementWatch, VitalsFollow
from emsync.hospitals import api as hospitals_api
from emsync.hospitals import hospital_exists
from emsync.hospitals import service as hospitals_service
from emsync.hospitals.events import HospitalCreated, HospitalDiversionChanged, HospitalUpdated
from emsync.incidents import api as incidents_api
from emsync.incidents.events import (
    IncidentCreated,
    IncidentStatusChanged,
    IncidentUpdated,
    PatientAdded,
)
from emsync.incidents.handlers import destination_of_handoff, destination_of_unit
from emsync.notifications import api as notifications_api
from emsync.notifications import handlers as notification_handlers
from emsync.notifications import wiring as notifications_wiring
from emsync.notifications.events import PageAcknowledged, PageEscalated
from emsync.telemetry import api as telemetry_api
from emsync.telemetry import handlers as telemetry_handlers
from emsync.telemetry import wiring as telemetry_wiring
from emsync.telemetry.events import AlertChanged, PositionReceived
from emsync.triage import api as triage_api
from emsync.triage.events import PatientTriaged
from emsync.web import SpaStaticFiles

ALL_ROLES = frozenset(ProcessRole)
WEB_DIST = Path(__file__).parent / "web" / "dist"


def build_runtime(settings: Settings, *, clock: Clock = utcnow) -> Runtime:
    settings = with_development_secrets(settings)
    metrics = Metrics()
    engine = create_engine(settings)

    async def count_dead_letter(letter: DeadLetter) -> None:
        metrics.event_dead_letters.labels(event=letter.event.name).inc()

    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        bus=EventBus(
            metrics=metrics,
            attempts=settings.events.handler_attempts,
            backoff_seconds=settings.events.handler_backoff_seconds,
            dead_letter=count_dead_letter,
        ),
        keyring=Keyring.from_settings(settings),
        metrics=metrics,
        clock=clock,
    )
    key = audit_key(settings, runtime.keyring)
    runtime.provide(key)
    runtime.provide(AuditLog(runtime.sessions, clock, key=key))
    runtime.provide(
        AuditCheckpointer(
            runtime.sessions,
            key,
            checkpoint_file(settings),
            clock,
            interval=settings.security.audit_checkpoint_seconds,
        )
    )
    auth = settings.auth
    runtime.provide(
        Passwords(time_cost=auth.password_time_cost, memory_cost_kib=auth.password_memory_kib)
    )
    runtime.provide(
        LoginLimits(
            per_account=SlidingWindowLimiter(
                limit=auth.login_attempts_per_account,
                window_seconds=auth.login_window_seconds,
                max_keys=auth.login_limiter_max_keys,
            ),
            per_ip=SlidingWindowLimiter(
                limit=auth.login_attempts_per_ip,
                window_seconds=auth.login_window_seconds,
                max_keys=auth.login_limiter_max_keys,
            ),
        )
    )
    states = AccountStates(runtime.read_sessions, ttl_seconds=auth.principal_cache_seconds)
    runtime.provide(states)
    runtime.provide(
        HospitalLookup(lambda session, hid: hospital_exists(session=session, hospital_id=hid))
    )

    async def authenticate(token: str) -> Principal:
        if token.startswith("emk_"):
            return await principal_from_credentials(runtime, bearer=None, api_key=token)
        return await principal_from_credentials(runtime, bearer=token, api_key=None)

    hub = Hub(authenticate, recheck=states.stale_reason)
    hub.register_control(ACCOUNTS_CHANNEL, apply_account_change(states, hub))
    runtime.bus.subscribe(AccountChanged, broadcast_account_change(hub))
    runtime.provide(hub)
    runtime.provide(RoadMapService.from_settings(settings))
    runtime.provide(GeocoderService.from_settings(settings))
    runtime.provide(BasemapService.from_settings(settings))
    return runtime


def _permission_check(perm: Perm) -> Any:
    async def check(principal: Principal, _arg: str | None) -> bool:
        return principal.can(perm)

    return check


def _wire_realtime(runtime: Runtime) -> None:
    hub = runtime.get(Hub)
    hub.register_channel("incidents", _permission_check(Perm.INCIDENTS_READ))

    async def push_incident(event: Event) -> None:
        hub.publish("incidents", event.name, event.to_dict())

    for kind in (IncidentCreated, IncidentUpdated, IncidentStatusChanged, PatientAdded):
        runtime.bus.subscribe(kind, push_incident)
    # Where each incident's patients are going: hospital staff's need-to-know scope.
    runtime.bus.subscribe(DestinationChosen, destination_of_unit(runtime))
    for handoff_event in (HandoffDrafted, HandoffSent, HandoffRedirected, HandoffStatusChanged):
        runtime.bus.subscribe(handoff_event, destination_of_handoff(runtime))


def _wire_dispatch_and_hospitals(runtime: Runtime) -> None:
    hub = runtime.get(Hub)
    hub.register_channel("units", _permission_check(Perm.UNITS_READ))
    hub.register_channel("dispatch", _permission_check(Perm.DISPATCH_ASSIGN))
    hub.register_channel("hospitals", _permission_check(Perm.HOSPITALS_READ))

    def push(channel: str) -> Any:
        async def forward(event: Event) -> None:
            hub.publish(channel, event.name, event.to_dict())

        return forward

    unit_events = (UnitCreated, UnitUpdated, UnitStatusChanged, UnitPositionChanged, UnitAssigned)
    for kind in unit_events:
        runtime.bus.subscribe(kind, push("units"))
    runtime.bus.subscribe(DispatchRecommended, push("dispatch"))
    for hospital_event in (HospitalCreated, HospitalUpdated, HospitalDiversionChanged):
        runtime.bus.subscribe(hospital_event, push("hospitals"))

    recommend = recommend_when_unassigned(runtime, trigger="incident.created")

    async def on_incident_created(event: IncidentCreated) -> None:
        await recommend(event.incident_id)

    runtime.bus.subscribe(IncidentCreated, on_incident_created)
    recommend_triaged = recommend_when_unassigned(runtime, trigger="triage.patient_triaged")

    async def on_patient_triaged(event: PatientTriaged) -> None:
        await recommend_triaged(event.incident_id)

    runtime.bus.subscribe(PatientTriaged, on_patient_triaged)

    async def move_unit_with_its_device(event: PositionReceived) -> None:
        # A GPS fix from an ambulance's tracker moves the unit that carries the device.
        async with runtime.sessions() as session:
            await record_device_position(
                uow=UnitOfWork(session, runtime.bus),
                device_id=event.device_id,
                lat=event.lat,
                lon=event.lon,
                at=event.at,
                speed_mps=event.speed_mps,
                heading=event.heading,
            )

    runtime.bus.subscribe(PositionReceived, move_unit_with_its_device)

    async def import_map_hospitals(road_map: Any) -> None:
        async with runtime.sessions() as session:
            await hospitals_service.import_map_hospitals(
                uow=UnitOfWork(session, runtime.bus),
                hospitals=road_map.hospitals,
                actor="system:map-import",
                now=runtime.clock(),
            )

    runtime.get(RoadMapService).on_loaded(import_map_hospitals)


def _wire_handoffs(runtime: Runtime) -> None:
    hub = runtime.get(Hub)

    async def may_subscribe(principal: Principal, hospital_id: str | None) -> bool:
        # "handoffs": the crew and dispatch board; "handoffs:<id>": that hospital's staff only.
        if hospital_id is None:
            return principal.can(Perm.HANDOFFS_WRITE)
        return principal.can(Perm.HANDOFFS_RECEIVE) and principal.hospital_id == hospital_id

    hub.register_channel("handoffs", may_subscribe)
    push_handoff = push_handoff_events(runtime)
    for kind in HANDOFF_EVENTS:
        runtime.bus.subscribe(kind, push_handoff)
    runtime.bus.subscribe(PatientTriaged, refresh_draft_on_triage(runtime))
    runtime.bus.subscribe(DestinationChosen, draft_on_destination(runtime))
    runtime.provide(AcknowledgementWatch(runtime))
    runtime.provide(VitalsFollow(runtime))


def _wire_emergency(runtime: Runtime) -> None:
    # Dispatch asks the roster whether a unit has a qualified crew on shift.
    runtime.provide(CrewCheck(crew_problems))
    hub = runtime.get(Hub)
    hub.register_channel("emergency", _permission_check(Perm.EMERGENCY_READ))

    async def push(event: Event) -> None:
        hub.publish("emergency", event.name, event.to_dict())

    for kind in EMERGENCY_EVENTS:
        runtime.bus.subscribe(kind, push)
    # Incidents and ambulances enter the one search index.
    incident_entry = index_incident(runtime)
    runtime.bus.subscribe(IncidentCreated, incident_entry)
    runtime.bus.subscribe(IncidentUpdated, incident_entry)
    runtime.bus.subscribe(IncidentStatusChanged, incident_entry)
    unit_entry = index_unit(runtime)
    runtime.bus.subscribe(UnitCreated, unit_entry)
    runtime.bus.subscribe(UnitUpdated, unit_entry)
    runtime.bus.subscribe(UnitStatusChanged, unit_entry)


def _wire_telemetry(runtime: Runtime) -> None:
    telemetry_wiring.provide(runtime)
    telemetry_wiring.wire_realtime(runtime, runtime.get(Hub))
    audit = runtime.get(AuditLog)

    async def audit_alert(event: AlertChanged) -> None:
        # Raised, escalated and auto-resolved alerts have no HTTP request to be audited by.
        await audit.append(
            AuditRecord(
                actor=event.actor,
                action=f"{event.name}:{event.change}",
                target=json.dumps({"alert_id": event.alert_id}),
                request_id="-",
                outcome="success",
            )
        )

    runtime.bus.subscribe(AlertChanged, audit_alert)


def _wire_notifications(runtime: Runtime) -> None:
    """Pages open in the transaction of the alert or overdue handoff that causes them; an
    acknowledgement from any channel, and each escalation step, show on the alert."""
    notifications_wiring.provide(runtime)
    notifications_wiring.wire_realtime(runtime, runtime.get(Hub))
    bus, keyring = runtime.bus, runtime.keyring
    bus.subscribe_in_transaction(AlertChanged, notification_handlers.page_on_alert(keyring))
    bus.subscribe_in_transaction(
        HandoffAcknowledgementOverdue,
        notification_handlers.page_on_overdue_handoff(keyring, lambda: runtime.clock()),
    )
    stop = notification_handlers.stop_on_handoff_acknowledged(lambda: runtime.clock())
    bus.subscribe_in_transaction(HandoffAcknowledged, stop)
    bus.subscribe_in_transaction(HandoffRedirected, stop)
    bus.subscribe(PageAcknowledged, telemetry_handlers.acknowledge_alert_from_page(runtime))
    bus.subscribe(PageEscalated, telemetry_handlers.show_escalation_on_alert(runtime))


def _fanout(runtime: Runtime) -> list[tuple[ProcessRole, BackgroundService]]:
    """Scale profile: every role shares its WebSocket messages through Redis."""
    if runtime.settings.redis_url is None:
        return []
    fanout = RedisFanout(
        hub=runtime.get(Hub),
        url=runtime.settings.redis_url,
        keyring=runtime.keyring,
        registry=runtime.metrics.registry,
    )
    runtime.provide(fanout)
    return [(role, fanout) for role in ProcessRole]


def _background_services(runtime: Runtime) -> list[tuple[ProcessRole, BackgroundService]]:
    return [
        *_wal_checkpoint(runtime),
        *_fanout(runtime),
        *telemetry_wiring.background_services(runtime),
        *notifications_wiring.background_services(runtime),
        (ProcessRole.API, runtime.get(RoadMapService)),
        (ProcessRole.API, runtime.get(GeocoderService)),
        (ProcessRole.WORKER, runtime.get(AcknowledgementWatch)),
        (ProcessRole.WORKER, runtime.get(VitalsFollow)),
        (ProcessRole.WORKER, runtime.get(AuditCheckpointer)),
    ]


def _wal_checkpoint(runtime: Runtime) -> list[tuple[ProcessRole, BackgroundService]]:
    # Every role writes, so whichever roles this process runs, one checkpointer runs in it.
    path = sqlite_file(runtime.settings.database_url)
    if path is None:
        return []
    checkpointer = WalCheckpointer(path)
    return [(role, checkpointer) for role in ProcessRole]


def settle_heap() -> None:
    """Take what start-up allocated out of the cyclic garbage collector's walks (`gc.freeze`).

    Imported modules, the app, its routes and settings live as long as the process, yet every
    full (generation 2) collection walked them all with the event loop stopped: measured with
    `gc.callbacks` in `emsync serve` under bench/ingest.py, 235-273 ms at machine load ~2 and
    460-720 ms at load 3-5. Frozen objects are never collected, which they would not be anyway;
    `gc.collect()` first, so garbage already there is freed rather than frozen.
    """
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings | None = None,
    *,
    roles: Sequence[ProcessRole] = tuple(ProcessRole),
    clock: Clock = utcnow,
) -> FastAPI:
    settings = settings or Settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    runtime = build_runtime(settings, clock=clock)
    _wire_realtime(runtime)
    _wire_dispatch_and_hospitals(runtime)
    _wire_handoffs(runtime)
    _wire_telemetry(runtime)
    _wire_notifications(runtime)
    _wire_emergency(runtime)
    # dict.fromkeys: a service of several roles starts once in a process running them all.
    services = list(
        dict.fromkeys(svc for role, svc in _background_services(runtime) if role in roles)
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        started: list[BackgroundService] = []
        try:
            for svc in services:
                await svc.start()
                started.append(svc)
            yield
        finally:
            for svc in reversed(started):
                await svc.stop()
            await runtime.engine.dispose()

    app = FastAPI(
        title="EMsync",
        version="0.1.0",
        description="Emergency medical coordination hub: from the emergency call to the "
        "hospital bed. Log in with **Authorize** (OAuth2 password flow).",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    document_problems(app)
    audit = runtime.get(AuditLog)

    async def audit_sink(change: StateChange) -> None:
        await audit.append(
            AuditRecord(
                actor=change.actor,
                action=change.action,
                target=change.target,
                request_id=change.request_id,
                outcome=change.outcome,
            )
        )

    async def authenticate_request(scope: Any) -> Principal:
        return await principal_from_headers(runtime, scope.get("headers", ()))

    # Inside the request context (so its refusals are logged and carry the security headers).
    app.add_middleware(
        RequestGate,
        routes=lambda: flat_routes(app.routes),
        default_limit=settings.http.max_body_bytes,
        authenticate=authenticate_request,
        respond=respond_problem,
        settings=settings,
    )
    app.add_middleware(RequestContextMiddleware, metrics=runtime.metrics, audit=audit_sink)
    if settings.cors_origins:
        # Bearer tokens, not cookies: no credentials mode; only the listed origins.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-API-Key"],
            max_age=600,
        )
    app.include_router(ops_router(public))
    install_docs(app, public)
    if ProcessRole.API in roles:
        app.include_router(auth_api.router, responses=PROBLEM_RESPONSES)
        app.include_router(incidents_api.router, responses=PROBLEM_RESPONSES)
        app.include_router(dispatch_api.router, responses=PROBLEM_RESPONSES)
        app.include_router(dispatch_api.map_router, responses=PROBLEM_RESPONSES)
        app.include_router(geocoding_api.router, responses=PROBLEM_RESPONSES)
        app.include_router(basemap_api.router, responses=PROBLEM_RESPONSES)
        app.include_router(hospitals_api.router, responses=PROBLEM_RESPONSES)
        app.include_router(hospitals_api.map_router, responses=PROBLEM_RESPONSES)
        app.include_router(handoffs_api.router, responses=PROBLEM_RESPONSES)
        app.include_router(telemetry_api.router, responses=PROBLEM_RESPONSES)
        app.include_router(triage_api.router, responses=PROBLEM_RESPONSES)
        app.include_router(notifications_api.router, responses=PROBLEM_RESPONSES)
        for emergency_router in emergency_api.routers:
            app.include_router(emergency_router, responses=PROBLEM_RESPONSES)
        app.include_router(realtime_router(_hub_of))
        if WEB_DIST.is_dir():
            app.mount("/", SpaStaticFiles(directory=WEB_DIST, html=True), name="web")
    return app


def _hub_of(ws: WebSocket) -> Hub:
    runtime: Runtime = ws.app.state.runtime
    return runtime.get(Hub)
