"""Login, token refresh, users, API keys and the audit log over HTTP."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Cookie, Depends, Query, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.auth import audit, checkpoints, service
from emsync.auth.checkpoints import AuditKey, checkpoint_file
from emsync.auth.deps import LoginLimits, LoginLimitsDep, public, requires
from emsync.auth.events import AccountChanged
from emsync.auth.models import User
from emsync.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, Passwords
from emsync.auth.permissions import MATRIX, Perm
from emsync.auth.principal import Principal
from emsync.auth.public import actor_names
from emsync.auth.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyRead,
    AuditEntryRead,
    AuditVerification,
    Me,
    PasswordChange,
    PasswordPolicy,
    RefreshRequest,
    SessionLogin,
    SessionToken,
    TokenPair,
    UserCreate,
    UserRead,
    UserUpdate,
)
from emsync.core.errors import Forbidden, TooManyRequests, Unauthorized
from emsync.core.gate import body_limit
from emsync.core.runtime import Runtime, RuntimeDep, SessionDep

router = APIRouter(prefix="/api", tags=["auth"])

# The dashboard's refresh token: httpOnly (no script reads it), SameSite=Strict (no other site's
# page sends it), scoped to the session endpoints only.
REFRESH_COOKIE = "emsync_refresh"
COOKIE_PATH = "/api/auth/session"
LOGIN_BODY_LIMIT = 16 * 1024


def _client_ip(request: Request) -> str:
    # Uvicorn sets the client from X-Forwarded-For only for EMSYNC_HTTP__TRUSTED_PROXIES.
    return request.client.host if request.client else "unknown"


async def _password_login(
    *,
    request: Request,
    runtime: Runtime,
    session: AsyncSession,
    limits: LoginLimits,
    username: str,
    password: str,
) -> User:
    """Rate-limited password check shared by the OAuth2 and the dashboard logins."""
    # Usernames are at most 64 characters: a longer one is no account, and must not become a
    # limiter key of that size.
    username = username[:65]
    request.state.audit_actor = f"login:{username[:64]}"
    now_mono = time.monotonic()
    account_key, ip_key = username.lower(), _client_ip(request)
    wait = max(
        limits.per_account.retry_after(account_key, now_mono),
        limits.per_ip.retry_after(ip_key, now_mono),
    )
    if wait > 0:
        runtime.metrics.logins.labels(outcome="rate_limited").inc()
        raise TooManyRequests(
            "too many login attempts; try again later", retry_after=max(1, round(wait))
        )
    user = None
    if len(username) <= 64:
        user = await service.authenticate_password(
            session=session,
            passwords=runtime.get(Passwords),
            username=username,
            password=password,
        )
    if user is None:
        limits.per_account.hit(account_key, now_mono)
        limits.per_ip.hit(ip_key, now_mono)
        runtime.metrics.logins.labels(outcome="failure").inc()
        raise Unauthorized("incorrect username or password")
    limits.per_account.reset(account_key)
    return user


@router.post("/auth/token", response_model=TokenPair)
@public
@body_limit(LOGIN_BODY_LIMIT)
async def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    runtime: RuntimeDep,
    session: SessionDep,
    limits: LoginLimitsDep,
) -> TokenPair:
    """OAuth2 password login for API clients: a short-lived access token and a rotating refresh
    token in the body. The dashboard uses `POST /api/auth/session` (refresh token in a cookie)."""
    user = await _password_login(
        request=request,
        runtime=runtime,
        session=session,
        limits=limits,
        username=form.username,
        password=form.password,
    )
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


def _secure_cookie(request: Request, runtime: Runtime) -> bool:
    # Secure in production and over https. A development or test server on plain http
    # (loopback) would never get a Secure cookie back from a browser other than Chromium's
    # localhost exception, so there it is sent without the flag (docs/threat-model.md).
    configured = runtime.settings.http.secure_cookies
    if configured is not None:
        return configured
    return runtime.settings.env == "production" or request.url.scheme == "https"


def _check_same_origin(request: Request) -> None:
    """Cookie-authenticated endpoints refuse other sites' pages (SameSite=Strict already keeps
    the cookie from them; this refuses the request outright when a browser names its origin)."""
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
        raise Forbidden("cross-site request refused")


def _session_response(
    request: Request, response: Response, runtime: Runtime, pair: TokenPair
) -> SessionToken:
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh_token,
        max_age=runtime.settings.auth.refresh_token_days * 86400,
        path=COOKIE_PATH,
        secure=_secure_cookie(request, runtime),
        httponly=True,
        samesite="strict",
    )
    return SessionToken(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        role=pair.role,
        username=pair.username,
    )


def _forget_cookie(request: Request, response: Response, runtime: Runtime) -> None:
    response.delete_cookie(
        REFRESH_COOKIE,
        path=COOKIE_PATH,
        secure=_secure_cookie(request, runtime),
        httponly=True,
        samesite="strict",
    )


@router.post("/auth/session", response_model=SessionToken)
@public
@body_limit(LOGIN_BODY_LIMIT)
async def session_login(
    request: Request,
    response: Response,
    body: SessionLogin,
    runtime: RuntimeDep,
    session: SessionDep,
    limits: LoginLimitsDep,
) -> SessionToken:
    """The dashboard's login: the access token in the body (kept in memory by the page), the
    refresh token in an httpOnly, SameSite=Strict cookie."""
    _check_same_origin(request)
    user = await _password_login(
        request=request,
        runtime=runtime,
        session=session,
        limits=limits,
        username=body.username,
        password=body.password,
    )
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
    return _session_response(request, response, runtime, pair)


@router.post("/auth/session/refresh", response_model=SessionToken)
@public
@body_limit(LOGIN_BODY_LIMIT)
async def session_refresh(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    session: SessionDep,
    refresh_cookie: Annotated[str | None, Cookie(alias=REFRESH_COOKIE, max_length=200)] = None,
) -> SessionToken:
    """A new access token from the session cookie (which rotates); 401 when there is none."""
    _check_same_origin(request)
    if refresh_cookie is None:
        raise Unauthorized("no session: log in")
    pair = await service.rotate_refresh_token(
        session=session,
        token=refresh_cookie,
        settings=runtime.settings.auth,
        secret=_secret(runtime),
        now=runtime.clock(),
    )
    await session.commit()
    if pair is None:
        raise Unauthorized("the session was already renewed elsewhere; every session from it ends")
    request.state.audit_actor = f"login:{pair.username}"
    return _session_response(request, response, runtime, pair)


@router.post("/auth/session/logout", status_code=204)
@public
@body_limit(LOGIN_BODY_LIMIT)
async def session_logout(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    refresh_cookie: Annotated[str | None, Cookie(alias=REFRESH_COOKIE, max_length=200)] = None,
) -> Response:
    """End the dashboard session: its refresh family is revoked and the cookie cleared."""
    _check_same_origin(request)
    response = Response(status_code=204)
    if refresh_cookie is not None:
        try:
            await service.logout(session=session, token=refresh_cookie, now=runtime.clock())
            await session.commit()
        except Unauthorized:
            pass  # an unusable cookie: clearing it is all there is to do
    _forget_cookie(request, response, runtime)
    return response


@router.get("/auth/password-policy", response_model=PasswordPolicy)
@public
async def password_policy() -> PasswordPolicy:
    """What a new password must satisfy (NIST SP 800-63B-4), for the password screens."""
    return PasswordPolicy(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        rules=[
            f"at least {MIN_PASSWORD_LENGTH} characters; spaces and any letters allowed",
            "not one of the most commonly used passwords",
            "not easy to guess (no repeats, sequences, keyboard walks or your username)",
        ],
    )


@router.post("/auth/password", status_code=204)
async def change_password(
    body: PasswordChange,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: Annotated[Principal, requires(Perm.ACCOUNT_PASSWORD)],
) -> Response:
    """Change your own password. Every session of the account ends, this one included: log in
    again with the new password."""
    if principal.kind != "user":
        raise Forbidden("API keys have no password")
    await service.change_own_password(
        session=session,
        passwords=runtime.get(Passwords),
        user_id=principal.id,
        current_password=body.current_password,
        new_password=body.new_password,
        now=runtime.clock(),
    )
    await session.commit()
    await runtime.bus.publish(
        AccountChanged(principal_id=principal.id, kind="user", reason="password changed")
    )
    return Response(status_code=204)


@router.post("/auth/refresh", response_model=TokenPair)
@public
@body_limit(LOGIN_BODY_LIMIT)
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
@body_limit(LOGIN_BODY_LIMIT)
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
        session=session,
        passwords=runtime.get(Passwords),
        data=body,
        now=runtime.clock(),
        hospital_exists=runtime.get(service.HospitalLookup).exists,
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
    user, sessions_ended = await service.update_user(
        session=session,
        passwords=runtime.get(Passwords),
        user_id=user_id,
        data=body,
        now=runtime.clock(),
        hospital_exists=runtime.get(service.HospitalLookup).exists,
    )
    await session.commit()
    read = UserRead.model_validate(user)
    if sessions_ended:
        # Every process drops the account from its cache and closes its WebSockets now.
        await runtime.bus.publish(
            AccountChanged(principal_id=user_id, kind="user", reason="account changed")
        )
    return read


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
        session=session,
        data=body,
        created_by=principal.id,
        now=runtime.clock(),
        hospital_exists=runtime.get(service.HospitalLookup).exists,
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
    read = ApiKeyRead.model_validate(row)
    await runtime.bus.publish(AccountChanged(principal_id=key_id, kind="api_key", reason="revoked"))
    return read


@router.get("/audit", response_model=list[AuditEntryRead])
async def list_audit(
    session: SessionDep,
    _: Annotated[Principal, requires(Perm.AUDIT_READ)],
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=200, description="part of the action")] = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    failures: Annotated[bool, Query(description="only refused or failed requests")] = False,
    order: Annotated[Literal["asc", "desc"], Query(description="desc: newest first")] = "asc",
) -> list[AuditEntryRead]:
    """Read-only: there is no route that changes or deletes audit entries. With `order=desc`,
    `after_seq` pages backwards (entries before it)."""
    rows = await audit.list_entries(
        session=session,
        limit=limit,
        after_seq=after_seq,
        actor=actor,
        since=since,
        action=action,
        failures_only=failures,
        newest_first=order == "desc",
    )
    names = await actor_names(session=session, actors={r.actor for r in rows})
    return [
        AuditEntryRead.model_validate(r).model_copy(update={"actor_name": names.get(r.actor)})
        for r in rows
    ]


@router.get("/audit/verify", response_model=AuditVerification)
async def verify_audit(
    runtime: RuntimeDep, session: SessionDep, _: Annotated[Principal, requires(Perm.AUDIT_READ)]
) -> AuditVerification:
    report = await audit.verify(
        session=session,
        key=runtime.get(AuditKey),
        checkpoints_seen=checkpoints.read(checkpoint_file(runtime.settings)),
    )
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
