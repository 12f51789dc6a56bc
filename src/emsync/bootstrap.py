"""The composition root: the only module that imports every domain. It builds the runtime,
mounts the routers, registers the table of reactions and the table of WebSocket channels (the
two tables below: every flow of the system in one place), and starts background work."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI
from starlette.websockets import WebSocket

from emsync.auth import api as auth_api
from emsync.auth import handlers as auth_handlers
from emsync.auth.audit import AuditLog, AuditRecord
from emsync.auth.checkpoints import AuditCheckpointer, audit_key, checkpoint_file
from emsync.auth.deps import LoginLimits, principal_from_credentials, public
from emsync.auth.events import AccountChanged
from emsync.auth.freshness import ACCOUNTS_CHANNEL, AccountStates
from emsync.auth.passwords import Passwords
from emsync.auth.permissions import Perm
from emsync.auth.principal import CanSubscribe, Principal
from emsync.auth.ratelimit import SlidingWindowLimiter
from emsync.auth.service import HospitalLookup, UnitLookup
from emsync.basemap import BasemapService
from emsync.basemap import api as basemap_api
from emsync.core.admission import Precedence
from emsync.core.background import BackgroundService, LoopLag, ProcessRole
from emsync.core.clock import Clock, utcnow
from emsync.core.crypto import Keyring
from emsync.core.db import (
    WalCheckpointer,
    create_engine,
    session_factory,
    sqlite_file,
    sqlite_writer,
)
from emsync.core.delivery import EventDurability
from emsync.core.docs import install_docs
from emsync.core.events import DeadLetter, EventBus
from emsync.core.fanout import RedisFanout
from emsync.core.framework import FASTAPI_OPTIONS, include_gated
from emsync.core.http import PROBLEM_RESPONSES, document_problems, install_error_handlers
from emsync.core.logging import configure_logging
from emsync.core.metrics import Metrics
from emsync.core.ops import ops_router
from emsync.core.reactions import (
    Channel,
    Delivery,
    Reaction,
    Stage,
    document_channels,
    on,
    register,
)
from emsync.core.realtime import Hub, realtime_router
from emsync.core.runtime import Runtime
from emsync.core.serving import settle_for_serving
from emsync.core.settings import Settings, with_development_secrets
from emsync.core.transport import EventTransport, InProcessTransport, Relay
from emsync.dispatch import CrewCheck, crew_api, unit_exists
from emsync.dispatch import api as dispatch_api
from emsync.dispatch import handlers as dispatch_handlers
from emsync.dispatch.events import (
    DestinationChosen,
    DispatchRecommended,
    UnitAssigned,
    UnitCreated,
    UnitPositionChanged,
    UnitStatusChanged,
    UnitUpdated,
)
from emsync.dispatch.schemas import CrewAssignment
from emsync.edge import install_middleware
from emsync.emergency import api as emergency_api
from emsync.emergency import crew_problems
from emsync.emergency import handlers as emergency_handlers
from emsync.emergency.events import ALL_EVENTS as EMERGENCY_EVENTS
from emsync.geocoding import GeocoderService
from emsync.geocoding import api as geocoding_api
from emsync.handoffs import api as handoffs_api
from emsync.handoffs import handlers as handoffs_handlers
from emsync.handoffs.events import ALL_EVENTS as HANDOFF_EVENTS
from emsync.handoffs.events import (
    HandoffAcknowledged,
    HandoffAcknowledgementOverdue,
    HandoffDrafted,
    HandoffRedirected,
    HandoffSent,
    HandoffStatusChanged,
)
from emsync.handoffs.handlers import HOSPITAL_CHANNEL as HANDOFFS_CHANNEL
from emsync.handoffs.schemas import FeedEntryRead, HandoffRead
from emsync.handoffs.watch import AcknowledgementWatch, VitalsFollow
from emsync.hospitals import api as hospitals_api
from emsync.hospitals import handlers as hospitals_handlers
from emsync.hospitals import hospital_exists
from emsync.hospitals.events import HospitalCreated, HospitalDiversionChanged, HospitalUpdated
from emsync.incidents import IncidentRead
from emsync.incidents import api as incidents_api
from emsync.incidents import handlers as incidents_handlers
from emsync.incidents.access import CHANNEL as INCIDENTS_CHANNEL
from emsync.incidents.access import may_follow_incidents
from emsync.incidents.events import (
    IncidentCreated,
    IncidentStatusChanged,
    IncidentUpdated,
    PatientAdded,
)
from emsync.intake import api as intake_api
from emsync.intake import handlers as intake_handlers
from emsync.intake import wiring as intake_wiring
from emsync.intake.engine import BOARD_CHANNEL as INTAKE_CHANNEL
from emsync.intake.records import api as intake_records_api
from emsync.maps import RoadMapService
from emsync.maps import api as maps_api
from emsync.maps.imports import ImportJob, MapImports
from emsync.notifications import api as notifications_api
from emsync.notifications import handlers as notifications_handlers
from emsync.notifications import wiring as notifications_wiring
from emsync.notifications.events import ALL_EVENTS as NOTIFICATION_EVENTS
from emsync.notifications.events import (
    PageAcknowledged,
    PageClosed,
    PageEscalated,
    PageOpened,
)
from emsync.notifications.wiring import PAGING_CHANNEL
from emsync.registry import api as registry_api
from emsync.registry import handlers as registry_handlers
from emsync.registry.events import ALL_EVENTS as REGISTRY_EVENTS
from emsync.registry.events import ChartViewed, HandoffLinkDue
from emsync.registry.index import PersonIndex
from emsync.telemetry import api as telemetry_api
from emsync.telemetry import handlers as telemetry_handlers
from emsync.telemetry import wiring as telemetry_wiring
from emsync.telemetry.events import (
    AlertChanged,
    DeviceChanged,
    PositionReceived,
    VitalsReceived,
)
from emsync.telemetry.handlers import ALERTS_CHANNEL
from emsync.telemetry.schemas import AlertRead, ArtefactsPush, RiskRead, VitalsPush
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
    runtime.provide(AuditLog(runtime.sessions, clock, key=key, writer=sqlite_writer(engine)))
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
    runtime.provide(UnitLookup(lambda session, uid: unit_exists(session=session, unit_id=uid)))

    async def authenticate(token: str) -> Principal:
        if token.startswith("emk_"):
            return await principal_from_credentials(runtime, bearer=None, api_key=token)
        return await principal_from_credentials(runtime, bearer=token, api_key=None)

    runtime.provide(Hub(authenticate, recheck=states.stale_reason))
    runtime.provide(Precedence())  # what API requests defer to (the telemetry ingest)
    runtime.provide(RoadMapService.from_settings(settings))
    runtime.provide(GeocoderService.from_settings(settings))
    runtime.provide(BasemapService.from_settings(settings))
    runtime.provide(_map_imports(runtime))
    return runtime


def _map_imports(runtime: Runtime) -> MapImports:
    """The dashboard's map import: the road graph, then the address index and the basemap of the
    same file, and the job's outcome in the audit log (the request that started it is there)."""

    async def audit_outcome(job: ImportJob, actor: str) -> None:
        await runtime.get(AuditLog).append(
            AuditRecord(
                actor=actor,
                action="map import finished",
                target=json.dumps(
                    {"job_id": job.id, "file": job.file, "error": job.error}, sort_keys=True
                ),
                request_id=job.id.replace("-", ""),
                outcome="success" if job.error is None else "failure:import",
            )
        )

    return MapImports(
        directory=runtime.settings.map_import_dir,
        road_maps=runtime.get(RoadMapService),
        clock=runtime.clock,
        stages=[
            ("building the address index", runtime.get(GeocoderService).switch),
            ("building the basemap tiles", runtime.get(BasemapService).switch),
        ],
        on_finished=audit_outcome,
    )


