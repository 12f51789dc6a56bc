"""What a session's run opened is kept with its ciphertext: a value sealed again is opened
again, never served stale."""

from __future__ import annotations

import os

from emsync.core.crypto import Keyring
from emsync.intake.steps import Opened, open_cached, seal_json


def test_an_opened_value_is_reused_for_its_ciphertext_and_reopened_for_another() -> None:
    keyring = Keyring({1: os.urandom(32)}, 1)
    first = seal_json(keyring, {"output": {"n": 1}}, aad="a")
    opened: Opened = {}
    value = open_cached(keyring, first, aad="a", opened=opened)
    assert value == {"output": {"n": 1}}
    assert open_cached(keyring, first, aad="a", opened=opened) is value
    second = seal_json(keyring, {"output": {"n": 2}}, aad="a")  # e.g. a forced step's result
    assert open_cached(keyring, second, aad="a", opened=opened) == {"output": {"n": 2}}
    assert open_cached(keyring, first, aad="a", opened=None) == {"output": {"n": 1}}
