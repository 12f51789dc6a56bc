"""Route guards. Every route names its permission with `requires(Perm.X)`; the guard shows in
the OpenAPI schema as a security requirement whose scope is that permission."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from emsync.auth import service, tokens
from emsync.auth.freshness import AccountStates
from emsync.auth.permissions import Perm, Role
from emsync.auth.principal import Principal
from emsync.auth.ratelimit import SlidingWindowLimiter
from emsync.core.errors import Forbidden, Unauthorized
from emsync.core.runtime import Runtime, RuntimeDep

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
    """The request gate's check, before a body is read: the same credentials the guard reads."""
    bearer = api_key = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token:
                bearer = token.strip()
        elif name == b"x-api-key":
            api_key = value.decode("latin-1")
    return await principal_from_credentials(runtime, bearer=bearer, api_key=api_key)


class PermissionGuard:
    """A dependency that authenticates the caller and checks one permission."""

    def __init__(self, perm: Perm) -> None:
        self.perm = perm

    async def __call__(
        self,
        request: Request,
        runtime: RuntimeDep,
        bearer: Annotated[str | None, Security(oauth2_scheme)],
        api_key: Annotated[str | None, Security(api_key_scheme)],
    ) -> Principal:
        # The request gate authenticates requests with a body before reading it; reuse that.
        principal = getattr(request.state, "principal", None)
        if not isinstance(principal, Principal):
            principal = await principal_from_credentials(runtime, bearer=bearer, api_key=api_key)
            # The audit middleware reads the actor from here, also when the check below fails.
            request.state.principal = principal
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
