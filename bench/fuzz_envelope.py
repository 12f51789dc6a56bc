"""Coverage-guided fuzzing of the whole receive path with atheris (optional dev tool).

    .venv/bin/python bench/fuzz_envelope.py -atheris_runs=200000
    .venv/bin/python bench/fuzz_envelope.py -max_total_time=600 corpus_dir/

Contract under test: parse → open_envelope → parse_readings either succeeds or raises
EnvelopeRejected; any other exception is a crash that atheris reports with the input.
Half the inputs are sealed with a known key first, so the fuzzer also explores the readings
parser behind the tag, which random bytes would never get past.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from emsync.telemetry import envelope
    from emsync.telemetry.aead import Algorithm
    from emsync.telemetry.envelope import EnvelopeRejected, Kind
    from emsync.telemetry.readings import parse_readings

KINDS = list(Kind)
WIRE = sorted(envelope.WIRE_ALGORITHMS)
KEYS = {alg: bytes(range(32 if alg is Algorithm.AES_256_GCM else 16)) for alg in WIRE}


def receive(topic: str, payload: bytes, key: bytes) -> None:
    try:
        sealed = envelope.parse(topic, payload)
        parse_readings(sealed.kind, envelope.open_envelope(sealed, key))
    except EnvelopeRejected:
        pass


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 3)
    kind = KINDS[fdp.ConsumeIntInRange(0, len(KINDS) - 1)]
    alg = WIRE[fdp.ConsumeIntInRange(0, len(WIRE) - 1)]
    if mode == 0:  # arbitrary topic and payload
        topic = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 90))
        receive(topic, fdp.ConsumeBytes(fdp.remaining_bytes()), KEYS[alg])
        return
    topic = envelope.topic_for("dev-1", kind)
    if mode == 1:  # a well-formed topic, arbitrary payload
        receive(topic, fdp.ConsumeBytes(fdp.remaining_bytes()), KEYS[alg])
        return
    counter = fdp.ConsumeIntInRange(0, 2**64 - 1)
    plaintext = fdp.ConsumeBytes(fdp.remaining_bytes())
    payload = envelope.seal(
        topic=topic, algorithm=alg, key=KEYS[alg], key_id=1, counter=counter, plaintext=plaintext
    )
    if mode == 2:  # authentic message, arbitrary plaintext
        receive(topic, payload, KEYS[alg])
    else:  # authentic message, one byte corrupted
        index = counter % len(payload)
        corrupted = payload[:index] + bytes([payload[index] ^ 0x5A]) + payload[index + 1 :]
        receive(topic, corrupted, KEYS[alg])


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
