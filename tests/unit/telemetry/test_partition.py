"""Ingest partitions: every device belongs to exactly one ingest process, the same one in every
process, whatever the topic's kind."""

from __future__ import annotations

import pytest

from emsync.telemetry.partition import Partition, device_of, partition_of


def test_device_is_read_from_the_topic() -> None:
    assert device_of("emsync/v1/devices/mon-7/vitals") == "mon-7"
    assert device_of("emsync/v1/devices/mon-7") == ""
    assert device_of("other/v1/devices/mon-7/vitals") == ""


def test_each_device_is_owned_by_exactly_one_of_n_processes() -> None:
    for count in (1, 2, 3, 5):
        partitions = [Partition(i, count) for i in range(count)]
        for n in range(500):
            topic = f"emsync/v1/devices/dev-{n}/vitals"
            assert sum(p.owns(topic) for p in partitions) == 1


def test_a_device_keeps_its_owner_across_kinds_and_is_stable() -> None:
    # crc32, not Python's per-process salted hash(): processes must agree.
    assert partition_of("dev-1", 2) == partition_of("dev-1", 2)
    assert partition_of("dev-1", 7) == 2279632790 % 7  # zlib.crc32(b"dev-1")
    p = Partition(partition_of("dev-1", 4), 4)
    assert all(p.owns(f"emsync/v1/devices/dev-1/{kind}") for kind in ("vitals", "position"))


def test_load_is_spread_over_the_partitions() -> None:
    counts = [0, 0]
    for n in range(1000):
        counts[partition_of(f"monitor-{n:04d}", 2)] += 1
    assert min(counts) > 400


def test_a_topic_without_a_device_goes_to_partition_zero() -> None:
    assert Partition(0, 3).owns("emsync/v1/devices")
    assert not Partition(1, 3).owns("emsync/v1/devices")


def test_partition_outside_the_count_is_refused() -> None:
    with pytest.raises(ValueError, match="partition 2 of 2"):
        Partition(2, 2)
