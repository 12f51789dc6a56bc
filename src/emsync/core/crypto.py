"""Encryption at rest: a keyring of AES-256 keys and AES-GCM sealing of small values.

A sealed value is `version(1) | key id (uint16 BE) | nonce (12) | ciphertext ‖ tag`. The key id
lets old rows stay readable after rotation; the associated data binds a value to its place
(e.g. "incident.callback_number") so a ciphertext copied into another column fails to open.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emsync.core.secret_strength import weak_key
from emsync.core.settings import Settings

SEALED_VERSION = 1
_HEADER = struct.Struct(">BH")
NONCE_BYTES = 12
KEY_BYTES = 32


class KeyringError(ValueError):
    """A key is missing, malformed, or a sealed value does not open."""


@dataclass(frozen=True, slots=True)
class Keyring:
    keys: Mapping[int, bytes]
    active_id: int
    # One AESGCM per key id, made on first use: building one (its key schedule) cost about twice
    # the decryption of a short field, and a GET /api/incidents/{id} opens four or five.
    _ciphers: dict[int, AESGCM] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.active_id not in self.keys:
            raise KeyringError(f"active key id {self.active_id} is not in the keyring")
        for key_id, key in self.keys.items():
            if not 0 < key_id < 2**16:
                raise KeyringError(f"key id {key_id} is outside 1..65535")
            if len(key) != KEY_BYTES:
                raise KeyringError(f"key {key_id} is {len(key)} bytes, expected {KEY_BYTES}")

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            raw = json.loads(text)
            keys = {int(k): base64.b64decode(v, validate=True) for k, v in raw.items()}
        except (ValueError, TypeError, AttributeError, binascii.Error) as exc:
            raise KeyringError('master keys must be JSON {"<id>": "<base64 of 32 bytes>"}') from exc
        if not keys:
            raise KeyringError("the master keyring is empty")
        return cls(keys=keys, active_id=max(keys))

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        sec = settings.security
        if sec.master_keys is not None:
            return cls.from_json(sec.master_keys.get_secret_value())
        if sec.master_key_file is not None:
            keyring = cls.from_json(Path(sec.master_key_file).read_text())
            if settings.env == "production":
                for key_id, key in keyring.keys.items():
                    problem = weak_key(key)
                    if problem is not None:
                        raise KeyringError(f"master key {key_id} is not random ({problem})")
            return keyring
        raise KeyringError("no master keys configured (EMSYNC_SECURITY__MASTER_KEYS)")

    def to_json(self) -> str:
        return json.dumps({str(k): base64.b64encode(v).decode() for k, v in self.keys.items()})

    def rotated(self) -> Keyring:
        """A keyring with one new active key; the old keys stay for reading."""
        new_id = max(self.keys) + 1
        return Keyring(keys={**self.keys, new_id: os.urandom(KEY_BYTES)}, active_id=new_id)

    def seal(self, plaintext: bytes, *, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        header = _HEADER.pack(SEALED_VERSION, self.active_id)
        return header + nonce + self._cipher(self.active_id).encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, *, aad: bytes) -> bytes:
        if len(sealed) < _HEADER.size + NONCE_BYTES + 16:
            raise KeyringError("sealed value is truncated")
        version, key_id = _HEADER.unpack_from(sealed)
        if version != SEALED_VERSION:
            raise KeyringError(f"unknown sealed value version {version}")
        if key_id not in self.keys:
            raise KeyringError(f"sealed with key id {key_id}, which is not in the keyring")
        nonce = sealed[_HEADER.size : _HEADER.size + NONCE_BYTES]
        try:
            return self._cipher(key_id).decrypt(nonce, sealed[_HEADER.size + NONCE_BYTES :], aad)
        except InvalidTag as exc:
            raise KeyringError("sealed value failed authentication") from exc

    def _cipher(self, key_id: int) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            # Stateless between calls, so one object serves every thread.
            cipher = self._ciphers.setdefault(key_id, AESGCM(self.keys[key_id]))
        return cipher

    def seal_text(self, value: str | None, *, aad: str) -> bytes | None:
        return None if value is None else self.seal(value.encode(), aad=aad.encode())

    def open_text(self, sealed: bytes | None, *, aad: str) -> str | None:
        return None if sealed is None else self.open(sealed, aad=aad.encode()).decode()

    @staticmethod
    def key_id_of(sealed: bytes) -> int:
        return int(_HEADER.unpack_from(sealed)[1])


def generate_keyring_json() -> str:
    return Keyring(keys={1: os.urandom(KEY_BYTES)}, active_id=1).to_json()
