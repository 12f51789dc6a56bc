"""Login, token refresh, users, API keys and the audit log over HTTP."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from emsync.auth import audit, service
from emsync.auth.deps import LoginLimitsDep, public, requires
from emsync.auth.passwords import Passwords
from emsync.auth.permissions import MATRIX, Perm
from emsync.auth.principal import Principal
from emsync.auth.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyRead,
    AuditEntryRead,
    AuditVerification,
    Me,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserRead,
    UserUpdate,
)
from emsync.core.errors import TooManyRequests, Unauthorized
from emsync.core.runtime import RuntimeDep, SessionDep

router = APIRouter(prefix="/api", tags=["auth"])


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/token", response_model=TokenPair)
@public
async def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    runtime: RuntimeDep,
    session: SessionDep,
    limits: LoginLimitsDep,
) -> TokenPair:
    """OAuth2 password login: a short-lived access token and a rotating refresh token."""
    request.state.audit_actor = f"login:{form.username[:64]}"
    now_mono = time.monotonic()
    account_key, ip_key = form.username.lower(), _client_ip(request)
    wait = max(
        limits.per_account.retry_after(account_key, now_mono),
        limits.per_ip.retry_after(ip_key, now_mono),
    )
    if wait > 0:
        runtime.metrics.logins.labels(outcome="rate_limited").inc()
        raise TooManyRequests(
            "too many login attempts; try again later", retry_after=max(1, round(wait))
        )
    user = await service.authenticate_password(
        session=session,
        passwords=runtime.get(Passwords),
        username=form.username,
        password=form.password,
    )
    if user is None:
        limits.per_account.hit(account_key, now_mono)
        limits.per_ip.hit(ip_key, now_mono)
        runtime.metrics.logins.labels(outcome="failure").inc()
        raise Unauthorized("incorrect username or password")
    limits.per_account.reset(account_key)
    pair = await service.issue_tokens(
        session=session,
        user=user,
        settings=runtime.settings.auth,
        secret=_secret(runtime),
        now=runtime.clock(),
    )
    await session.commit()
    runtime.metrics.logins.labels(outcome="success").inc()
    request.state.audit_actor = f"user:{user.id}"
    return pair


@router.post("/auth/refresh", response_model=TokenPair)
@public
async def refresh(
    request: Request, body: RefreshRequest, runtime: RuntimeDep, session: SessionDep
) -> TokenPair:
    """Exchange a refresh token for a new pair. A reused token revokes its whole family."""
    pair = await service.rotate_refresh_token(
        session=session,
        token=body.refresh_token,
        settings=runtime.settings.auth,
        secret=_secret(runtime),
        now=runtime.clock(),
    )
    await session.commit()
    if pair is None:
        raise Unauthorized("the refresh token was already used; every session from it is revoked")
    request.state.audit_actor = f"login:{pair.username}"
    return pair


@router.post("/auth/logout", status_code=204)
@public
async def logout(body: RefreshRequest, runtime: RuntimeDep, session: SessionDep) -> Response:
    """Revoke the refresh token's family (the access token expires on its own shortly)."""
    await service.logout(session=session, token=body.refresh_token, now=runtime.clock())
    await session.commit()
    return Response(status_code=204)


@router.get("/auth/me", response_model=Me)
async def me(principal: Annotated[Principal, requires(Perm.REALTIME_CONNECT)]) -> Me:
    return Me(
        id=principal.id,
        name=principal.name,
        role=principal.role,
        kind=principal.kind,
        hospital_id=principal.hospital_id,
        permissions=sorted(p.value for p in MATRIX[principal.role]),
    )


@router.get("/users", response_model=list[UserRead])
async def list_users(
    session: SessionDep, _: Annotated[Principal, requires(Perm.USERS_READ)]
) -> list[UserRead]:
    return [UserRead.model_validate(u) for u in await service.list_users(session=session)]


@router.post("/users", response_model=UserRead, status_code=201)
async def create_user(
    body: UserCreate,
    runtime: RuntimeDep,
    session: SessionDep,
    _: Annotated[Principal, requires(Perm.USERS_WRITE)],
) -> UserRead:
    user = await service.create_user(
        session=session, passwords=runtime.get(Passwords), data=body, now=runtime.clock()
    )
    await session.commit()
    return UserRead.model_validate(user)


@router.patch("/users/{user_id}", response_model=UserRead)
async def update_user(
    user_id: str,
    body: UserUpdate,
    runtime: RuntimeDep,
    session: SessionDep,
    _: Annotated[Principal, requires(Perm.USERS_WRITE)],
) -> UserRead:
    user = await service.update_user(
        session=session,
        passwords=runtime.get(Passwords),
        user_id=user_id,
        data=body,
        now=runtime.clock(),
    )
    await session.commit()
    return UserRead.model_validate(user)


@router.get("/api-keys", response_model=list[ApiKeyRead])
async def list_api_keys(
    session: SessionDep, _: Annotated[Principal, requires(Perm.API_KEYS_MANAGE)]
) -> list[ApiKeyRead]:
    return [ApiKeyRead.model_validate(k) for k in await service.list_api_keys(session=session)]


@router.post("/api-keys", response_model=ApiKeyIssued, status_code=201)
async def create_api_key(
    body: ApiKeyCreate,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: Annotated[Principal, requires(Perm.API_KEYS_MANAGE)],
) -> ApiKeyIssued:
    row, key = await service.create_api_key(
        session=session, data=body, created_by=principal.id, now=runtime.clock()
    )
    await session.commit()
    return ApiKeyIssued.model_validate({**ApiKeyRead.model_validate(row).model_dump(), "key": key})


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead)
async def revoke_api_key(
    key_id: str,
    runtime: RuntimeDep,
    session: SessionDep,
    _: Annotated[Principal, requires(Perm.API_KEYS_MANAGE)],
) -> ApiKeyRead:
    row = await service.revoke_api_key(session=session, key_id=key_id, now=runtime.clock())
    await session.commit()
    return ApiKeyRead.model_validate(row)


@router.get("/audit", response_model=list[AuditEntryRead])
async def list_audit(
    session: SessionDep,
    _: Annotated[Principal, requires(Perm.AUDIT_READ)],
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    actor: Annotated[str | None, Query(max_length=100)] = None,
) -> list[AuditEntryRead]:
    """Read-only: there is no route that changes or deletes audit entries."""
    rows = await audit.list_entries(session=session, limit=limit, after_seq=after_seq, actor=actor)
    return [AuditEntryRead.model_validate(r) for r in rows]


@router.get("/audit/verify", response_model=AuditVerification)
async def verify_audit(
    session: SessionDep, _: Annotated[Principal, requires(Perm.AUDIT_READ)]
) -> AuditVerification:
    report = await audit.verify(session=session)
    return AuditVerification(
        ok=report.ok,
        entries=report.entries,
        head_hash=report.head_hash,
        first_broken_seq=report.first_broken_seq,
        problem=report.problem,
    )


def _secret(runtime: RuntimeDep) -> str:
    key = runtime.settings.auth.secret_key
    if key is None:
        raise Unauthorized("token signing is not configured")
    return key.get_secret_value()
