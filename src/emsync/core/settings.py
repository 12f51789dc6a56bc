"""One typed settings object (EMSYNC_ prefix, nested sections with __)."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]

# Values people paste from examples; production refuses them even when long enough.
_PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "admin", "development", "test"}
MIN_SECRET_LENGTH = 32


class DatabaseSettings(BaseModel):
    url: str = ""
    echo: bool = False
    pool_size: int = Field(default=10, ge=1, le=200)


class AuthSettings(BaseModel):
    secret_key: SecretStr | None = None
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=14, ge=1, le=365)
    login_attempts_per_account: int = Field(default=5, ge=1)
    login_attempts_per_ip: int = Field(default=30, ge=1)
    login_window_seconds: float = Field(default=60.0, gt=0)
    # argon2id cost; lower only for tests (OWASP minimum: 19 MiB, 2 iterations).
    password_time_cost: int = Field(default=3, ge=1, le=20)
    password_memory_kib: int = Field(default=65536, ge=1024)


class SecuritySettings(BaseModel):
    # Master keys encrypt data keys and PHI at rest: JSON {"<key id>": "<base64 32 bytes>"},
    # the highest id is the active one; older ids only decrypt (rotation without downtime).
    master_keys: SecretStr | None = None
    master_key_file: Path | None = None


class EventSettings(BaseModel):
    handler_attempts: int = Field(default=3, ge=1, le=20)
    handler_backoff_seconds: float = Field(default=0.05, ge=0)


class MqttSettings(BaseModel):
    """Telemetry broker and ingest. No host: `emsync serve` embeds an amqtt broker on 127.0.0.1."""

    host: str | None = None
    port: int = Field(default=1883, ge=1, le=65535)
    embedded: bool = False  # set by `emsync serve` when it starts the embedded broker
    protocol: Literal["5", "3.1.1"] = "5"  # amqtt speaks only 3.1.1
    # $share/<group>/... splits the load across N ingest processes (MQTT 5). Off by default:
    # Mosquitto 2.0.11 does not restore shared subscriptions after a broker restart, and what is
    # published before the ingest resubscribes is lost; a plain subscription loses nothing.
    shared_subscription: bool = False
    share_group: str = "emsync-ingest"
    client_id: str = "emsync-ingest-1"  # stable: the broker keeps its session across restarts
    session_expiry_seconds: int = Field(default=24 * 3600, ge=0)
    username: str | None = None
    password: SecretStr | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    keepalive_seconds: int = Field(default=30, ge=5)
    reconnect_min_seconds: float = Field(default=0.5, gt=0)
    reconnect_max_seconds: float = Field(default=30.0, gt=0)
    receive_maximum: int = Field(default=1000, ge=1, le=65535)
    queue_size: int = Field(default=20_000, ge=1)
    batch_max: int = Field(default=1000, ge=1)
    device_cache_seconds: float = Field(default=5.0, ge=0)
    store_retry_seconds: float = Field(default=1.0, ge=0)


class TelemetrySettings(BaseModel):
    key_grace_seconds: float = Field(default=24 * 3600, ge=0)  # old key id after rotation
    news2_window_seconds: float = Field(default=900, gt=0)  # values combined into one score
    news2_alert_min_band: Literal["low", "low-medium", "medium", "high"] = "low"
    alert_holdoff_seconds: float = Field(default=300, ge=0)
    stale_after_seconds: float = Field(default=120, gt=0)
    ack_timeout_seconds: float = Field(default=300, gt=0)
    escalation_roles: tuple[str, ...] = ("clinician", "hospital_coordinator", "admin")
    watch_interval_seconds: float = Field(default=10, gt=0)


class HandoffSettings(BaseModel):
    # A handoff the hospital has not acknowledged this long after sending alerts the dispatcher.
    ack_timeout_seconds: float = Field(default=120.0, gt=0)
    ack_check_interval_seconds: float = Field(default=5.0, gt=0)
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EMSYNC_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    env: Environment = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Path("var")
    log_level: str = "INFO"
    log_json: bool = True
    admin_username: str | None = None
    admin_password: SecretStr | None = None
    map_pbf: Path | None = None
    redis_url: str | None = None
    database: DatabaseSettings = DatabaseSettings()
    auth: AuthSettings = AuthSettings()
    security: SecuritySettings = SecuritySettings()
    events: EventSettings = EventSettings()
    handoffs: HandoffSettings = HandoffSettings()
    mqtt: MqttSettings = MqttSettings()
    telemetry: TelemetrySettings = TelemetrySettings()

    @model_validator(mode="after")
    def _refuse_weak_secrets_in_production(self) -> Settings:
        if self.env != "production":
            return self
        key = self.auth.secret_key.get_secret_value() if self.auth.secret_key else ""
        if len(key) < MIN_SECRET_LENGTH or key.lower() in _PLACEHOLDERS:
            raise ValueError(
                "EMSYNC_AUTH__SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters in production"
            )
        if self.security.master_keys is None and self.security.master_key_file is None:
            raise ValueError(
                "EMSYNC_SECURITY__MASTER_KEYS or EMSYNC_SECURITY__MASTER_KEY_FILE must be set "
                "in production"
            )
        if not self.database.url:
            raise ValueError("EMSYNC_DATABASE__URL must be set in production")
        return self

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'emsync.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def with_development_secrets(settings: Settings) -> Settings:
    """Fill missing secrets from ./var/secrets.json, generating them once: development only.

    Outside development a missing secret stays missing and the code that needs it refuses.
    """
    if settings.env != "development":
        return settings
    path = settings.data_dir / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    changed = False
    if "secret_key" not in stored:
        stored["secret_key"] = secrets.token_urlsafe(48)
        changed = True
    if "master_keys" not in stored:
        stored["master_keys"] = json.dumps(
            {"1": base64.b64encode(secrets.token_bytes(32)).decode()}
        )
        changed = True
    if changed:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored))
        path.chmod(0o600)
    auth = settings.auth
    security = settings.security
    if auth.secret_key is None:
        auth = auth.model_copy(update={"secret_key": SecretStr(stored["secret_key"])})
    if security.master_keys is None and security.master_key_file is None:
        security = security.model_copy(update={"master_keys": SecretStr(stored["master_keys"])})
    return settings.model_copy(update={"auth": auth, "security": security})
