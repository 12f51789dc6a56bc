"""Which ingest process owns a device's messages when N of them share the load (pure).

Mosquitto 2.0.11's shared subscriptions lost readings across a broker restart (DESIGN.md §6),
so each ingest keeps its own persistent, plain subscription to every device's topics and stores
only the devices of its partition: crc32 of the device id, modulo the number of processes. Every
process computes the same owner, so each message is stored by exactly one of them; the others
only acknowledge it (in order with their own, without opening it). A topic that names no device
goes to partition 0, whose pipeline refuses it and counts the refusal.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

_PREFIX = "emsync/v1/devices/"


def device_of(topic: str) -> str:
    """The device id in `emsync/v1/devices/{device_id}/{kind}`, or "" if it has none."""
    if not topic.startswith(_PREFIX):
        return ""
    device, slash, _kind = topic[len(_PREFIX) :].partition("/")
    return device if slash else ""


def partition_of(device_id: str, count: int) -> int:
    if not device_id:
        return 0
    return zlib.crc32(device_id.encode()) % count


@dataclass(frozen=True, slots=True)
class Partition:
    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"partition {self.index} of {self.count}")

    def owns(self, topic: str) -> bool:
        return self.count == 1 or partition_of(device_of(topic), self.count) == self.index
