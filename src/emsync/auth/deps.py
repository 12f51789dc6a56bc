"""Route guards. Every route names its permission with `requires(Perm.X)`; the guard shows in
the OpenAPI schema as a security requirement whose scope is that permission."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from fastapi.security.base import SecurityBase

from emsync.auth import service, tokens
from emsync.auth.freshness import AccountStates
from emsync.auth.permissions import Perm, Role
from emsync.auth.principal import Principal
from emsync.auth.ratelimit import SlidingWindowLimiter
from emsync.core.errors import Forbidden, Unauthorized
from emsync.core.runtime import Runtime, RuntimeDep, get_runtime

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/auth/token",
    auto_error=False,
    scopes={p.value: f"permission {p.value}" for p in Perm},
)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


@dataclass
class LoginLimits:
    per_account: SlidingWindowLimiter
    per_ip: SlidingWindowLimiter


async def principal_from_credentials(
    runtime: Runtime, *, bearer: str | None, api_key: str | None
) -> Principal:
    """Shared by HTTP routes and the WebSocket handshake."""
    if bearer:
        secret = runtime.settings.auth.secret_key
        if secret is None:
            raise Unauthorized("token signing is not configured")
        claims = tokens.decode_access_token(bearer, secret=secret.get_secret_value())
        try:
            role = Role(claims.role)
        except ValueError as exc:
            raise Unauthorized("the access token names an unknown role") from exc
        principal = Principal(
            id=claims.user_id,
            name=claims.username,
            role=role,
            kind="user",
            hospital_id=claims.hospital_id,
            unit_id=claims.unit_id,
            version=claims.version,
            expires_at=claims.expires_at,
        )
        # The signature says who it was; the account says whether that still holds.
        reason = await runtime.get(AccountStates).stale_reason(principal)
        if reason is not None:
            raise Unauthorized(reason)
        return principal
    if api_key:
        async with runtime.sessions() as session:
            return await service.principal_for_api_key(session=session, key=api_key)
    raise Unauthorized("authentication required: a bearer token or an X-API-Key header")


async def principal_from_headers(
    runtime: Runtime, headers: Iterable[tuple[bytes, bytes]]
) -> Principal:
    """The credentials of a request's headers, read as FastAPI's `OAuth2PasswordBearer` and
    `APIKeyHeader` read them (the first of each header): used by the request gate before a body
    is read, and by the permission guard."""
    authorization = api_key = None
    for name, value in headers:
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1")
    bearer = None
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer":
            bearer = token.strip()
    return await principal_from_credentials(runtime, bearer=bearer, api_key=api_key)


class PermissionGuard:
    """A dependency that authenticates the caller and checks one permission.

    It is one node with no sub-dependencies: it reads the credentials from the headers itself
    and the runtime from the app. FastAPI solves each node of a route's dependency tree on every
    request (a recursion with its own parameter passes and cache look-ups, even for a cached
    node): with the runtime, `OAuth2PasswordBearer` and `APIKeyHeader` as sub-dependencies the
    guard was four nodes, ~12 % of the Python calls of an authenticated one-row GET. The two
    schemes are still what the OpenAPI document shows (`security_schemes`, documented by
    `core.framework.document_guard_security` as FastAPI documented them as sub-dependencies)."""

    # What a client may authenticate with; the guard's permission is each one's OAuth scope.
    security_schemes: tuple[SecurityBase, ...] = (oauth2_scheme, api_key_scheme)

    def __init__(self, perm: Perm) -> None:
        self.perm = perm

    async def __call__(self, request: Request) -> Principal:
        state = request.scope.setdefault("state", {})
        # The request gate authenticates requests with a body before reading it; reuse that.
        principal = state.get("principal")
        if not isinstance(principal, Principal):
            runtime = await get_runtime(request)
            principal = await principal_from_headers(runtime, request.scope["headers"])
            # The audit middleware reads the actor from here, also when the check below fails.
            state["principal"] = principal
        if not principal.can(self.perm):
            raise Forbidden(f"role {principal.role.value!r} lacks permission {self.perm.value!r}")
        return principal


def requires(perm: Perm) -> Any:
    """`user: Annotated[Principal, requires(Perm.INCIDENTS_WRITE)]` — authenticated and allowed."""
    return Security(PermissionGuard(perm), scopes=[perm.value])


def public(func: Any) -> Any:
    """Marks a route as deliberately open (health, metrics, login); the route walk test reads it."""
    func.__emsync_public__ = True
    return func


async def login_limits(runtime: RuntimeDep) -> LoginLimits:  # async: no thread-pool hop
    return runtime.get(LoginLimits)


LoginLimitsDep = Annotated[LoginLimits, Depends(login_limits)]
