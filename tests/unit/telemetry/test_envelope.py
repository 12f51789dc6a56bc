"""The sealed envelope of DESIGN.md §3.1: layout, binding of header and topic, replay, fuzz."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emsync.telemetry import envelope
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.envelope import (
    EnvelopeRejected,
    Kind,
    Reason,
    ReplayGuard,
    SealedReading,
    open_envelope,
    parse,
)
from emsync.telemetry.readings import parse_readings
from tests.unit.telemetry.builders import key_for, sealed_payload, vitals_json

WIRE = [Algorithm.ASCON_AEAD128, Algorithm.ASCON_128, Algorithm.AES_256_GCM]
NONCE_LENGTH = {Algorithm.ASCON_AEAD128: 16, Algorithm.ASCON_128: 16, Algorithm.AES_256_GCM: 12}
wire_algorithms = pytest.mark.parametrize("alg", WIRE, ids=lambda a: a.name)


def _reason(topic: str, payload: bytes, key: bytes) -> Reason:
    with pytest.raises(EnvelopeRejected) as caught:
        open_envelope(parse(topic, payload), key)
    return caught.value.reason


def _flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    out = bytearray(data)
    out[index] ^= mask
    return bytes(out)


@wire_algorithms
@pytest.mark.parametrize("kind", list(Kind))
def test_sealed_message_opens_to_its_plaintext(alg: Algorithm, kind: Kind) -> None:
    topic, payload = sealed_payload(alg=alg, kind=kind, key_id=0x0102, counter=2**40 + 5)
    sealed = parse(topic, payload)
    assert (sealed.device_id, sealed.kind, sealed.algorithm) == ("monitor-7", kind, alg)
    assert (sealed.key_id, sealed.counter) == (0x0102, 2**40 + 5)
    assert open_envelope(sealed, key_for(alg)) == vitals_json(hr=75, spo2=96)


@wire_algorithms
def test_layout_is_exactly_the_documented_one(alg: Algorithm) -> None:
    key, nonce = key_for(alg), bytes(range(NONCE_LENGTH[alg]))
    topic = "emsync/v1/devices/amb-12/position"
    payload = envelope.seal(
        topic=topic, algorithm=alg, key=key, key_id=513, counter=7, plaintext=b"{}", nonce=nonce
    )
    header = bytes([1, alg]) + (513).to_bytes(2, "big") + (7).to_bytes(8, "big")
    assert payload[:12] == header
    assert payload[12 : 12 + len(nonce)] == nonce
    assert len(payload) == 12 + len(nonce) + 2 + 16
    assert parse(topic, payload).associated_data == header + topic.encode()


@wire_algorithms
def test_every_header_and_nonce_byte_is_authenticated(alg: Algorithm) -> None:
    topic, payload = sealed_payload(alg=alg)
    key = key_for(alg)
    for index in range(12 + NONCE_LENGTH[alg]):
        for mask in (0x01, 0x80, 0xFF):
            with pytest.raises(EnvelopeRejected):
                open_envelope(parse(topic, _flip(payload, index, mask)), key)


@wire_algorithms
def test_header_tamper_reasons(alg: Algorithm) -> None:
    topic, payload = sealed_payload(alg=alg)
    key = key_for(alg)
    assert _reason(topic, _flip(payload, 0), key) is Reason.BAD_VERSION
    assert _reason(topic, payload[:1] + b"\x09" + payload[2:], key) is Reason.UNKNOWN_ALGORITHM
    for index in range(2, 12 + NONCE_LENGTH[alg]):  # key id, counter, nonce
        assert _reason(topic, _flip(payload, index), key) is Reason.BAD_TAG


@wire_algorithms
def test_algorithm_byte_swapped_to_another_algorithm_is_refused(alg: Algorithm) -> None:
    topic, payload = sealed_payload(alg=alg)
    for other in WIRE:
        if other is not alg:
            forged = payload[:1] + bytes([other]) + payload[2:]
            assert _reason(topic, forged, key_for(alg)) in {Reason.BAD_TAG, Reason.KEY_MISMATCH}
            assert _reason(topic, forged, key_for(other)) is Reason.BAD_TAG


@wire_algorithms
def test_ciphertext_and_tag_tamper_is_refused(alg: Algorithm) -> None:
    topic, payload = sealed_payload(alg=alg)
    for index in range(12 + NONCE_LENGTH[alg], len(payload)):
        assert _reason(topic, _flip(payload, index), key_for(alg)) is Reason.BAD_TAG


@wire_algorithms
def test_message_moved_to_another_devices_topic_is_refused(alg: Algorithm) -> None:
    # Even when both devices share a key the topic in the AD ties the message to its sender.
    _, payload = sealed_payload(alg=alg, device_id="monitor-7")
    other = envelope.topic_for("monitor-8", Kind.VITALS)
    assert _reason(other, payload, key_for(alg)) is Reason.BAD_TAG


def test_message_moved_to_another_kind_is_refused() -> None:
    _, payload = sealed_payload(kind=Kind.VITALS)
    topic = envelope.topic_for("monitor-7", Kind.POSITION)
    assert _reason(topic, payload, key_for(Algorithm.ASCON_AEAD128)) is Reason.BAD_TAG


def test_wrong_device_key_is_refused() -> None:
    topic, payload = sealed_payload(key=key_for(Algorithm.ASCON_AEAD128, 1))
    assert _reason(topic, payload, key_for(Algorithm.ASCON_AEAD128, 2)) is Reason.BAD_TAG


def test_key_of_the_wrong_algorithm_is_a_key_mismatch() -> None:
    topic, payload = sealed_payload(alg=Algorithm.ASCON_AEAD128)
    assert _reason(topic, payload, key_for(Algorithm.AES_256_GCM)) is Reason.KEY_MISMATCH


@wire_algorithms
def test_every_truncation_is_refused(alg: Algorithm) -> None:
    topic, payload = sealed_payload(alg=alg)
    minimum = 12 + NONCE_LENGTH[alg] + 16
    for cut in range(len(payload)):
        with pytest.raises(EnvelopeRejected) as caught:
            open_envelope(parse(topic, payload[:cut]), key_for(alg))
        expected = {Reason.TRUNCATED} if cut < minimum else {Reason.BAD_TAG}
        assert caught.value.reason in expected


def test_empty_plaintext_still_carries_a_tag() -> None:
    topic, payload = sealed_payload(plaintext=b"")
    assert open_envelope(parse(topic, payload), key_for(Algorithm.ASCON_AEAD128)) == b""


def test_oversized_payload_is_refused_before_any_work() -> None:
    topic = envelope.topic_for("monitor-7", Kind.VITALS)
    with pytest.raises(EnvelopeRejected) as caught:
        parse(topic, b"\x01\x01" + bytes(envelope.MAX_PAYLOAD_LENGTH))
    assert caught.value.reason is Reason.TOO_LARGE


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "emsync/v1/devices/monitor-7",
        "emsync/v1/devices/monitor-7/vitals/extra",
        "emsync/v1/devices//vitals",
        "emsync/v1/devices/monitor-7/temperature",
        "emsync/v1/devices/monitor-7/Vitals",
        "emsync/v2/devices/monitor-7/vitals",
        "/emsync/v1/devices/monitor-7/vitals",
        "emsync/v1/devices/monitor-7/vitals\n",
        "emsync/v1/devices/monitor 7/vitals",
        "emsync/v1/devices/monitor.7/vitals",
        "emsync/v1/devices/+/vitals",
        "emsync/v1/devices/#",
        "emsync/v1/devices/mönitor/vitals",
        "emsync/v1/devices/monitor\u0663/vitals",  # an Arabic-Indic digit
        "emsync/v1/devices/\ud800/vitals",
        "emsync/v1/devices/" + "a" * 65 + "/vitals",
    ],
)
def test_malformed_topic_is_refused(topic: str) -> None:
    _, payload = sealed_payload()
    with pytest.raises(EnvelopeRejected) as caught:
        parse(topic, payload)
    assert caught.value.reason is Reason.BAD_TOPIC


def test_longest_device_id_is_accepted() -> None:
    topic, payload = sealed_payload(device_id="A-z_9" * 12 + "abcd")
    assert parse(topic, payload).device_id == "A-z_9" * 12 + "abcd"


@pytest.mark.parametrize("version", [0, 2, 255])
def test_other_versions_are_refused(version: int) -> None:
    topic, payload = sealed_payload()
    with pytest.raises(EnvelopeRejected) as caught:
        parse(topic, bytes([version]) + payload[1:])
    assert caught.value.reason is Reason.BAD_VERSION


@pytest.mark.parametrize("alg", [0, 4, 0x80, 255])
def test_algorithms_outside_the_wire_set_are_refused(alg: int) -> None:
    topic, payload = sealed_payload()
    with pytest.raises(EnvelopeRejected) as caught:
        parse(topic, payload[:1] + bytes([alg]) + payload[2:])
    assert caught.value.reason is Reason.UNKNOWN_ALGORITHM


def test_seal_refuses_what_no_receiver_would_accept() -> None:
    key = key_for(Algorithm.ASCON_AEAD128)
    good = {"topic": envelope.topic_for("d", Kind.VITALS), "key": key, "plaintext": b"{}"}
    with pytest.raises(ValueError, match="envelope"):
        envelope.seal(**good, algorithm=Algorithm.ASCON_128A, key_id=0, counter=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="key_id"):
        envelope.seal(**good, algorithm=Algorithm.ASCON_AEAD128, key_id=2**16, counter=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="counter"):
        envelope.seal(**good, algorithm=Algorithm.ASCON_AEAD128, key_id=0, counter=-1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nonce"):
        envelope.seal(**good, algorithm=Algorithm.ASCON_AEAD128, key_id=0, counter=0, nonce=b"")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="device id"):
        envelope.topic_for("no/slashes", Kind.VITALS)


def test_random_nonces_differ_between_messages() -> None:
    _, first = sealed_payload(counter=1)
    _, second = sealed_payload(counter=1)
    assert first[12:28] != second[12:28]


# ---------------------------------------------------------------------------- replay


def _sealed(counter: int, *, device_id: str = "monitor-7", key_id: int = 3) -> SealedReading:
    topic, payload = sealed_payload(device_id=device_id, key_id=key_id, counter=counter)
    return parse(topic, payload)


def _refused(
    guard: ReplayGuard, counter: int, *, device_id: str = "monitor-7", key_id: int = 3
) -> bool:
    """Whether `admit` refuses `counter` as a replay (and `accepts` agrees); else admits it."""
    sealed = _sealed(counter, device_id=device_id, key_id=key_id)
    if guard.accepts(device_id, key_id, counter):
        guard.admit(sealed)
        return False
    with pytest.raises(EnvelopeRejected) as caught:
        guard.admit(sealed)
    assert caught.value.reason is Reason.REPLAYED
    return True


def test_counters_in_order_are_accepted() -> None:
    guard = ReplayGuard()
    assert not any(_refused(guard, c) for c in range(1, 200))
    assert guard.highest("monitor-7", 3) == 199


def test_queued_counters_arriving_after_a_newer_one_are_accepted() -> None:
    # paho 2.2 after a reconnect: 149 (published once reconnected) before 77..148 (queued).
    guard = ReplayGuard()
    assert not any(_refused(guard, c) for c in [*range(1, 77), 149, *range(77, 149), 150])
    assert guard.highest("monitor-7", 3) == 150


def test_a_counter_seen_within_the_window_is_refused() -> None:
    guard = ReplayGuard()
    for counter in (10, 12, 11):
        guard.admit(_sealed(counter))
    assert _refused(guard, 11)
    assert _refused(guard, 12)
    assert _refused(guard, 10)
    assert not _refused(guard, 9)  # never seen, within the window
    assert guard.highest("monitor-7", 3) == 12


def test_a_counter_below_the_window_is_refused_and_changes_nothing() -> None:
    guard = ReplayGuard(window=8)
    guard.admit(_sealed(100))
    assert _refused(guard, 92)  # 8 below: outside a window of 8
    assert _refused(guard, 0)
    assert guard.highest("monitor-7", 3) == 100
    assert not _refused(guard, 93)  # the oldest the window holds


def test_the_window_slides_with_the_highest_counter() -> None:
    guard = ReplayGuard(window=8)
    for counter in (1, 3):
        guard.admit(_sealed(counter))
    guard.admit(_sealed(9))  # 1 is now 8 below: out of the window, 3 still in it
    assert _refused(guard, 3)
    assert not _refused(guard, 2)
    guard.admit(_sealed(30))  # a jump larger than the window forgets all of it
    assert _refused(guard, 22)
    assert not _refused(guard, 23)
    assert _refused(guard, 23)


def test_counters_may_skip_up_to_the_largest() -> None:
    guard = ReplayGuard()
    for counter in (0, 1, 5, 2**64 - 1):  # a jump of 2**64 must not build a huge bitmap
        guard.admit(_sealed(counter))
    assert guard.highest("monitor-7", 3) == 2**64 - 1
    assert _refused(guard, 5)
    assert not _refused(guard, 2**64 - 2)


def test_counter_windows_are_per_device_and_key_id() -> None:
    guard = ReplayGuard()
    guard.admit(_sealed(10))
    guard.admit(_sealed(10, device_id="monitor-8"))
    guard.admit(_sealed(10, key_id=4))  # a rotated key starts its own sequence
    assert guard.highest("monitor-7", 4) == 10
    assert _refused(guard, 10, key_id=4)


def test_guard_resumes_from_the_stored_counters_across_a_restart() -> None:
    # Stored before the restart: 1..76 and 149 (the queued 77..148 had not arrived yet).
    guard = ReplayGuard({("monitor-7", 3): [*range(1, 77), 149]})
    assert guard.highest("monitor-7", 3) == 149
    assert _refused(guard, 149)
    assert _refused(guard, 40)
    assert not any(_refused(guard, c) for c in range(77, 149))
    assert not _refused(guard, 150)
    assert _refused(guard, 100)


def test_seeded_counters_may_come_in_any_order_and_beyond_the_window() -> None:
    guard = ReplayGuard({("monitor-7", 3): [7, 100, 3, 99]}, window=8)
    assert guard.highest("monitor-7", 3) == 100
    assert _refused(guard, 99)
    assert _refused(guard, 7)  # below the window
    assert not _refused(guard, 98)


def test_forget_drops_a_key() -> None:
    guard = ReplayGuard({("monitor-7", 3): [41]})
    guard.forget("monitor-7", 3)
    assert guard.highest("monitor-7", 3) is None


def test_check_alone_does_not_record() -> None:
    guard = ReplayGuard()
    guard.check(_sealed(5))
    guard.check(_sealed(5))
    assert guard.highest("monitor-7", 3) is None


@pytest.mark.parametrize("window", [0, 65_537])
def test_window_size_is_bounded(window: int) -> None:
    with pytest.raises(ValueError, match="window"):
        ReplayGuard(window=window)


@given(
    st.integers(min_value=1, max_value=16),
    st.lists(st.integers(min_value=0, max_value=60), max_size=60),
)
def test_guard_accepts_each_counter_once_within_the_window(
    window: int, counters: list[int]
) -> None:
    # The model: a counter is accepted if never accepted and above (highest - window).
    guard = ReplayGuard(window=window)
    accepted: set[int] = set()
    for counter in counters:
        expected = counter not in accepted and (not accepted or counter > max(accepted) - window)
        assert _refused(guard, counter) is not expected, (counter, sorted(accepted))
        if expected:
            accepted.add(counter)


# ------------------------------------------------------------------ properties, fuzz

device_ids = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
    min_size=1,
    max_size=64,
)


@given(
    alg=st.sampled_from(WIRE),
    device_id=device_ids,
    kind=st.sampled_from(list(Kind)),
    key_id=st.integers(0, 2**16 - 1),
    counter=st.integers(0, 2**64 - 1),
    plaintext=st.binary(max_size=2000),
    key_fill=st.integers(0, 255),
)
def test_seal_then_parse_and_open_is_the_identity(
    alg: Algorithm,
    device_id: str,
    kind: Kind,
    key_id: int,
    counter: int,
    plaintext: bytes,
    key_fill: int,
) -> None:
    key = key_for(alg, key_fill)
    topic, payload = sealed_payload(
        alg=alg,
        device_id=device_id,
        kind=kind,
        key=key,
        key_id=key_id,
        counter=counter,
        plaintext=plaintext,
    )
    sealed = parse(topic, payload)
    assert (sealed.device_id, sealed.kind, sealed.key_id, sealed.counter) == (
        device_id,
        kind,
        key_id,
        counter,
    )
    assert open_envelope(sealed, key) == plaintext


@given(data=st.data(), alg=st.sampled_from(WIRE))
def test_any_single_byte_change_is_refused(data: st.DataObject, alg: Algorithm) -> None:
    topic, payload = sealed_payload(alg=alg)
    index = data.draw(st.integers(0, len(payload) - 1))
    mask = data.draw(st.integers(1, 255))
    with pytest.raises(EnvelopeRejected):
        open_envelope(parse(topic, _flip(payload, index, mask)), key_for(alg))


def _accepted_or_rejected(topic: str, payload: bytes, key: bytes) -> None:
    """The fuzz contract: the whole receive path either succeeds or raises EnvelopeRejected."""
    reason: object = None
    try:
        sealed = parse(topic, payload)
        plaintext = open_envelope(sealed, key)
        parse_readings(sealed.kind, plaintext)
    except EnvelopeRejected as exc:
        reason = exc.reason
    assert reason is None or isinstance(reason, Reason)


topics = st.one_of(
    st.text(max_size=100),
    st.builds(lambda d, k: f"emsync/v1/devices/{d}/{k}", device_ids, st.sampled_from(list(Kind))),
)
# Hypothesis costs about a millisecond per example here, so the default keeps the suite fast;
# EMSYNC_FUZZ_EXAMPLES=100000 runs a long campaign (bench/fuzz_envelope.py is coverage-guided).
FUZZ_EXAMPLES = int(os.environ.get("EMSYNC_FUZZ_EXAMPLES", "600"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None
)


@FUZZ
@given(topic=topics, payload=st.binary(max_size=200), key_length=st.sampled_from([0, 16, 32]))
def test_fuzz_arbitrary_bytes_are_accepted_or_rejected(
    topic: str, payload: bytes, key_length: int
) -> None:
    _accepted_or_rejected(topic, payload, bytes(key_length))


@settings(FUZZ, max_examples=FUZZ_EXAMPLES // 2)
@given(
    alg=st.sampled_from([0, 1, 2, 3, 4, 255]),
    header=st.binary(min_size=10, max_size=10),
    rest=st.binary(max_size=120),
    key_length=st.sampled_from([16, 32]),
)
def test_fuzz_plausible_headers_are_accepted_or_rejected(
    alg: int, header: bytes, rest: bytes, key_length: int
) -> None:
    topic = envelope.topic_for("monitor-7", Kind.VITALS)
    _accepted_or_rejected(topic, bytes([1, alg]) + header + rest, bytes(key_length))


@settings(FUZZ, max_examples=FUZZ_EXAMPLES // 2)
@given(plaintext=st.binary(max_size=300), kind=st.sampled_from(list(Kind)))
def test_fuzz_authentic_messages_with_arbitrary_plaintext(plaintext: bytes, kind: Kind) -> None:
    # Past the tag, the plaintext is whatever the device wrote: still only accept or reject.
    topic, payload = sealed_payload(kind=kind, plaintext=plaintext)
    _accepted_or_rejected(topic, payload, key_for(Algorithm.ASCON_AEAD128))


def test_rejection_carries_a_machine_readable_reason() -> None:
    with pytest.raises(EnvelopeRejected) as caught:
        parse("nope", b"")
    assert caught.value.reason == "bad_topic"
    assert isinstance(caught.value, ValueError)


def test_header_struct_matches_design() -> None:
    assert struct.calcsize(">BBHQ") == envelope.HEADER_LENGTH
