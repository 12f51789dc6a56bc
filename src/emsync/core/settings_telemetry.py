"""Settings sections of telemetry: the MQTT broker and ingest, and the vitals pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator


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
    # A few ms of the 50 ms publish -> WebSocket budget, so that a batch's fixed cost is shared
    # (telemetry.ingest.linger_seconds).
    batch_linger_ms: float = Field(
        default=4.0,
        ge=0,
        le=10,
        description="how long a message that arrives to an idle ingest waits for others to "
        "join its batch (ms); 0: each batch is what has arrived",
    )
    # Off by default (measured, README "Scale profile"): alone on the machine (load 1-2.8) it
    # raised the publish -> WebSocket p99 (SQLite 70-79 ms against 40-92, PostgreSQL 87-109
    # against 57-68) and cut the dashboards' requests/s by a third; at load 13-25 it halved the
    # p99 on SQLite and cut it to 0.28x on PostgreSQL. On a SQLite file its own
    # engine's writes and the API's meet in SQLite's busy handler, not in the process's fair
    # write queue (core.db.SQLiteWriteGate): what that costs the API's writes is not measured.
    ingest_thread: bool = Field(
        default=False,
        description="take, store and score readings on an event loop and thread of their own, "
        "so that they do not wait for the API's turns on the server's loop (off: one loop)",
    )
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
    risk_flush_seconds: float = Field(
        default=1.0,
        gt=0,
        description="live risk scores are written to storage in batches at most this often "
        "(off the ingest path; the monitor reads them back after a reload or restart)",
    )
    max_clock_skew_seconds: float = Field(
        default=300,
        ge=0,
        description="a reading stamped further than this in the future is refused "
        "(`future_timestamp`): a wrong device clock must not pin the latest values",
    )
    # The reordering to absorb is a device's MQTT queue at reconnect (paho sends a reading
    # published after the reconnect before the ones queued during the gap): 4,096 messages is
    # over an hour's gap at the simulator's 1 reading/s, for a 512-byte bitmap per device key.
    replay_window: int = Field(
        default=4096,
        ge=1,
        le=65_536,
        description="counters below a device key's highest within which a late message is "
        "still accepted once (anti-replay window); older ones are refused as `replayed`",
    )
    # Vitals are part of the clinical record: nothing is deleted unless a site sets its
    # retention period (its records policy decides, not software).
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="readings (and live risk scores) older than this are deleted "
        "(PostgreSQL: whole monthly partitions dropped); unset keeps them",
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
