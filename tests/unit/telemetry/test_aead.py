"""The AEAD interface: AES-256-GCM, lengths, types and the single exception type."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from emsync.telemetry import aead
from emsync.telemetry.aead import AeadError, Algorithm
from tests.unit.telemetry.builders import key_for

ALL = list(Algorithm)


def _nonce(alg: Algorithm) -> bytes:
    return bytes(range(aead.spec(alg).nonce_length))


def test_aes_gcm_round_trip_interoperates_with_cryptography() -> None:
    key, nonce = key_for(Algorithm.AES_256_GCM), _nonce(Algorithm.AES_256_GCM)
    sealed = aead.seal(Algorithm.AES_256_GCM, key, nonce, b"header", b"hr=75")
    assert sealed == AESGCM(key).encrypt(nonce, b"hr=75", b"header")
    assert aead.open(Algorithm.AES_256_GCM, key, nonce, b"header", sealed) == b"hr=75"


@pytest.mark.parametrize("alg", ALL, ids=lambda a: a.name)
@given(ad=st.binary(max_size=64), plaintext=st.binary(max_size=300))
@settings(max_examples=50)
def test_round_trip_adds_exactly_one_tag(alg: Algorithm, ad: bytes, plaintext: bytes) -> None:
    key, nonce = key_for(alg), _nonce(alg)
    sealed = aead.seal(alg, key, nonce, ad, plaintext)
    assert len(sealed) == len(plaintext) + aead.TAG_LENGTH
    assert aead.open(alg, key, nonce, ad, sealed) == plaintext


@pytest.mark.parametrize("alg", ALL, ids=lambda a: a.name)
def test_bulk_message_round_trips_and_tamper_is_caught(alg: Algorithm) -> None:
    # Large enough that the C extension releases the GIL.
    key, nonce, plaintext = key_for(alg), _nonce(alg), bytes(range(256)) * 1024
    sealed = aead.seal(alg, key, nonce, b"", plaintext)
    assert aead.open(alg, key, nonce, b"", sealed) == plaintext
    with pytest.raises(AeadError, match="tag"):
        aead.open(alg, key, nonce, b"", sealed[:1000] + b"\xff" + sealed[1001:])


@pytest.mark.parametrize("alg", ALL, ids=lambda a: a.name)
def test_buffers_other_than_bytes_are_accepted(alg: Algorithm) -> None:
    key, nonce = key_for(alg), _nonce(alg)
    sealed = aead.seal(alg, bytearray(key), memoryview(nonce), bytearray(b"ad"), b"x")  # type: ignore[arg-type]
    assert aead.open(alg, key, nonce, memoryview(b"ad"), bytearray(sealed)) == b"x"  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", ALL, ids=lambda a: a.name)
@pytest.mark.parametrize("delta", [-1, 1])
def test_wrong_key_length_raises_aead_error(alg: Algorithm, delta: int) -> None:
    key = bytes(aead.spec(alg).key_length + delta)
    with pytest.raises(AeadError, match="key"):
        aead.seal(alg, key, _nonce(alg), b"", b"x")
    with pytest.raises(AeadError, match="key"):
        aead.open(alg, key, _nonce(alg), b"", bytes(20))


@pytest.mark.parametrize("alg", ALL, ids=lambda a: a.name)
@pytest.mark.parametrize("delta", [-1, 1])
def test_wrong_nonce_length_raises_aead_error(alg: Algorithm, delta: int) -> None:
    nonce = bytes(aead.spec(alg).nonce_length + delta)
    with pytest.raises(AeadError, match="nonce"):
        aead.seal(alg, key_for(alg), nonce, b"", b"x")
    with pytest.raises(AeadError, match="nonce"):
        aead.open(alg, key_for(alg), nonce, b"", bytes(20))


@pytest.mark.parametrize("alg", ALL, ids=lambda a: a.name)
@pytest.mark.parametrize("length", range(aead.TAG_LENGTH))
def test_input_shorter_than_a_tag_raises_aead_error(alg: Algorithm, length: int) -> None:
    with pytest.raises(AeadError):
        aead.open(alg, key_for(alg), _nonce(alg), b"", bytes(length))


@pytest.mark.parametrize("alg", ALL, ids=lambda a: a.name)
def test_truncated_message_raises_aead_error(alg: Algorithm) -> None:
    key, nonce = key_for(alg), _nonce(alg)
    sealed = aead.seal(alg, key, nonce, b"", b"a reading of some length")
    for cut in range(1, len(sealed)):
        with pytest.raises(AeadError):
            aead.open(alg, key, nonce, b"", sealed[:cut])


@pytest.mark.parametrize("alg", ALL, ids=lambda a: a.name)
def test_key_of_another_device_raises_aead_error(alg: Algorithm) -> None:
    sealed = aead.seal(alg, key_for(alg, 1), _nonce(alg), b"", b"x")
    with pytest.raises(AeadError, match="tag"):
        aead.open(alg, key_for(alg, 2), _nonce(alg), b"", sealed)


@pytest.mark.parametrize("alg", [0, 4, 255, -1, 2**70, "1", None, 1.0 + 0.5])
def test_unknown_algorithm_raises_aead_error(alg: Any) -> None:
    with pytest.raises(AeadError, match="unknown"):
        aead.seal(alg, bytes(16), bytes(16), b"", b"")
    with pytest.raises(AeadError, match="unknown"):
        aead.open(alg, bytes(16), bytes(16), b"", bytes(16))
    with pytest.raises(AeadError, match="unknown"):
        aead.spec(alg)


@pytest.mark.parametrize("alg", ALL, ids=lambda a: a.name)
@pytest.mark.parametrize("position", range(4))
@pytest.mark.parametrize("bad", [None, "text", 12, [1, 2]])
def test_wrong_argument_type_raises_aead_error(alg: Algorithm, position: int, bad: Any) -> None:
    args: list[Any] = [key_for(alg), _nonce(alg), b"", bytes(32)]
    args[position] = bad
    with pytest.raises(AeadError):
        aead.open(alg, *args)
    with pytest.raises(AeadError):
        aead.seal(alg, *args)


@pytest.mark.parametrize("alg", ALL, ids=lambda a: a.name)
@pytest.mark.parametrize("position", range(4))
def test_non_contiguous_buffer_raises_aead_error(alg: Algorithm, position: int) -> None:
    args: list[Any] = [key_for(alg), _nonce(alg), b"ad", bytes(32)]
    args[position] = memoryview(bytes(2 * len(args[position]) or 2))[::2]
    # Contiguity is the C extension's requirement; either outcome is fine, BufferError is not.
    with contextlib.suppress(AeadError):
        aead.open(alg, *args)
    with contextlib.suppress(AeadError):
        aead.seal(alg, *args)


def test_aead_error_is_a_value_error() -> None:
    assert issubclass(AeadError, ValueError)


def test_algorithm_values_are_the_envelope_bytes() -> None:
    assert (Algorithm.ASCON_AEAD128, Algorithm.ASCON_128, Algorithm.AES_256_GCM) == (1, 2, 3)
    assert Algorithm.ASCON_128A > 0x7F
