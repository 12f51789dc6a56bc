"""Production refuses weak secrets; the keyring seals, rotates and refuses tampering."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from emsync.core.crypto import Keyring, KeyringError, generate_keyring_json
from emsync.core.settings import Settings, with_development_secrets

STRONG = secrets.token_urlsafe(48)
AUDIT_KEY = base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.mark.parametrize(
    "secret",
    [None, "short", "changeme" * 1, "secret", "a" * 32, "password" * 4, "x7" * 20,
     "correct horse battery staple correct"],
)  # fmt: skip
def test_production_refuses_missing_or_weak_secret(secret: str | None) -> None:
    with pytest.raises(ValidationError, match="EMSYNC_AUTH__SECRET_KEY"):
        Settings.model_validate(
            {
                "env": "production",
                "auth": {"secret_key": secret},
                "security": {"master_keys": generate_keyring_json()},
                "database": {"url": "postgresql+asyncpg://x@h/db"},
            }
        )


def test_production_refuses_missing_master_keys() -> None:
    with pytest.raises(ValidationError, match="MASTER_KEYS"):
        Settings.model_validate(
            {
                "env": "production",
                "auth": {"secret_key": STRONG},
                "database": {"url": "sqlite+aiosqlite:///x"},
            }
        )


def _production(**overrides: object) -> dict[str, object]:
    return {
        "env": "production",
        "auth": {"secret_key": STRONG},
        "security": {"master_keys": generate_keyring_json(), "audit_key": AUDIT_KEY},
        "database": {"url": "postgresql+asyncpg://x@h/db"},
        "notifications": {"public_url": "https://emsync.example.org"},
        **overrides,
    }


def test_production_accepts_strong_secrets() -> None:
    settings = Settings.model_validate(_production())
    assert settings.env == "production"
    assert settings.notifications.public_url == "https://emsync.example.org"


@pytest.mark.parametrize(
    ("notifications", "message"),
    [
        ({}, "must be set in production"),
        ({"public_url": "http://127.0.0.1:8000"}, "must be an https:// address"),
        ({"public_url": "http://emsync.example.org"}, "must be an https:// address"),
        ({"public_url": "https://"}, "must be an https:// address"),
    ],
)
def test_production_refuses_the_default_or_a_plain_http_public_url(
    notifications: dict[str, str], message: str
) -> None:
    """Pages' acknowledge links are built on it: the default points at the reader's own machine."""
    with pytest.raises(ValidationError, match="EMSYNC_NOTIFICATIONS__PUBLIC_URL " + message):
        Settings.model_validate(_production(notifications=notifications))


def test_development_keeps_the_loopback_public_url() -> None:
    assert Settings.model_validate({}).notifications.public_url == "http://127.0.0.1:8000"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("master", "audit", "message"),
    [
        (_b64(bytes(32)), AUDIT_KEY, "master key 1"),
        (_b64(b"\x01\x02" * 16), AUDIT_KEY, "master key 1"),
        (None, _b64(bytes(32)), "AUDIT_KEY"),
        (None, None, "AUDIT_KEY"),
    ],
    # Named, not derived from the random key: every test process must collect the same ids.
    ids=["all-zero master key", "patterned master key", "all-zero audit key", "no audit key"],
)
def test_production_refuses_patterned_or_missing_keys(
    master: str | None, audit: str | None, message: str
) -> None:
    keyring = generate_keyring_json() if master is None else json.dumps({"1": master})
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate(
            {
                "env": "production",
                "auth": {"secret_key": STRONG},
                "security": {"master_keys": keyring, "audit_key": audit},
                "database": {"url": "postgresql+asyncpg://x@h/db"},
            }
        )


def test_production_refuses_an_all_zero_key_in_a_keyring_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"1": _b64(bytes(32))}))
    settings = Settings.model_validate(
        {
            "env": "production",
            "auth": {"secret_key": STRONG},
            "security": {"master_key_file": str(path), "audit_key": AUDIT_KEY},
            "database": {"url": "postgresql+asyncpg://x@h/db"},
            "notifications": {"public_url": "https://emsync.example.org"},
        }
    )
    with pytest.raises(KeyringError, match="not random"):
        Keyring.from_settings(settings)


def test_nested_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMSYNC_PORT", "9001")
    monkeypatch.setenv("EMSYNC_AUTH__ACCESS_TOKEN_MINUTES", "7")
    settings = Settings()
    assert settings.port == 9001
    assert settings.auth.access_token_minutes == 7


def test_development_secrets_are_random_and_persist(tmp_path: Path) -> None:
    first = with_development_secrets(Settings(env="development", data_dir=tmp_path))
    again = with_development_secrets(Settings(env="development", data_dir=tmp_path))
    other = with_development_secrets(Settings(env="development", data_dir=tmp_path / "other"))
    assert first.auth.secret_key is not None
    assert again.auth.secret_key is not None
    assert first.auth.secret_key.get_secret_value() == again.auth.secret_key.get_secret_value()
    assert other.auth.secret_key is not None
    assert other.auth.secret_key.get_secret_value() != first.auth.secret_key.get_secret_value()
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0


def test_test_environment_gets_no_generated_secrets(tmp_path: Path) -> None:
    settings = with_development_secrets(Settings(env="test", data_dir=tmp_path))
    assert settings.auth.secret_key is None


def test_sealed_values_open_after_rotation_and_new_ones_use_the_new_key() -> None:
    ring = Keyring.from_json(generate_keyring_json())
    old = ring.seal(b"callback +358401234567", aad=b"incident:1:callback")
    rotated = ring.rotated()
    assert rotated.open(old, aad=b"incident:1:callback") == b"callback +358401234567"
    assert Keyring.key_id_of(rotated.seal(b"x", aad=b"a")) == rotated.active_id == 2


def test_values_sealed_with_the_kept_ciphers_open_with_a_fresh_keyring_and_aesgcm() -> None:
    """The per-key AESGCM a keyring keeps changes nothing in the format: a fresh keyring of
    the same keys (another process) and AESGCM itself open what it sealed, and the other way."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    text = generate_keyring_json()
    ring = Keyring.from_json(text).rotated()
    first = [ring.seal(f"value {i}".encode(), aad=b"a") for i in range(3)]
    other = Keyring(keys=dict(ring.keys), active_id=ring.active_id)
    assert [other.open(s, aad=b"a") for s in first] == [b"value 0", b"value 1", b"value 2"]
    back = other.seal(b"back", aad=b"b")
    assert ring.open(back, aad=b"b") == b"back"
    assert AESGCM(ring.keys[2]).decrypt(back[3:15], back[15:], b"b") == b"back"
    old = Keyring.from_json(text).seal(b"old key", aad=b"c")
    assert ring.open(old, aad=b"c") == other.open(old, aad=b"c") == b"old key"
    assert ring == other  # the kept ciphers are not part of a keyring's value


def test_a_value_moved_to_another_column_does_not_open() -> None:
    ring = Keyring.from_json(generate_keyring_json())
    sealed = ring.seal(b"Aino", aad=b"patient:1:name")
    with pytest.raises(KeyringError):
        ring.open(sealed, aad=b"patient:2:name")


@pytest.mark.parametrize("mangle", [lambda b: b[:10], lambda b: b[:-1] + bytes([b[-1] ^ 1])])
def test_truncated_or_flipped_values_are_refused(mangle: object) -> None:
    ring = Keyring.from_json(generate_keyring_json())
    sealed = ring.seal(b"value", aad=b"a")
    with pytest.raises(KeyringError):
        ring.open(mangle(sealed), aad=b"a")  # type: ignore[operator]


@pytest.mark.parametrize("text", ["", "not json", '{"1": "short"}', "{}", '{"x": "AAAA"}'])
def test_malformed_keyrings_are_refused_clearly(text: str) -> None:
    with pytest.raises(KeyringError):
        Keyring.from_json(text)
