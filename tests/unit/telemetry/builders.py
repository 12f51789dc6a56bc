"""Small builders shared by the telemetry unit tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emsync.telemetry import aead, envelope
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.envelope import Kind

KAT_FILES = {
    Algorithm.ASCON_AEAD128: "asconaead128_LWC_AEAD_KAT_128_128.txt",
    Algorithm.ASCON_128: "ascon128v12_LWC_AEAD_KAT_128_128.txt",
    Algorithm.ASCON_128A: "ascon128av12_LWC_AEAD_KAT_128_128.txt",
}


@dataclass(frozen=True, slots=True)
class KatVector:
    count: int
    key: bytes
    nonce: bytes
    plaintext: bytes
    ad: bytes
    ciphertext: bytes  # ciphertext followed by the tag, as the KAT files write it


def load_kat(path: Path) -> list[KatVector]:
    vectors = []
    for block in path.read_text().strip().split("\n\n"):
        fields = {}
        for line in block.splitlines():
            name, _, value = line.partition("=")
            fields[name.strip()] = value.strip()
        vectors.append(
            KatVector(
                count=int(fields["Count"]),
                key=bytes.fromhex(fields["Key"]),
                nonce=bytes.fromhex(fields["Nonce"]),
                plaintext=bytes.fromhex(fields["PT"]),
                ad=bytes.fromhex(fields["AD"]),
                ciphertext=bytes.fromhex(fields["CT"]),
            )
        )
    return vectors


def key_for(alg: Algorithm, fill: int = 7) -> bytes:
    return bytes([fill]) * aead.spec(alg).key_length


def vitals_json(**fields: Any) -> bytes:
    body: dict[str, Any] = {"ts": "2025-03-01T12:00:00+01:00", **fields}
    return json.dumps(body).encode()


def sealed_payload(
    *,
    device_id: str = "monitor-7",
    kind: Kind = Kind.VITALS,
    alg: Algorithm = Algorithm.ASCON_AEAD128,
    key: bytes | None = None,
    key_id: int = 3,
    counter: int = 1,
    plaintext: bytes | None = None,
) -> tuple[str, bytes]:
    topic = envelope.topic_for(device_id, kind)
    payload = envelope.seal(
        topic=topic,
        algorithm=alg,
        key=key if key is not None else key_for(alg),
        key_id=key_id,
        counter=counter,
        plaintext=plaintext if plaintext is not None else vitals_json(hr=75, spo2=96),
    )
    return topic, payload