# ---- the table of reactions ------------------------------------------------------------------
# Every reaction of one domain to an event: the event(s), the typed handler in the reacting
# domain's handlers.py, and its stage and failure policy (core.reactions.Stage). The rows of one
# event run in this order, after that event's channel forwards (CHANNELS). Shown, with every
# event, in docs/architecture.md ("Flows"); tests/unit/test_reactions.py keeps both honest.
INCIDENT_CHANGES = (IncidentCreated, IncidentUpdated, IncidentStatusChanged)
UNIT_CHANGES = (UnitCreated, UnitUpdated, UnitStatusChanged)
CREW_UNIT_CHANGES = (UnitAssigned, UnitUpdated, UnitStatusChanged, DestinationChosen)
PAGE_CHANGES = (PageOpened, PageEscalated, PageAcknowledged, PageClosed)
IN_TRANSACTION = Stage.IN_TRANSACTION
LOCAL = Delivery.LOCAL  # about this process (a cache, a counter, a loop to wake): not durable

REACTIONS: tuple[Reaction, ...] = (
    # Accounts: a changed account's sessions end in every process (through the fan-out).
    on(AccountChanged, run=auth_handlers.broadcast_account_change, delivery=LOCAL),
    # Where each incident's patients are going (hospital staff's need-to-know scope); recorded
    # before the hospital is told of the handoff, so it can open the incident at once.
    on(DestinationChosen, run=incidents_handlers.destination_of_unit),
    # Each changed incident to every audience that may read it (after its new destination).
    on(*INCIDENT_CHANGES, PatientAdded, DestinationChosen, run=incidents_handlers.push_incident),
    on(
        HandoffDrafted,
        HandoffSent,
        HandoffRedirected,
        run=incidents_handlers.destination_of_handoff,
        stage=IN_TRANSACTION,
        isolated=False,
    ),
    on(
        HandoffStatusChanged,
        run=incidents_handlers.destination_of_changed_handoff,
        stage=IN_TRANSACTION,
        isolated=False,
    ),
    # Dispatch: a ranked unit list for a new or newly triaged incident without a unit; a GPS fix
    # from an ambulance's tracker moves the unit (through dispatch's hook).
    on(IncidentCreated, run=dispatch_handlers.recommend_for_new_incident),
    on(PatientTriaged, run=dispatch_handlers.recommend_after_triage),
    # A cancelled or closed incident's units stand down in the same transaction (logged).
    on(
        IncidentStatusChanged,
        run=dispatch_handlers.release_units_when_call_ends,
        stage=IN_TRANSACTION,
    ),
    # Live pictures: a crew's assignment on its unit's channel (in the process that committed:
    # it routes on the map loaded there) whenever its unit or its call changes.
    on(*CREW_UNIT_CHANGES, run=dispatch_handlers.push_crew_assignment, delivery=LOCAL),
    on(
        IncidentUpdated,
        IncidentStatusChanged,
        PatientAdded,
        run=dispatch_handlers.push_crew_assignment_of_incident,
        delivery=LOCAL,
    ),
    on(PositionReceived, run=telemetry_handlers.move_unit_with_its_device),
    # Handoffs: live push to both sides (local: the hospital's feed holds it durably, read on
    # reconnect); the bridge from destination and triage to the draft.
    on(*HANDOFF_EVENTS, run=handoffs_handlers.push_handoff_events, delivery=LOCAL),
    on(PatientTriaged, run=handoffs_handlers.refresh_draft_on_triage),
    on(DestinationChosen, run=handoffs_handlers.draft_on_destination),
    # Telemetry: live vitals, artefact windows, live risk, device cache; alert side of a page.
    on(VitalsReceived, run=telemetry_handlers.push_vitals, delivery=LOCAL),
    on(VitalsReceived, run=telemetry_handlers.judge_artefacts, delivery=LOCAL),
    on(VitalsReceived, run=telemetry_handlers.score_risk, delivery=LOCAL),
    on(DeviceChanged, run=telemetry_handlers.forget_device, delivery=LOCAL),
    on(AlertChanged, run=telemetry_handlers.push_alert, delivery=LOCAL),
    on(AlertChanged, run=telemetry_handlers.audit_alert),
    # Notifications: a page opens, stops or resolves in the transaction of its cause.
    on(AlertChanged, run=notifications_handlers.page_on_alert, stage=IN_TRANSACTION),
    on(
        HandoffAcknowledgementOverdue,
        run=notifications_handlers.page_on_overdue_handoff,
        stage=IN_TRANSACTION,
    ),
    on(
        HandoffAcknowledged,
        HandoffRedirected,
        run=notifications_handlers.stop_on_handoff_acknowledged,
        stage=IN_TRANSACTION,
        when=notifications_handlers.may_have_paged,
    ),
    on(*PAGE_CHANGES, run=notifications_handlers.count_page, delivery=LOCAL),
    on(PageOpened, run=notifications_handlers.wake_worker, delivery=LOCAL),
    on(PageAcknowledged, run=telemetry_handlers.acknowledge_alert_from_page),
    on(PageEscalated, run=telemetry_handlers.show_escalation_on_alert),
    # Emergency management: incidents and ambulances enter the one search index.
    on(*INCIDENT_CHANGES, run=emergency_handlers.index_incident),
    on(*UNIT_CHANGES, run=emergency_handlers.index_unit),
    # Registry: every chart view is audited; what follows a linked patient joins the chart.
    on(ChartViewed, run=registry_handlers.audit_chart_view),
    on(PatientTriaged, run=registry_handlers.link_triage),
    on(DeviceChanged, run=registry_handlers.link_device_binding),
    on(HandoffSent, run=registry_handlers.handoff_link_due, stage=IN_TRANSACTION, isolated=False),
    on(HandoffLinkDue, run=registry_handlers.link_handoff),
    # Intake: an ambulance patient's arrival starts an `emergency` session (once per handoff).
    on(HandoffStatusChanged, run=intake_handlers.start_emergency_on_arrival),
)

