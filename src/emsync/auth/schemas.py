"""Auth request and response bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from emsync.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from emsync.auth.permissions import Role

Username = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Username
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    role: Role
    hospital_id: str | None = Field(default=None, max_length=36)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(
        default=None, min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH
    )
    hospital_id: str | None = Field(default=None, max_length=36)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    username: str
    role: Role
    hospital_id: str | None
    active: bool
    created_at: datetime


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    refresh_token: str
    role: Role
    username: str


class SessionToken(BaseModel):
    """The dashboard's login: the access token only. The refresh token is in an httpOnly cookie
    that page scripts cannot read (issue #14: an injected script must not carry it away)."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    role: Role
    username: str


class SessionLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)


class PasswordPolicy(BaseModel):
    min_length: int
    max_length: int
    rules: list[str]


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=10, max_length=200)


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: Role
    hospital_id: str | None = Field(default=None, max_length=36)


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    role: Role
    hospital_id: str | None
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyIssued(ApiKeyRead):
    key: str = Field(description="Shown once; store it now. Send it as the X-API-Key header.")


class Me(BaseModel):
    id: str
    name: str
    role: Role
    kind: str
    hospital_id: str | None
    permissions: list[str]


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int
    at: datetime
    actor: str
    # The person's or API key's name when the actor is an account (None: "login:...", "system").
    actor_name: str | None = None
    action: str
    target: str
    request_id: str
    outcome: str
    prev_hash: str
    hash: str


class AuditVerification(BaseModel):
    ok: bool
    entries: int
    head_hash: str
    first_broken_seq: int | None
    problem: str | None
