"""The ingest hot path seals readings in the keyring's own format."""

from __future__ import annotations

import os

import pytest

from emsync.core.crypto import Keyring, KeyringError
from emsync.telemetry.pipeline import ReadingSealer


def test_sealed_reading_opens_with_the_keyring_under_its_active_key() -> None:
    keyring = Keyring(keys={1: os.urandom(32), 2: os.urandom(32)}, active_id=2)
    [sealed] = ReadingSealer(keyring).seal_all([(b'{"hr": 71}', b"telemetry.reading:m:1:5:0")])
    assert Keyring.key_id_of(sealed) == 2
    assert keyring.open(sealed, aad=b"telemetry.reading:m:1:5:0") == b'{"hr": 71}'
    with pytest.raises(KeyringError):
        keyring.open(sealed, aad=b"telemetry.reading:m:1:5:1")


def test_every_seal_draws_a_new_nonce() -> None:
    sealer = ReadingSealer(Keyring(keys={1: os.urandom(32)}, active_id=1))
    assert sealer.seal_all([(b"x", b"a")]) != sealer.seal_all([(b"x", b"a")])
    first, second = sealer.seal_all([(b"x", b"a"), (b"x", b"a")])  # one draw, two nonces
    assert first != second
