"""Every official known-answer vector, both directions, plus tampering, for the Ascon members."""

from __future__ import annotations

from pathlib import Path

import pytest

from emsync.telemetry import aead
from emsync.telemetry.aead import AeadError, Algorithm
from tests.shared_data import shared_data_dir
from tests.unit.telemetry.builders import KAT_FILES, KatVector, load_kat

VECTORS_PER_FILE = 1089


def _vectors(alg: Algorithm) -> list[KatVector]:
    path: Path = shared_data_dir() / "ascon" / KAT_FILES[alg]
    vectors = load_kat(path)
    assert len(vectors) == VECTORS_PER_FILE
    return vectors


ALGORITHMS = pytest.mark.parametrize("alg", list(KAT_FILES), ids=lambda a: a.name)


# One test per file and direction, listing every failing Count, keeps the 6,534 checks fast.
@ALGORITHMS
def test_encrypt_matches_every_known_answer(alg: Algorithm) -> None:
    failed = [
        v.count
        for v in _vectors(alg)
        if aead.seal(alg, v.key, v.nonce, v.ad, v.plaintext) != v.ciphertext
    ]
    assert failed == []


@ALGORITHMS
def test_decrypt_matches_every_known_answer(alg: Algorithm) -> None:
    failed = [
        v.count
        for v in _vectors(alg)
        if aead.open(alg, v.key, v.nonce, v.ad, v.ciphertext) != v.plaintext
    ]
    assert failed == []


def _rejected(alg: Algorithm, v: KatVector, *, ad: bytes, sealed: bytes) -> bool:
    try:
        aead.open(alg, v.key, v.nonce, ad, sealed)
    except AeadError:
        return True
    return False


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


@ALGORITHMS
def test_flipped_tag_bit_is_rejected_for_every_vector(alg: Algorithm) -> None:
    accepted = [
        v.count
        for v in _vectors(alg)
        if not _rejected(alg, v, ad=v.ad, sealed=_flip(v.ciphertext, -1 - v.count % 16))
    ]
    assert accepted == []


@ALGORITHMS
def test_flipped_ciphertext_bit_is_rejected_for_every_vector(alg: Algorithm) -> None:
    tampered = [v for v in _vectors(alg) if v.plaintext]
    accepted = [
        v.count
        for v in tampered
        if not _rejected(alg, v, ad=v.ad, sealed=_flip(v.ciphertext, v.count % len(v.plaintext)))
    ]
    assert len(tampered) == VECTORS_PER_FILE - 33  # 33 vectors per file have an empty plaintext
    assert accepted == []


@ALGORITHMS
def test_changed_associated_data_is_rejected(alg: Algorithm) -> None:
    accepted = [
        v.count
        for v in _vectors(alg)
        if not _rejected(alg, v, ad=v.ad + b"\x00", sealed=v.ciphertext)
    ]
    assert accepted == []


@ALGORITHMS
def test_wrong_key_and_nonce_are_rejected(alg: Algorithm) -> None:
    v = _vectors(alg)[500]
    with pytest.raises(AeadError):
        aead.open(alg, _flip(v.key, 0), v.nonce, v.ad, v.ciphertext)
    with pytest.raises(AeadError):
        aead.open(alg, v.key, _flip(v.nonce, 15), v.ad, v.ciphertext)


def test_the_three_members_disagree_on_the_same_input() -> None:
    # Guards against two algorithm ids silently dispatching to the same implementation.
    key, nonce = bytes(range(16)), bytes(range(16, 32))
    outputs = {alg: aead.seal(alg, key, nonce, b"ad", b"plaintext") for alg in KAT_FILES}
    assert len(set(outputs.values())) == 3
