"""Telemetry's part of the composition root: called from `emsync.bootstrap` only."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from emsync.auth.permissions import Perm
from emsync.core.background import BackgroundService, ProcessRole
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from emsync.telemetry import service
from emsync.telemetry.alerts import AlertKind, AlertLevel
from emsync.telemetry.artefact_windows import ArtefactWindows
from emsync.telemetry.broker import EmbeddedBroker
from emsync.telemetry.events import AlertChanged, DeviceChanged, VitalsReceived
from emsync.telemetry.ingest import MqttIngest
from emsync.telemetry.live_risk import RiskWatch
from emsync.telemetry.metrics import TelemetryMetrics
from emsync.telemetry.pipeline import Pipeline
from emsync.telemetry.vitals import LatestValues


def provide(runtime: Runtime) -> None:
    """Metrics, the latest-value cache and the pipeline, shared by the roles of one process."""
    metrics = TelemetryMetrics(runtime.metrics.registry)
    cache = LatestValues()
    runtime.provide(metrics)
    runtime.provide(cache)
    pipeline = Pipeline(
        settings=runtime.settings,
        engine=runtime.engine,
        sessions=runtime.sessions,
        keyring=runtime.keyring,
        bus=runtime.bus,
        metrics=metrics,
        cache=cache,
        clock=runtime.clock,
    )
    runtime.provide(pipeline)

    async def forget_device(event: DeviceChanged) -> None:
        pipeline.devices.invalidate(event.device_id)

    runtime.bus.subscribe(DeviceChanged, forget_device)


def _can(perm: Perm) -> Any:
    async def check(principal: Any, _arg: str | None) -> bool:
        return bool(principal.can(perm))

    return check


def wire_realtime(runtime: Runtime, hub: Hub) -> None:
    """`vitals:<patient_id>` (vitals:read) and `alerts` (alerts:read) WebSocket channels."""
    hub.register_channel("vitals", _can(Perm.VITALS_READ))
    hub.register_channel("alerts", _can(Perm.ALERTS_READ))

    async def push_vitals(event: VitalsReceived) -> None:
        hub.publish(
            f"vitals:{event.patient_id}",
            "vitals",
            {
                "patient_id": event.patient_id,
                "device_id": event.device_id,
                "readings": list(event.readings),
            },
        )

    async def push_alert(event: AlertChanged) -> None:
        hub.publish("alerts", event.name, event.to_dict())

    runtime.bus.subscribe(VitalsReceived, push_vitals)
    runtime.bus.subscribe(AlertChanged, push_alert)
    # Flat lines and the window forest, judged after the batch is stored (off the hot path).
    windows = ArtefactWindows(hub.publish)
    runtime.bus.subscribe(VitalsReceived, windows.on_vitals)
    # The deterioration model's live score beside NEWS2, also off the hot path.
    risk = _risk_watch(runtime, hub)
    runtime.provide(risk)
    runtime.bus.subscribe(VitalsReceived, risk.on_vitals)


def _risk_watch(runtime: Runtime, hub: Hub) -> RiskWatch:
    from emsync.triage import registry

    tel = runtime.settings.telemetry
    meta = json.loads(registry.deterioration_path().read_text())

    def score(readings: Any) -> float:
        # xgboost loads on the first score, in the worker thread, not at start-up
        return registry.deterioration_model().score(readings)

    async def raise_alert(
        patient_id: str, level: AlertLevel | None, detail: dict[str, Any]
    ) -> None:
        async with runtime.sessions() as session:
            events = await service.observe_news2(
                session=session,
                keyring=runtime.keyring,
                observations={patient_id: (level, detail)},
                holdoff=timedelta(seconds=tel.alert_holdoff_seconds),
                ack_timeout=timedelta(seconds=tel.ack_timeout_seconds),
                now=runtime.clock(),
                kind=AlertKind.DETERIORATION,
            )
            follow = await runtime.bus.stage(session, events)  # pages open with their alerts
            await session.commit()
        await runtime.bus.publish(*events, *follow)

    return RiskWatch(
        publish=hub.publish,
        score=score,
        model_version=str(meta.get("version", "unversioned")),
        interval=timedelta(seconds=tel.risk_interval_seconds),
        threshold=tel.risk_alert_threshold,
        high=tel.risk_alert_high,
        raise_alert=raise_alert,
    )


def background_services(runtime: Runtime) -> list[tuple[ProcessRole, BackgroundService]]:
    from emsync.telemetry.maintenance import ReadingMaintenance
    from emsync.telemetry.watch import AlertWatch

    settings = runtime.settings.mqtt
    metrics = runtime.get(TelemetryMetrics)
    services: list[tuple[ProcessRole, BackgroundService]] = []
    if settings.embedded:
        services.append((ProcessRole.INGEST, EmbeddedBroker(settings)))
    if settings.host is not None:
        from emsync.telemetry.broker_watch import BrokerWatch

        ingest = MqttIngest(settings=settings, pipeline=runtime.get(Pipeline), metrics=metrics)
        runtime.provide(ingest)
        services.append((ProcessRole.INGEST, ingest))
        # What the broker says of itself ($SYS): its version, and messages it dropped.
        watch = BrokerWatch(runtime)
        runtime.provide(watch)
        services.append((ProcessRole.INGEST, watch))
    services.append((ProcessRole.WORKER, AlertWatch(runtime, metrics)))
    maintenance = ReadingMaintenance(
        engine=runtime.engine, settings=runtime.settings.telemetry, clock=runtime.clock
    )
    runtime.provide(maintenance)
    services.append((ProcessRole.WORKER, maintenance))
    return services
