"""Hybrid sealing of handoffs for one hospital (pure: no I/O).

A handoff's content, updates and attachments are encrypted with a fresh AES-256-GCM data key.
The data key is wrapped for the receiving hospital's X25519 public key: an ephemeral X25519 key
pair is made per wrap, the shared secret goes through HKDF-SHA256 (salt = ephemeral public key ‖
hospital public key, info names the handoff) to a key-wrapping key, and AES-256-GCM wraps the
data key. Only the hospital's private key can unwrap it again.

Wrapped key: `version(1) | ephemeral public key (32) | nonce (12) | wrapped data key + tag (48)`.
Sealed value: `version(1) | nonce (12) | ciphertext ‖ tag`, associated data naming its place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

WRAP_VERSION = 1
SEAL_VERSION = 1
DATA_KEY_BYTES = 32
NONCE_BYTES = 12
X25519_BYTES = 32
WRAPPED_BYTES = 1 + X25519_BYTES + NONCE_BYTES + DATA_KEY_BYTES + 16
_RAW = serialization.Encoding.Raw


class SealingError(ValueError):
    """A wrapped key or a sealed value does not open (wrong key, tampered, truncated)."""


@dataclass(frozen=True, slots=True)
class HospitalKeyPair:
    private: bytes  # raw 32-byte X25519 private key; store it only sealed under the master key
    public: bytes  # raw 32-byte X25519 public key


def generate_key_pair() -> HospitalKeyPair:
    key = X25519PrivateKey.generate()
    return HospitalKeyPair(
        private=key.private_bytes(
            _RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        ),
        public=key.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw),
    )


@dataclass(frozen=True, slots=True)
class OpenedPrivateKey:
    """A hospital's private key loaded for unwrapping, with its public key: loading the raw
    bytes and deriving the public key from them (a scalar multiplication, as costly as the
    exchange itself) are then done once, not for every data key unwrapped with it."""

    private: X25519PrivateKey
    public: bytes

    @classmethod
    def load(cls, raw: bytes) -> OpenedPrivateKey:
        private = X25519PrivateKey.from_private_bytes(raw)
        return cls(private, private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw))


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _kek(shared: bytes, ephemeral_public: bytes, hospital_public: bytes, context: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral_public + hospital_public,
        info=b"emsync handoff data key v1|" + context,
    ).derive(shared)


def wrap_data_key(data_key: bytes, *, hospital_public: bytes, context: bytes) -> bytes:
    """The data key wrapped for the hospital; `context` (the handoff id) binds it to its record."""
    if len(data_key) != DATA_KEY_BYTES:
        raise SealingError(f"a data key is {DATA_KEY_BYTES} bytes")
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    try:
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(hospital_public))
    except ValueError as exc:
        raise SealingError("the hospital public key is not a valid X25519 key") from exc
    kek = _kek(shared, ephemeral_public, hospital_public, context)
    nonce = os.urandom(NONCE_BYTES)
    wrapped = AESGCM(kek).encrypt(nonce, data_key, context)
    return bytes([WRAP_VERSION]) + ephemeral_public + nonce + wrapped


def unwrap_data_key(
    wrapped: bytes, *, hospital_private: bytes | OpenedPrivateKey, context: bytes
) -> bytes:
    if len(wrapped) != WRAPPED_BYTES or wrapped[0] != WRAP_VERSION:
        raise SealingError("the wrapped data key is malformed")
    ephemeral_public = wrapped[1 : 1 + X25519_BYTES]
    nonce = wrapped[1 + X25519_BYTES : 1 + X25519_BYTES + NONCE_BYTES]
    body = wrapped[1 + X25519_BYTES + NONCE_BYTES :]
    opened = (
        hospital_private
        if isinstance(hospital_private, OpenedPrivateKey)
        else OpenedPrivateKey.load(hospital_private)
    )
    hospital_public = opened.public
    try:
        shared = opened.private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    except ValueError as exc:
        raise SealingError("the wrapped data key carries an invalid ephemeral key") from exc
    kek = _kek(shared, ephemeral_public, hospital_public, context)
    try:
        return AESGCM(kek).decrypt(nonce, body, context)
    except InvalidTag as exc:
        raise SealingError("the data key was not wrapped for this hospital key") from exc


def seal(data_key: bytes, plaintext: bytes, *, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return bytes([SEAL_VERSION]) + nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)


def open_sealed(data_key: bytes, sealed: bytes, *, aad: bytes) -> bytes:
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[0] != SEAL_VERSION:
        raise SealingError("the sealed value is malformed")
    nonce = sealed[1 : 1 + NONCE_BYTES]
    try:
        return AESGCM(data_key).decrypt(nonce, sealed[1 + NONCE_BYTES :], aad)
    except InvalidTag as exc:
        raise SealingError("the sealed value failed authentication") from exc
