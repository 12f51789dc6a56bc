"""Telemetry's part of the composition root: called from `emsync.bootstrap` only. Its reactions
and WebSocket channels are rows of `emsync.bootstrap`'s tables."""

from __future__ import annotations

from emsync.core.background import BackgroundService, ProcessRole
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from emsync.telemetry.artefact_windows import ArtefactWindows
from emsync.telemetry.broker import EmbeddedBroker
from emsync.telemetry.ingest import MqttIngest
from emsync.telemetry.metrics import TelemetryMetrics
from emsync.telemetry.pipeline import Pipeline
from emsync.telemetry.vitals import LatestValues


def provide(runtime: Runtime) -> None:
    """Metrics, the latest-value cache, the pipeline and the artefact windows, shared by the
    roles of one process."""
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
    runtime.provide(ArtefactWindows(runtime.get(Hub).publish))


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
