"""observe_all against Histogram.observe, and the request ids drawn in bulk."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Histogram

from emsync.core.http import RequestIds
from emsync.core.metrics import observe_all

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


def _samples(histogram: Histogram) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels.get("le", "")): s.value
        for metric in histogram.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def test_observe_all_leaves_the_buckets_and_sum_observe_would() -> None:
    registry = CollectorRegistry()
    one = Histogram("one_by_one", "x", buckets=BUCKETS, registry=registry)
    batched = Histogram("batched", "x", buckets=BUCKETS, registry=registry)
    # On each bound (le is inclusive), between bounds, below the first, past the last, zero.
    amounts = [*BUCKETS, 0.0, 0.0005, 0.003, 0.07, 2.5000001, 11.0, 1e9, 0.0011] * 3
    for amount in amounts:
        one.observe(amount)
    observe_all(batched, amounts[:10])
    observe_all(batched, amounts[10:])
    observe_all(batched, [])
    expected = {(n.replace("one_by_one", "batched"), le): v for (n, le), v in _samples(one).items()}
    got = _samples(batched)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert math.isclose(got[key], value, rel_tol=1e-12), key


def test_observe_all_works_on_a_labelled_child() -> None:
    registry = CollectorRegistry()
    h = Histogram("lab", "x", ["route"], buckets=(0.1, 1), registry=registry)
    observe_all(h.labels("a"), [0.05, 0.5, 5])
    samples = {(s.name, s.labels.get("le")): s.value for s in next(iter(h.collect())).samples}
    assert samples[("lab_bucket", "0.1")] == 1
    assert samples[("lab_bucket", "1.0")] == 2
    assert samples[("lab_bucket", "+Inf")] == 3
    assert samples[("lab_count", None)] == 3


def test_request_ids_are_32_hex_digits_and_never_repeat() -> None:
    ids = RequestIds()
    drawn = [ids.next() for _ in range(1000)]  # several bulk draws
    assert len(set(drawn)) == len(drawn)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in drawn)
