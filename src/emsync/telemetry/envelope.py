"""The sealed telemetry envelope (DESIGN.md §3.1): parse, seal, open and the replay check.

Pure: no I/O, no clock. Every way an incoming message can be refused raises `EnvelopeRejected`
with a machine-readable `reason`, so the ingest loop counts rejections by reason and carries on.

Order matters on the receiving side: `parse` → `open_envelope` → `ReplayGuard.admit`. The
counter is only trusted once the tag has verified, otherwise a forged message with a huge
counter would lock the real device out.

Replay rule (the counter, bytes 4-11): each counter is accepted at most once per device and key
id, in any order within a window of `ReplayGuard.window` counters below the highest accepted
(an anti-replay window as in IPsec and DTLS); older counters are refused. Devices still count
up; the window only absorbs the reordering of a reconnecting MQTT client.
"""

from __future__ import annotations

import re
import secrets
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, NewType

from emsync.telemetry import aead
from emsync.telemetry.aead import Algorithm

__all__ = [
    "DEFAULT_REPLAY_WINDOW",
    "HEADER_LENGTH",
    "MAX_PAYLOAD_LENGTH",
    "MAX_REPLAY_WINDOW",
    "VERSION",
    "WIRE_ALGORITHMS",
    "DeviceId",
    "EnvelopeRejected",
    "Kind",
    "Reason",
    "ReplayGuard",
    "SealedReading",
    "Topic",
    "open_envelope",
    "parse",
    "parse_topic",
    "seal",
    "topic_for",
]

DeviceId = NewType("DeviceId", str)

VERSION = 1
HEADER_LENGTH = 12  # version, algorithm, key id, counter: the part bound into the AD
TAG_LENGTH = aead.TAG_LENGTH
# A vitals batch of a few hundred readings fits easily; anything larger is refused before any
# work is spent on it, so one misbehaving device cannot make ingest allocate without bound.
MAX_PAYLOAD_LENGTH = 64 * 1024
MAX_KEY_ID = 0xFFFF
MAX_COUNTER = 0xFFFF_FFFF_FFFF_FFFF

WIRE_ALGORITHMS: frozenset[Algorithm] = frozenset(
    {Algorithm.ASCON_AEAD128, Algorithm.ASCON_128, Algorithm.AES_256_GCM}
)
_NONCE_LENGTH: dict[int, int] = {alg.value: aead.spec(alg).nonce_length for alg in WIRE_ALGORITHMS}
_ALGORITHM: dict[int, Algorithm] = {alg.value: alg for alg in WIRE_ALGORITHMS}

_HEADER = struct.Struct(">BBHQ")
_TOPIC_PREFIX = "emsync/v1/devices/"
# [A-Za-z0-9] spelled out (not \w) so no Unicode letter or digit ever passes.
_TOPIC = re.compile(r"emsync/v1/devices/([A-Za-z0-9_-]{1,64})/(vitals|position|status)")


class Kind(StrEnum):
    VITALS = "vitals"
    POSITION = "position"
    STATUS = "status"


_KINDS = {kind.value: kind for kind in Kind}


class Reason(StrEnum):
    """Why a message was refused; the values are metric labels, so they never change."""

    BAD_TOPIC = "bad_topic"
    TOO_LARGE = "too_large"
    TRUNCATED = "truncated"
    BAD_VERSION = "bad_version"
    UNKNOWN_ALGORITHM = "unknown_algorithm"
    KEY_MISMATCH = "key_mismatch"  # the device's key does not fit the algorithm in the header
    BAD_TAG = "bad_tag"
    REPLAYED = "replayed"
    BAD_ENCODING = "bad_encoding"  # plaintext is not UTF-8
    BAD_JSON = "bad_json"
    BAD_SHAPE = "bad_shape"  # valid JSON, but not a reading or a batch of readings
    BAD_TIMESTAMP = "bad_timestamp"
    # Later than the time received plus the allowed clock skew: a device with a wrong clock
    # would otherwise pin a patient's "latest" values for as long as its clock is ahead.
    FUTURE_TIMESTAMP = "future_timestamp"


