"""Telemetry's Prometheus metrics, registered on the app's registry (`runtime.metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class TelemetryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.accepted = Counter(
            "emsync_telemetry_readings_accepted_total",
            "Readings stored (a batch message counts each reading).",
            registry=registry,
        )
        self.rejected = Counter(
            "emsync_telemetry_messages_rejected_total",
            "MQTT messages refused, by reason.",
            ["reason"],
            registry=registry,
        )
        self.fields_rejected = Counter(
            "emsync_telemetry_fields_rejected_total",
            "Single implausible or malformed values dropped from otherwise valid readings.",
            ["field", "problem"],
            registry=registry,
        )
        self.duplicates = Counter(
            "emsync_telemetry_duplicates_total",
            "Readings already stored (QoS 1 redelivery), ignored.",
            registry=registry,
        )
        self.other_partition = Counter(
            "emsync_telemetry_other_partition_total",
            "Messages of devices another ingest process owns, acknowledged and left to it.",
            registry=registry,
        )
        self.latency = Histogram(
            "emsync_telemetry_ingest_latency_seconds",
            "From receipt off the MQTT socket to stored and pushed.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=registry,
        )
        # Where the ingest latency goes (bench/ingest.py reports it): a SQLite batch handed to
        # the writer thread took p99 79 ms here at machine load 7 for under 1 ms of SQLite work.
        self.store_seconds = Histogram(
            "emsync_telemetry_store_seconds",
            "One batch's write: from starting it to committed, waits for the write turn, "
            "threads, the database and retries included.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 10),
            registry=registry,
        )
        self.batch_size = Histogram(
            "emsync_telemetry_batch_size",
            "MQTT messages per stored batch.",
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
            registry=registry,
        )
        self.queue_depth = Gauge(
            "emsync_telemetry_queue_depth",
            "Messages received and waiting for the pipeline.",
            registry=registry,
        )
        self.store_failures = Counter(
            "emsync_telemetry_store_failures_total",
            "Batches whose storage failed and was retried (nothing acknowledged meanwhile).",
            registry=registry,
        )
        self.open_alerts = Gauge(
            "emsync_telemetry_open_alerts",
            "Alerts raised or acknowledged and not resolved, by level.",
            ["level"],
            registry=registry,
        )
        self.unacknowledged_alerts = Gauge(
            "emsync_telemetry_unacknowledged_alerts",
            "Alerts raised and not yet acknowledged by anyone, by level.",
            ["level"],
            registry=registry,
        )
        self.connected = Gauge(
            "emsync_telemetry_broker_connected",
            "1 while connected to the broker.",
            registry=registry,
        )
