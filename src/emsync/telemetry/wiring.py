"""Telemetry's part of the composition root: called from `emsync.bootstrap` only. Its reactions
and WebSocket channels are rows of `emsync.bootstrap`'s tables."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import structlog

from emsync.core.admission import Precedence
from emsync.core.background import BackgroundService, ProcessRole
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from emsync.telemetry import alerting
from emsync.telemetry.alerts import AlertKind, AlertLevel, ScoreObservation
from emsync.telemetry.artefact_windows import ArtefactWindows
from emsync.telemetry.broker import EmbeddedBroker
from emsync.telemetry.ingest import MqttIngest
from emsync.telemetry.ingest_thread import ThreadedIngest, threadable
from emsync.telemetry.live_risk import RiskWatch
from emsync.telemetry.metrics import TelemetryMetrics
from emsync.telemetry.pipeline import Pipeline
from emsync.telemetry.risk_scores import RiskRecorder, recent_risk
from emsync.telemetry.vitals import LatestValues

log = structlog.get_logger("emsync.telemetry.wiring")


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
    # The deterioration model's live score beside NEWS2 (reaction: handlers.score_risk), kept
    # at rest in batches by the recorder (a background service of the scoring process).
    tel = runtime.settings.telemetry
    recorder = RiskRecorder(
        engine=runtime.engine,
        keyring=runtime.keyring,
        clock=runtime.clock,
        interval=lambda: tel.risk_flush_seconds,
    )
    runtime.provide(recorder)
    runtime.provide(_risk_watch(runtime, recorder))


def _risk_observation(
    level: AlertLevel | None, detail: dict[str, Any], now: datetime
) -> ScoreObservation:
    """A live risk score in the alert path's terms: `total` is the risk in percent (for the
    alert's peak), `scale` tells every reader it is not a NEWS2 total."""
    scored = {
        **detail,
        "scale": "deterioration",
        "total": round(float(detail["risk"]) * 100),
        "band": level.value if level is not None else "none",
        "ts": now.isoformat(),
    }
    return ScoreObservation(level, scored, scored, now)


def _risk_watch(runtime: Runtime, recorder: RiskRecorder) -> RiskWatch:
    from emsync.triage import registry

    tel = runtime.settings.telemetry
    meta = json.loads(registry.deterioration_path().read_text())

    def score(readings: Any) -> float:
        # loaded (once per process) by RiskWatch.start, in a worker thread, before serving
        return registry.deterioration_model().score(readings)

    async def raise_alert(
        patient_id: str, level: AlertLevel | None, detail: dict[str, Any]
    ) -> None:
        async with runtime.sessions() as session:
            events = await alerting.observe_news2(
                session=session,
                keyring=runtime.keyring,
                observations={patient_id: _risk_observation(level, detail, runtime.clock())},
                holdoff=timedelta(seconds=tel.alert_holdoff_seconds),
                ack_timeout=timedelta(seconds=tel.ack_timeout_seconds),
                now=runtime.clock(),
                kind=AlertKind.DETERIORATION,
            )
            follow = await runtime.bus.stage(session, events)  # pages open with their alerts
            await session.commit()
        await runtime.bus.publish(*events, *follow)

    async def recall(patient_id: str, since: datetime) -> list[tuple[datetime, float]]:
        try:
            async with runtime.sessions() as session:
                return await recent_risk(
                    session=session, keyring=runtime.keyring, patient_id=patient_id, since=since
                )
        except Exception as exc:  # noqa: BLE001 - the live score goes on; its trend starts anew
            log.warning("stored risk scores not recalled", error=type(exc).__name__)
            return []

    return RiskWatch(
        publish=runtime.get(Hub).publish,
        score=score,
        model_version=str(meta.get("version", "unversioned")),
        interval=timedelta(seconds=tel.risk_interval_seconds),
        threshold=tel.risk_alert_threshold,
        high=tel.risk_alert_high,
        raise_alert=raise_alert,
        record=recorder.record,
        recall=recall,
    )


def background_services(runtime: Runtime) -> list[tuple[ProcessRole, BackgroundService]]:
    from emsync.telemetry.maintenance import ReadingMaintenance
    from emsync.telemetry.watch import AlertWatch

    settings = runtime.settings.mqtt
    metrics = runtime.get(TelemetryMetrics)
    # Its judge runs in a task of its own, ended at shutdown after the ingest (services stop in
    # reverse); readings reach it from MQTT (ingest) or over HTTP (api).
    windows = runtime.get(ArtefactWindows)
    services: list[tuple[ProcessRole, BackgroundService]] = [(r, windows) for r in ProcessRole]
    # Scores are made where readings are stored (VitalsReceived is a local reaction of ingest).
    services.append((ProcessRole.INGEST, runtime.get(RiskRecorder)))
    # Started before the ingest, so its model is loaded and warm before the first reading (see
    # RiskWatch.start); its scorer runs in a task of its own. Services stop in reverse: the
    # ingest first, then this (the scores due are made), then the recorder's last round.
    risk = runtime.get(RiskWatch)
    services.extend((r, risk) for r in ProcessRole)
    if settings.embedded:
        services.append((ProcessRole.INGEST, EmbeddedBroker(settings)))
    if settings.host is not None:
        from emsync.telemetry.broker_watch import BrokerWatch

        precedence = runtime.get(Precedence)
        service: BackgroundService
        if threadable(runtime.settings):
            service = ThreadedIngest(
                settings=runtime.settings,
                pipeline=runtime.get(Pipeline),
                metrics=metrics,
                precedence=precedence,
            )
            ingest = service.ingest
        else:
            ingest = service = MqttIngest(
                settings=settings,
                pipeline=runtime.get(Pipeline),
                metrics=metrics,
                caught_up=precedence.caught_up,
            )
        # API requests wait while readings are late, and take fewer turns while they come in.
        precedence.register(ingest.behind, ingest.active)
        runtime.provide(ingest)
        services.append((ProcessRole.INGEST, service))
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