# ---- the table of WebSocket channels --------------------------------------------------------
# `name` or `name:<arg>`, who may subscribe (checked per channel and again when the account's
# state changes), and the events pushed on it as they are.
CHANNELS: tuple[Channel, ...] = (
    Channel(ACCOUNTS_CHANNEL, may_subscribe=None, control=auth_handlers.apply_account_change),
    Channel(
        INCIDENTS_CHANNEL,
        may_follow_incidents,
        pushed_by=(
            "incidents.handlers.push_incident",
            "dispatch.handlers.push_crew_assignment",
        ),
        # "incidents" and "incidents:hospital:<id>": the incident as GET /api/incidents/{id}
        # returns it to that audience; "incidents:unit:<id>": GET /api/crew/assignment.
        messages=(("incident", IncidentRead), ("assignment", CrewAssignment)),
    ),
    Channel(
        "units",
        CanSubscribe(Perm.UNITS_READ),
        forwards=(*UNIT_CHANGES, UnitPositionChanged, UnitAssigned),
    ),
    Channel("dispatch", CanSubscribe(Perm.DISPATCH_ASSIGN), forwards=(DispatchRecommended,)),
    Channel(
        "hospitals",
        CanSubscribe(Perm.HOSPITALS_READ),
        forwards=(HospitalCreated, HospitalUpdated, HospitalDiversionChanged),
    ),
    Channel(
        HANDOFFS_CHANNEL,
        handoffs_handlers.may_follow_handoffs,
        pushed_by=("handoffs.handlers.push_handoff_events",),
        # "handoffs:<hospital_id>": each feed entry by its kind, as GET .../feed returns it;
        # "handoffs" (the crew and dispatch board): "board", the changed handoff's routing
        # metadata as GET /api/handoffs lists it.
        messages=(
            *((kind, FeedEntryRead) for kind in ("handoff", "status", "update", "withdrawn")),
            ("board", HandoffRead),
        ),
    ),
    Channel(
        "vitals",
        CanSubscribe(Perm.VITALS_READ),
        pushed_by=(
            "telemetry.handlers.push_vitals",
            "telemetry.artefact_windows",
            "telemetry.live_risk",
        ),
        messages=(("vitals", VitalsPush), ("artefacts", ArtefactsPush), ("risk", RiskRead)),
    ),
    Channel(
        ALERTS_CHANNEL,
        CanSubscribe(Perm.ALERTS_READ),
        pushed_by=("telemetry.handlers.push_alert",),
        messages=(("alert", AlertRead),),
    ),
    Channel(
        "notifications",
        notifications_handlers.may_read_own_notifications,
        pushed_by=("notifications.channels.InAppChannel",),
    ),
    Channel(PAGING_CHANNEL, CanSubscribe(Perm.ONCALL_READ), forwards=NOTIFICATION_EVENTS),
    Channel("emergency", CanSubscribe(Perm.EMERGENCY_READ), forwards=EMERGENCY_EVENTS),
    # Ids and kinds only (registry events carry no personal value).
    Channel("registry", CanSubscribe(Perm.PERSONS_READ), forwards=REGISTRY_EVENTS),
    # The ED intake board (`intake`), a patient's session (`intake:<id>`): step statuses only.
    Channel(INTAKE_CHANNEL, CanSubscribe(Perm.INTAKE_READ), pushed_by=("intake.engine",)),
)


