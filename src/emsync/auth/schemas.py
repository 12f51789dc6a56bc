"""Auth request and response bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from emsync.auth.passwords import MIN_PASSWORD_LENGTH
from emsync.auth.permissions import Role

Username = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Username
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)
    role: Role
    hospital_id: str | None = Field(default=None, max_length=36)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=256)
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
