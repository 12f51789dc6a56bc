"""Prometheus counters of the notifications domain, on the app's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class NotificationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.outcomes = Counter(
            "emsync_notifications_total",
            "Notification outcomes per channel: sent, delivered, retried, failed, held, "
            "digested, suppressed, cancelled, acknowledged.",
            ["channel", "outcome"],
            registry=registry,
        )
        self.send_seconds = Histogram(
            "emsync_notification_send_seconds",
            "Time of one delivery attempt per channel.",
            ["channel"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.pages = Counter(
            "emsync_pages_total",
            "Pages per trigger and what happened: opened, escalated, acknowledged, resolved, "
            "exhausted.",
            ["trigger", "outcome"],
            registry=registry,
        )
        self.escalation_rounds = Counter(
            "emsync_notification_escalation_rounds_total",
            "Rounds of the escalation watch (pages advanced, digests sent).",
            registry=registry,
        )
        self.inbound = Counter(
            "emsync_notification_callbacks_total",
            "Provider callbacks and replies by kind and outcome (a forged signature: rejected).",
            ["kind", "outcome"],
            registry=registry,
        )
