"""AEAD and envelope micro-benchmark: prints one JSON line.

    .venv/bin/python bench/aead.py

Figures are microseconds per call (median of `REPEAT` timing runs of `NUMBER` calls each) to open
a 100-byte message, next to cryptography's AES-256-GCM measured in the same run as the baseline.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import threading
import time
import timeit
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emsync.telemetry import _ascon, aead, envelope
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.envelope import Kind
from emsync.telemetry.readings import parse_readings

NUMBER = 20_000
REPEAT = 25
MESSAGE = 100
TARGET_US = 5.0
TOPIC = envelope.topic_for("monitor-0042", Kind.VITALS)
AD = bytes(12) + TOPIC.encode()  # the envelope's associated data has this shape
NAMES = {
    Algorithm.ASCON_AEAD128: "ascon_aead128",
    Algorithm.ASCON_128: "ascon_128",
    Algorithm.ASCON_128A: "ascon_128a",
    Algorithm.AES_256_GCM: "aes_256_gcm",
}


def per_call_us(stmt: str, namespace: dict[str, Any]) -> float:
    runs = timeit.Timer(stmt, globals=namespace).repeat(repeat=REPEAT, number=NUMBER)
    return statistics.median(runs) / NUMBER * 1e6


def key_nonce(alg: Algorithm) -> tuple[bytes, bytes]:
    spec = aead.spec(alg)
    return os.urandom(spec.key_length), os.urandom(spec.nonce_length)


def aead_figures() -> dict[str, dict[str, float]]:
    plaintext = os.urandom(MESSAGE)
    opened, sealed_us = {}, {}
    for alg, name in NAMES.items():
        key, nonce = key_nonce(alg)
        ns = {"aead": aead, "alg": alg, "k": key, "n": nonce, "ad": AD, "p": plaintext}
        ns["c"] = aead.seal(alg, key, nonce, AD, plaintext)
        opened[name] = per_call_us("aead.open(alg, k, n, ad, c)", ns)
        sealed_us[name] = per_call_us("aead.seal(alg, k, n, ad, p)", ns)
    return {"open_us": opened, "seal_us": sealed_us}


def baseline_us() -> float:
    key, nonce = key_nonce(Algorithm.AES_256_GCM)
    cipher = AESGCM(key)
    ns = {"g": cipher, "n": nonce, "ad": AD, "c": cipher.encrypt(nonce, os.urandom(MESSAGE), AD)}
    return per_call_us("g.decrypt(n, c, ad)", ns)


def raw_extension_us() -> float:
    key, nonce = key_nonce(Algorithm.ASCON_AEAD128)
    ns = {"d": _ascon.aead128_decrypt, "k": key, "n": nonce, "ad": AD}
    ns["c"] = _ascon.aead128_encrypt(key, nonce, AD, os.urandom(MESSAGE))
    return per_call_us("d(k, n, ad, c)", ns)


def envelope_figures() -> dict[str, float]:
    key = os.urandom(16)
    vitals = b'{"ts":"2025-03-01T12:00:00.000+01:00","hr":75,"spo2":96,"rr":16,"sbp":120,"dbp":80}'
    vitals += b" " * (MESSAGE - len(vitals))
    payload = envelope.seal(
        topic=TOPIC,
        algorithm=Algorithm.ASCON_AEAD128,
        key=key,
        key_id=1,
        counter=1,
        plaintext=vitals,
    )
    ns = {
        "parse": envelope.parse,
        "open_envelope": envelope.open_envelope,
        "parse_readings": parse_readings,
        "t": TOPIC,
        "p": payload,
        "k": key,
        "VITALS": Kind.VITALS,
    }
    return {
        "envelope_parse_open_us": per_call_us("open_envelope(parse(t, p), k)", ns),
        "envelope_parse_open_readings_us": per_call_us(
            "parse_readings(VITALS, open_envelope(parse(t, p), k))", ns
        ),
    }


def threads_speedup(work: Callable[[], object], calls: int) -> float:
    """Throughput of two threads over one; about 2 on two cores only if the GIL is released."""

    def run(threads: int) -> float:
        workers = [
            threading.Thread(target=lambda: [work() for _ in range(calls)]) for _ in range(threads)
        ]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return threads * calls / (time.perf_counter() - start)

    return statistics.median(run(2) / run(1) for _ in range(3))


def gil_figures() -> dict[str, float]:
    key, nonce = key_nonce(Algorithm.ASCON_AEAD128)
    bulk = _ascon.aead128_encrypt(key, nonce, b"", os.urandom(256 * 1024))
    small = _ascon.aead128_encrypt(key, nonce, AD, os.urandom(MESSAGE))
    return {
        "two_thread_speedup_open_256KiB": threads_speedup(
            lambda: _ascon.aead128_decrypt(key, nonce, b"", bulk), 200
        ),
        "two_thread_speedup_open_100B": threads_speedup(
            lambda: _ascon.aead128_decrypt(key, nonce, AD, small), 100_000
        ),
    }


def main() -> None:
    figures = aead_figures()
    baseline = baseline_us()
    ascon = figures["open_us"]["ascon_aead128"]
    result = {
        "bench": "aead",
        "message_bytes": MESSAGE,
        **figures,
        "baseline_cryptography_aesgcm_open_us": baseline,
        "ascon_aead128_open_over_baseline": ascon / baseline,
        "extension_only_ascon_aead128_open_us": raw_extension_us(),
        **envelope_figures(),
        **gil_figures(),
        "target_ascon_aead128_open_us": TARGET_US,
        "meets_target": ascon <= TARGET_US,
        "runs": f"median of {REPEAT} x {NUMBER} calls",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(_rounded(result)))


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 3) if isinstance(value, float) else value


if __name__ == "__main__":
    main()
