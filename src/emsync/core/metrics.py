"""Prometheus metrics, one registry per app so that several apps can live in one test process."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


def observe_all(histogram: Histogram, amounts: Iterable[float]) -> None:
    """`histogram.observe(a)` for each of `amounts` (an unlabelled histogram or one child): the
    same buckets and sum, with one increment per bucket touched instead of two locked ones and
    a scan of the bounds per amount. The telemetry ingest observes every message of a batch
    (prometheus_client 0.2x's Histogram internals: tests check it against `observe`)."""
    bounds = histogram._upper_bounds
    counts = [0] * len(bounds)
    total = 0.0
    last = len(bounds) - 1
    for amount in amounts:
        total += amount
        # The first bound the amount is not above, as `observe` finds it; the last is +Inf.
        counts[min(bisect_left(bounds, amount), last)] += 1
    histogram._sum.inc(total)
    buckets = histogram._buckets
    for i, n in enumerate(counts):
        if n:
            buckets[i].inc(n)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "emsync_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "emsync_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.event_handler_failures = Counter(
            "emsync_event_handler_failures_total",
            "Event handler failures (each attempt).",
            ["event"],
            registry=self.registry,
        )
        # Incremented through the bus's dead-letter hook (bootstrap): Prometheus alerts on it.
        self.event_dead_letters = Counter(
            "emsync_event_dead_letters_total",
            "Events whose handler failed every attempt.",
            ["event"],
            registry=self.registry,
        )
        # Set by the event relay from the database: dead letters waiting for a person (they
        # survive restarts; the counter above does not).
        self.event_dead_letters_unresolved = Gauge(
            "emsync_event_dead_letters_unresolved",
            "Dead-lettered reactions nobody has retried successfully yet "
            "(emsync events dead-letters list).",
            registry=self.registry,
        )
        # Observed by core.background.LoopLag in every process: the wait that anything on the
        # event loop (a WebSocket push, a request, the ingest's next batch) had at that moment.
        self.event_loop_lag = Histogram(
            "emsync_event_loop_lag_seconds",
            "How late the event loop ran a timer due every 25 ms (sampled).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.logins = Counter(
            "emsync_logins_total", "Login attempts by outcome.", ["outcome"], registry=self.registry
        )