def _provide(runtime: Runtime) -> None:
    """The domain services the reactions and background work share, then both tables."""
    # Dispatch asks the roster whether a unit has a qualified crew on shift.
    runtime.provide(CrewCheck(crew_problems))
    runtime.provide(AcknowledgementWatch(runtime))
    runtime.provide(VitalsFollow(runtime))
    handoffs_handlers.follow_audience(runtime)
    telemetry_wiring.provide(runtime)
    notifications_wiring.provide(runtime)
    intake_wiring.provide(runtime)
    runtime.provide(PersonIndex.from_settings(runtime.settings, runtime.keyring))
    runtime.get(RoadMapService).on_loaded(partial(hospitals_handlers.import_map_hospitals, runtime))
    register(runtime, REACTIONS, CHANNELS)
    runtime.provide(_event_relay(runtime))


def _event_relay(runtime: Runtime) -> Relay:
    """Durable events (docs/durable-events.md): the outbox, delivered in this process (embedded
    profile) or through RabbitMQ (scale profile), once the reactions are registered."""
    durability = EventDurability(runtime.bus, runtime.keyring, runtime.sessions)
    settings = runtime.settings.events
    transport: EventTransport
    if settings.transport == "rabbitmq":
        from emsync.core.amqp import RabbitMqTransport

        assert settings.amqp_url is not None  # EventSettings refuses rabbitmq without one
        transport = RabbitMqTransport(
            durability,
            url=settings.amqp_url,
            exchange=settings.amqp_exchange,
            queue=settings.amqp_queue,
            event_names=runtime.bus.durable_event_names(),
        )
    else:
        transport = InProcessTransport(durability)
    runtime.bus.durability = durability
    return Relay(
        durability,
        transport,
        sessions=runtime.sessions,
        read_sessions=runtime.read_sessions,
        settings=settings,
        metrics=runtime.metrics,
    )


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
    lag = LoopLag(runtime.metrics.event_loop_lag)
    return [
        *[(role, lag) for role in ProcessRole],
        *_wal_checkpoint(runtime),
        *_fanout(runtime),
        # Every process relays its own commits; the worker role also consumes (scale profile),
        # re-delivers what a crash left behind and the dead letters a person retries.
        *[(role, runtime.get(Relay)) for role in ProcessRole],
        *telemetry_wiring.background_services(runtime),
        *notifications_wiring.background_services(runtime),
        *intake_wiring.background_services(runtime),
        (ProcessRole.API, runtime.get(RoadMapService)),
        (ProcessRole.API, runtime.get(GeocoderService)),
        (ProcessRole.API, runtime.get(MapImports)),
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


def create_app(
    settings: Settings | None = None,
    *,
    roles: Sequence[ProcessRole] = tuple(ProcessRole),
    clock: Clock = utcnow,
    settle: bool = False,
) -> FastAPI:
    """The app; `settle`: `settle_for_serving` once its services have started (a server
    process's start-up, not an app made by a test)."""
    settings = settings or Settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    runtime = build_runtime(settings, clock=clock)
    _provide(runtime)
    runtime.get(Relay).consume = ProcessRole.WORKER in roles
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
            if settle:
                # What the services made at start included.
                settle_for_serving(settings.http.gil_switch_interval_ms / 1000)
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
        **FASTAPI_OPTIONS,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    document_problems(app)
    document_channels(app, CHANNELS)
    install_middleware(app, runtime, roles)
    include_gated(app, [ops_router(public)])
    install_docs(app, public)
    if ProcessRole.API in roles:
        _include_api(app)
    return app


def _include_api(app: FastAPI) -> None:
    """Every domain's routes, the WebSocket and the dashboard (the `api` role)."""
    routers = [
        auth_api.router,
        incidents_api.router,
        dispatch_api.router,
        maps_api.router,
        dispatch_api.map_router,
        crew_api.router,
        geocoding_api.router,
        basemap_api.router,
        hospitals_api.router,
        hospitals_api.map_router,
        handoffs_api.router,
        telemetry_api.router,
        triage_api.router,
        notifications_api.router,
        *emergency_api.routers,
        *registry_api.routers,
        intake_api.router,
        *intake_records_api.routers,
    ]
    include_gated(app, routers, shared=True, responses=PROBLEM_RESPONSES)
    app.include_router(realtime_router(_hub_of))
    if WEB_DIST.is_dir():
        app.mount("/", SpaStaticFiles(directory=WEB_DIST, html=True), name="web")


def _hub_of(ws: WebSocket) -> Hub:
    runtime: Runtime = ws.app.state.runtime
    return runtime.get(Hub)
