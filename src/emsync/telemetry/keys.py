"""Device keys: generation, wrapping under the master keyring, and master key files.

A device key is random (128 bits for Ascon, 256 for AES-GCM), returned once at provisioning,
and stored only wrapped (AES-256-GCM under the master keyring) with associated data naming the
device and key id, so a wrapped key copied onto another device's row fails to open.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from emsync.core.crypto import Keyring
from emsync.telemetry import aead
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.envelope import WIRE_ALGORITHMS


def new_device_key(algorithm: Algorithm) -> bytes:
    if algorithm not in WIRE_ALGORITHMS:
        raise ValueError(f"{algorithm!r} is not a device algorithm")
    return secrets.token_bytes(aead.spec(algorithm).key_length)


def _aad(device_id: str, key_id: int) -> bytes:
    return f"telemetry.device_key:{device_id}:{key_id}".encode()


def wrap(keyring: Keyring, *, device_id: str, key_id: int, key: bytes) -> bytes:
    return keyring.seal(key, aad=_aad(device_id, key_id))


def unwrap(keyring: Keyring, *, device_id: str, key_id: int, wrapped: bytes) -> bytes:
    return keyring.open(wrapped, aad=_aad(device_id, key_id))


def rewrap(keyring: Keyring, *, device_id: str, key_id: int, wrapped: bytes) -> bytes | None:
    """The key wrapped under the active master key, or None if it already is."""
    if Keyring.key_id_of(wrapped) == keyring.active_id:
        return None
    key = unwrap(keyring, device_id=device_id, key_id=key_id, wrapped=wrapped)
    return wrap(keyring, device_id=device_id, key_id=key_id, key=key)


@dataclass(frozen=True, slots=True)
class KeyValidity:
    """Whether a device key id may open messages at `now`."""

    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def accepts(self, now: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or now < self.expires_at


def write_master_key_file(path: Path, keyring: Keyring) -> None:
    """Write atomically with mode 0600 (a rotation must never leave a half-written file)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(keyring.to_json())
    os.replace(tmp, path)


def create_master_key_file(path: Path) -> Keyring:
    if path.exists():
        raise FileExistsError(f"{path} exists; use `emsync keys rotate` to add a key")
    path.parent.mkdir(parents=True, exist_ok=True)
    keyring = Keyring(keys={1: secrets.token_bytes(32)}, active_id=1)
    write_master_key_file(path, keyring)
    return keyring


def rotate_master_key_file(path: Path) -> Keyring:
    """Add a new active key; older ids stay in the file so existing data stays readable."""
    keyring = Keyring.from_json(path.read_text()).rotated()
    write_master_key_file(path, keyring)
    return keyring
