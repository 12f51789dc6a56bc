"""Settings sections of the hub itself: database, accounts, keys at rest, the HTTP edge and
event handling."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator


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
    concurrent_requests: int = Field(
        default=4,
        ge=0,
        description="API requests handled at once per process; more wait their turn "
        "(the event loop stays free for telemetry and WebSocket pushes); 0: no limit",
    )
    concurrent_requests_with_ingest: int = Field(
        default=1,
        ge=0,
        description="the same while the process's own MQTT ingest is taking readings (`emsync "
        "serve`; readings within the last second): their turns on the event loop come before "
        "the dashboards' throughput; 0: no limit",
    )
    # Measured both ways in core/serving.py.
    gil_switch_interval_ms: float = Field(
        default=5.0,
        gt=0,
        le=100,
        description="`emsync serve`: how long the event loop may keep the GIL while the SQLite "
        "writer or MQTT thread waits for it (Python's default: 5)",
    )
    # Measured both ways in core/serving.py.
    ws_per_message_deflate: bool = Field(
        default=False,
        description="`emsync serve`: offer WebSocket permessage-deflate (compressed pushes); "
        "off: each push is written as it is, without spending the event loop's CPU on zlib",
    )
    admission_lease_ms: float = Field(
        default=250,
        gt=0,
        description="an API request's turn passes to the next one after this long even if it "
        "is still running (a slow upload or external call delays the others by at most this)",
    )
    idempotency_retention_hours: float = Field(
        default=24,
        gt=0,
        le=24 * 30,
        description="how long a write's `Idempotency-Key` and its kept response are remembered "
        "(an offline client's queue must replay within this time)",
    )
    idempotency_pending_seconds: float = Field(
        default=60,
        gt=0,
        description="after this long a key whose first request never finished (its process "
        "died) may run again; before it a repeat is a 409",
    )


class EventSettings(BaseModel):
    handler_attempts: int = Field(
        default=3, ge=1, le=20, description="attempts per event handler before dead-lettering"
    )
    handler_backoff_seconds: float = Field(
        default=0.05, ge=0, description="first retry delay (doubles per attempt)"
    )
    transport: Literal["inprocess", "rabbitmq"] = Field(
        default="inprocess",
        description="how committed events reach their durable reactions: `inprocess` (one "
        "process, the embedded profile) or `rabbitmq` (the worker role consumes; scale profile)",
    )
    amqp_url: str | None = Field(
        default=None,
        description="RabbitMQ for `transport=rabbitmq`, e.g. `amqp://user:pass@host:5672/vhost`",
    )
    amqp_exchange: str = Field(
        default="emsync.events", description="durable topic exchange the outbox relays to"
    )
    amqp_queue: str = Field(
        default="emsync.reactions",
        description="durable queue the worker role consumes the durable reactions from",
    )
    relay_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="how often the relay records deliveries, picks up events a crash left in "
        "the outbox and dead letters a person asked to retry",
    )
    relay_grace_seconds: float = Field(
        default=5.0,
        ge=0,
        description="an outbox row this old and not relayed is relayed again (its own "
        "process normally relays it right after the commit)",
    )
    outbox_retention_hours: float = Field(
        default=24.0, gt=0, description="relayed outbox rows and delivery records kept this long"
    )

    @model_validator(mode="after")
    def _broker_for_rabbitmq(self) -> EventSettings:
        if self.transport == "rabbitmq" and not self.amqp_url:
            raise ValueError(
                "EMSYNC_EVENTS__AMQP_URL must be set for EMSYNC_EVENTS__TRANSPORT=rabbitmq"
            )
        return self
