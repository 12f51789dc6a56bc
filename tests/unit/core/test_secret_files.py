"""Secrets handed over as files (Docker/Kubernetes secrets): EMSYNC_<NAME>_FILE."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from emsync.core.settings import Settings


def test_secrets_are_read_from_their_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "secret_key"
    key.write_text("k" * 40 + "\n")  # the final newline an editor or `echo` leaves is dropped
    url = tmp_path / "database_url"
    url.write_text("postgresql+asyncpg://emsync:pw@db/emsync")
    redis = tmp_path / "redis_url"
    redis.write_text("redis://emsync:pw@cache:6379/0")
    monkeypatch.setenv("EMSYNC_AUTH__SECRET_KEY_FILE", str(key))
    monkeypatch.setenv("EMSYNC_DATABASE__URL_FILE", str(url))
    monkeypatch.setenv("EMSYNC_REDIS_URL_FILE", str(redis))
    monkeypatch.setenv("EMSYNC_AUTH__ACCESS_TOKEN_MINUTES", "7")  # merges with the file's auth
    settings = Settings()
    assert settings.auth.secret_key is not None
    assert settings.auth.secret_key.get_secret_value() == "k" * 40
    assert settings.auth.access_token_minutes == 7
    assert settings.database_url == "postgresql+asyncpg://emsync:pw@db/emsync"
    assert settings.redis_url == "redis://emsync:pw@cache:6379/0"


def test_the_variable_wins_over_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "admin_password"
    file.write_text("from-the-file")
    monkeypatch.setenv("EMSYNC_ADMIN_PASSWORD_FILE", str(file))
    monkeypatch.setenv("EMSYNC_ADMIN_PASSWORD", "from-the-variable")
    password = Settings().admin_password
    assert password is not None
    assert password.get_secret_value() == "from-the-variable"


def test_a_missing_secret_file_is_an_error_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMSYNC_DATABASE__URL_FILE", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match="EMSYNC_DATABASE__URL_FILE"):
        Settings()


def test_production_refuses_to_start_without_the_secret_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMSYNC_ENV", "production")
    with pytest.raises(ValidationError, match="EMSYNC_AUTH__SECRET_KEY"):
        Settings()


def test_partitions_and_shared_subscriptions_are_exclusive() -> None:
    with pytest.raises(ValidationError, match="choose one"):
        Settings.model_validate({"mqtt": {"partition_count": 2, "shared_subscription": True}})
    with pytest.raises(ValidationError, match="PARTITION_INDEX"):
        Settings.model_validate({"mqtt": {"partition_count": 2, "partition_index": 2}})


def test_tls_key_needs_its_certificate(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="EMSYNC_TLS_KEY"):
        Settings.model_validate({"tls_key": tmp_path / "key.pem"})