class EnvelopeRejected(ValueError):
    """An incoming message is refused. `detail` never contains plaintext (it may be PHI)."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Topic:
    device_id: DeviceId
    kind: Kind


class SealedReading(NamedTuple):
    """A parsed, not yet authenticated envelope; build it with `parse`."""

    topic: str
    device_id: DeviceId
    kind: Kind
    algorithm: Algorithm
    key_id: int
    counter: int
    nonce: bytes
    ciphertext: bytes  # ciphertext followed by the 16-byte tag
    header: bytes  # envelope bytes 0-11 exactly as received

    @property
    def associated_data(self) -> bytes:
        return self.header + self.topic.encode()


def _match_topic(topic: str) -> tuple[str, Kind]:
    match = _TOPIC.fullmatch(topic)
    if match is None:
        raise EnvelopeRejected(Reason.BAD_TOPIC, "expected emsync/v1/devices/{device_id}/{kind}")
    device_id, kind = match.groups()
    # A dict lookup, because Kind(value) costs about a microsecond per message.
    return device_id, _KINDS[kind]


def parse_topic(topic: str) -> Topic:
    device_id, kind = _match_topic(topic)
    return Topic(device_id=DeviceId(device_id), kind=kind)


def topic_for(device_id: str, kind: Kind | str) -> str:
    """The topic a device publishes `kind` on; ValueError for an invalid device id or kind."""
    topic = f"{_TOPIC_PREFIX}{device_id}/{Kind(kind).value}"
    if _TOPIC.fullmatch(topic) is None:
        raise ValueError("device id must match [A-Za-z0-9_-]{1,64}")
    return topic


def parse(topic: str, payload: bytes) -> SealedReading:
    """Split an MQTT message into its fields; checks structure only, not the tag."""
    device_id, kind = _match_topic(topic)
    size = len(payload)
    if size > MAX_PAYLOAD_LENGTH:
        raise EnvelopeRejected(Reason.TOO_LARGE, f"{size} bytes > {MAX_PAYLOAD_LENGTH}")
    if size < 2:
        raise EnvelopeRejected(Reason.TRUNCATED, f"{size} bytes")
    if payload[0] != VERSION:
        raise EnvelopeRejected(Reason.BAD_VERSION, f"version {payload[0]}")
    nonce_length = _NONCE_LENGTH.get(payload[1])
    if nonce_length is None:
        raise EnvelopeRejected(Reason.UNKNOWN_ALGORITHM, f"algorithm {payload[1]}")
    body = HEADER_LENGTH + nonce_length
    if size < body + TAG_LENGTH:
        raise EnvelopeRejected(Reason.TRUNCATED, f"{size} bytes < {body + TAG_LENGTH}")
    payload = bytes(payload)
    _, algorithm, key_id, counter = _HEADER.unpack_from(payload)
    return SealedReading(
        topic=topic,
        device_id=DeviceId(device_id),
        kind=kind,
        algorithm=_ALGORITHM[algorithm],
        key_id=key_id,
        counter=counter,
        nonce=payload[HEADER_LENGTH:body],
        ciphertext=payload[body:],
        header=payload[:HEADER_LENGTH],
    )


def open_envelope(sealed: SealedReading, key: bytes) -> bytes:
    """The authenticated plaintext; EnvelopeRejected if the key does not fit or the tag fails."""
    if len(key) != aead.spec(sealed.algorithm).key_length:
        raise EnvelopeRejected(Reason.KEY_MISMATCH, f"no {sealed.algorithm.name} key")
    try:
        return aead.open(
            sealed.algorithm, key, sealed.nonce, sealed.associated_data, sealed.ciphertext
        )
    except aead.AeadError:
        raise EnvelopeRejected(Reason.BAD_TAG) from None


def seal(
    *,
    topic: str,
    algorithm: Algorithm,
    key: bytes,
    key_id: int,
    counter: int,
    plaintext: bytes,
    nonce: bytes | None = None,
) -> bytes:
    """The MQTT payload a device publishes on `topic` (for devices, the simulator and tests).

    Without `nonce` a random one is drawn. A random 96-bit AES-GCM nonce is safe for about 2**32
    messages per key (NIST SP 800-38D); keys rotate long before that.
    """
    _match_topic(topic)
    if algorithm not in WIRE_ALGORITHMS:
        raise ValueError(f"{algorithm!r} cannot be carried in an envelope")
    if not 0 <= key_id <= MAX_KEY_ID:
        raise ValueError("key_id must fit in 16 bits")
    if not 0 <= counter <= MAX_COUNTER:
        raise ValueError("counter must fit in 64 bits")
    nonce_length = _NONCE_LENGTH[algorithm]
    if nonce is None:
        nonce = secrets.token_bytes(nonce_length)
    elif len(nonce) != nonce_length:
        raise ValueError(f"nonce must be {nonce_length} bytes")
    header = _HEADER.pack(VERSION, algorithm, key_id, counter)
    sealed = aead.seal(algorithm, key, nonce, header + topic.encode(), plaintext)
    payload = header + nonce + sealed
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise ValueError(f"sealed payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_LENGTH}")
    return payload


DEFAULT_REPLAY_WINDOW = 4096  # telemetry.replay_window's default; see there why
MAX_REPLAY_WINDOW = 65_536  # 8 KiB of bitmap per device and key


class _Window:
    """The highest counter accepted and which of the `window` counters up to it were.

    Bit i of `seen` stands for counter `highest - i` (bit 0, `highest` itself, is always set).
    A Python int as the bitmap: one shift and one mask per new highest, `window / 8` bytes.
    """

    __slots__ = ("highest", "seen")

    def __init__(self, highest: int, seen: int) -> None:
        self.highest = highest
        self.seen = seen


class ReplayGuard:
    """Anti-replay window per (device, key id), in memory (RFC 4303 §3.4.3, RFC 6347 §4.1.2.6).

    A counter is accepted once: when it is above the highest accepted so far, or within the
    `window` counters below it and not accepted yet. Anything older is refused, as is anything
    seen. Why a window and not "strictly increasing": a device's MQTT client (paho 2.2) that
    reconnects after a broker outage sends a reading published right after the reconnect before
    the readings it queued during the outage; those are genuine and must not be lost.

    The caller seeds it from storage on start-up (the highest stored counter and the stored
    counters within the window below it, so nothing stored before a restart is accepted again)
    and calls `admit` only after `open_envelope` succeeded. A new key id starts its own
    sequence, so rotation needs no counter hand-over. Memory: one bitmap of `window` bits per
    (device, key id) in use.
    """

    __slots__ = ("_mask", "_slots", "window")

    def __init__(
        self,
        accepted: Mapping[tuple[str, int], Iterable[int]] | None = None,
        *,
        window: int = DEFAULT_REPLAY_WINDOW,
    ) -> None:
        if not 1 <= window <= MAX_REPLAY_WINDOW:
            raise ValueError(f"window must be 1 … {MAX_REPLAY_WINDOW}")
        self.window = window
        self._mask = (1 << window) - 1
        self._slots: dict[tuple[str, int], _Window] = {}
        for slot, counters in (accepted or {}).items():
            for counter in counters:
                self._mark(slot, counter)

    def highest(self, device_id: str, key_id: int) -> int | None:
        """The highest counter accepted for this device and key, or None."""
        state = self._slots.get((device_id, key_id))
        return None if state is None else state.highest

    def accepts(self, device_id: str, key_id: int, counter: int) -> bool:
        """Whether `counter` is new for this device and key: above the highest accepted, or
        within the window below it and not accepted yet."""
        state = self._slots.get((device_id, key_id))
        if state is None or counter > state.highest:
            return True
        behind = state.highest - counter
        return behind < self.window and not (state.seen >> behind) & 1

    def check(self, sealed: SealedReading) -> None:
        """EnvelopeRejected(replayed) if the counter is not new; changes nothing."""
        if not self.accepts(sealed.device_id, sealed.key_id, sealed.counter):
            highest = self.highest(sealed.device_id, sealed.key_id)
            raise EnvelopeRejected(
                Reason.REPLAYED,
                f"counter {sealed.counter} seen or more than {self.window} below {highest}",
            )

    def admit(self, sealed: SealedReading) -> None:
        """Check the counter and, if new, remember it as accepted."""
        self.check(sealed)
        self._mark((sealed.device_id, sealed.key_id), sealed.counter)

    def _mark(self, slot: tuple[str, int], counter: int) -> None:
        state = self._slots.get(slot)
        if state is None:
            self._slots[slot] = _Window(counter, 1)
            return
        ahead = counter - state.highest
        if ahead > 0:
            # Checked before shifting: a jump of 2**63 must not build a 2**63-bit integer.
            state.seen = ((state.seen << ahead) | 1) & self._mask if ahead < self.window else 1
            state.highest = counter
        elif -ahead < self.window:
            state.seen |= 1 << -ahead
        # else: below the window, where everything counts as seen already

    def forget(self, device_id: str, key_id: int) -> None:
        """Drop the state of a key that can no longer be used (revoked or past its grace)."""
        self._slots.pop((device_id, key_id), None)
