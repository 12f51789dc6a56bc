"""One small AEAD interface over Ascon (our C extension) and AES-256-GCM (`cryptography`).

Every failure — unknown algorithm, wrong key or nonce length, wrong type, truncated input, a tag
that does not verify — raises `AeadError` and nothing else, so callers handling untrusted device
input need exactly one `except`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emsync.telemetry import _ascon

__all__ = [
    "TAG_LENGTH",
    "AeadError",
    "Algorithm",
    "AlgorithmSpec",
    "open",
    "seal",
    "spec",
]

TAG_LENGTH = 16


class AeadError(ValueError):
    """The message cannot be sealed or opened: bad algorithm, key, nonce, input or tag."""


class Algorithm(IntEnum):
    """AEAD algorithms; the values 1-3 are the envelope's algorithm byte (DESIGN.md §3.1)."""

    ASCON_AEAD128 = 1  # NIST SP 800-232
    ASCON_128 = 2  # Ascon-128 v1.2, legacy devices
    AES_256_GCM = 3
    # Kept for its known-answer vectors and for completeness; outside the envelope's byte range
    # on purpose, so no device can select it.
    ASCON_128A = 0x80


@dataclass(frozen=True, slots=True)
class AlgorithmSpec:
    key_length: int
    nonce_length: int


_SPECS: dict[int, AlgorithmSpec] = {
    Algorithm.ASCON_AEAD128: AlgorithmSpec(key_length=16, nonce_length=16),
    Algorithm.ASCON_128: AlgorithmSpec(key_length=16, nonce_length=16),
    Algorithm.ASCON_128A: AlgorithmSpec(key_length=16, nonce_length=16),
    Algorithm.AES_256_GCM: AlgorithmSpec(key_length=32, nonce_length=12),
}


def spec(alg: int) -> AlgorithmSpec:
    """Key and nonce lengths of `alg`, or AeadError if it is not an algorithm we implement."""
    try:
        return _SPECS[alg]
    except (KeyError, TypeError):
        raise AeadError(f"unknown AEAD algorithm {alg!r}") from None


# AESGCM(key) expands the key schedule (about a microsecond); a device sends many messages under
# one key, so the expanded cipher is reused. Bounded, because keys rotate.
@functools.lru_cache(maxsize=4096)
def _aesgcm(key: bytes) -> AESGCM:
    return AESGCM(key)


def _aes_key(key: bytes) -> AESGCM:
    if len(key) != 32:
        raise AeadError(f"key must be 32 bytes, got {len(key)}")
    return _aesgcm(key if type(key) is bytes else bytes(key))


def _aes_nonce(nonce: bytes) -> bytes:
    if len(nonce) != 12:
        raise AeadError(f"nonce must be 12 bytes, got {len(nonce)}")
    return nonce


def _aes_seal(key: bytes, nonce: bytes, ad: bytes, plaintext: bytes) -> bytes:
    # memoryview refuses None, which AESGCM would quietly take as "no associated data".
    return _aes_key(key).encrypt(_aes_nonce(nonce), plaintext, memoryview(ad))


def _aes_open(key: bytes, nonce: bytes, ad: bytes, sealed: bytes) -> bytes:
    if len(sealed) < TAG_LENGTH:
        raise AeadError("ciphertext shorter than the tag")
    return _aes_key(key).decrypt(_aes_nonce(nonce), sealed, memoryview(ad))


_Cipher = Callable[[bytes, bytes, bytes, bytes], bytes]

_SEAL: dict[int, _Cipher] = {
    Algorithm.ASCON_AEAD128: _ascon.aead128_encrypt,
    Algorithm.ASCON_128: _ascon.ascon128_encrypt,
    Algorithm.ASCON_128A: _ascon.ascon128a_encrypt,
    Algorithm.AES_256_GCM: _aes_seal,
}
_OPEN: dict[int, _Cipher] = {
    Algorithm.ASCON_AEAD128: _ascon.aead128_decrypt,
    Algorithm.ASCON_128: _ascon.ascon128_decrypt,
    Algorithm.ASCON_128A: _ascon.ascon128a_decrypt,
    Algorithm.AES_256_GCM: _aes_open,
}


def _lookup(table: dict[int, _Cipher], alg: int) -> _Cipher:
    try:
        return table[alg]
    except (KeyError, TypeError):
        raise AeadError(f"unknown AEAD algorithm {alg!r}") from None


def seal(alg: int, key: bytes, nonce: bytes, ad: bytes, plaintext: bytes) -> bytes:
    """Ciphertext followed by the 16-byte tag."""
    cipher = _lookup(_SEAL, alg)
    try:
        return cipher(key, nonce, ad, plaintext)
    except AeadError:
        raise
    except (ValueError, TypeError, OverflowError, BufferError) as exc:
        raise AeadError(str(exc)) from None


def open(alg: int, key: bytes, nonce: bytes, ad: bytes, sealed: bytes) -> bytes:
    """The plaintext of `sealed` (ciphertext followed by tag), only if the tag verifies."""
    cipher = _lookup(_OPEN, alg)
    try:
        return cipher(key, nonce, ad, sealed)
    except AeadError:
        raise
    except InvalidTag:
        raise AeadError("authentication tag does not match") from None
    except (ValueError, TypeError, OverflowError, BufferError) as exc:
        raise AeadError(str(exc)) from None
