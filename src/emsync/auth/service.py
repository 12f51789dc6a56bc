"""Auth use cases: users, login with rotating refresh tokens, machine API keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.auth import tokens
from emsync.auth.models import ApiKey, RefreshToken, User
from emsync.auth.passwords import Passwords, password_problem
from emsync.auth.permissions import HUMAN_ROLES, Role
from emsync.auth.principal import Principal
from emsync.auth.schemas import ApiKeyCreate, TokenPair, UserCreate, UserUpdate
from emsync.core.clock import as_utc
from emsync.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.settings import AuthSettings

REFRESH_PREFIX = "emr"
API_KEY_PREFIX = "emk"

# Does a hospital with this id exist? (The hospitals domain answers; bootstrap and the CLI wire it.)
HospitalExists = Callable[[AsyncSession, str], Awaitable[bool]]


class HospitalLookup:
    """The hospitals domain's answer to "does this hospital exist", provided by the wiring."""

    def __init__(self, exists: HospitalExists) -> None:
        self.exists = exists


# Does a unit with this id exist? (Dispatch answers; bootstrap wires it.)
UnitExists = Callable[[AsyncSession, str], Awaitable[bool]]


class UnitLookup:
    """Dispatch's answer to "does this unit exist" (a crew member's unit), from the wiring."""

    def __init__(self, exists: UnitExists) -> None:
        self.exists = exists


async def _check_unit(
    session: AsyncSession, unit_exists: UnitExists | None, unit_id: str | None
) -> None:
    if unit_id is None:
        return
    if unit_exists is None or not await unit_exists(session, unit_id):
        raise ValidationFailed(
            f"unit_id: no unit {unit_id!r} exists",
            errors=[{"field": "unit_id", "message": "no such unit", "type": "not_found"}],
        )


def check_password(password: str, *, username: str | None) -> None:
    """ValidationFailed naming the field when the policy (passwords.py) refuses `password`."""
    problem = password_problem(password, username=username)
    if problem is not None:
        raise ValidationFailed(
            f"password: {problem}",
            errors=[{"field": "password", "message": problem, "type": "password_policy"}],
        )


async def _check_hospital(
    session: AsyncSession, hospital_exists: HospitalExists, hospital_id: str | None
) -> None:
    if hospital_id is not None and not await hospital_exists(session, hospital_id):
        raise ValidationFailed(
            f"hospital_id: no hospital {hospital_id!r} exists",
            errors=[{"field": "hospital_id", "message": "no such hospital", "type": "not_found"}],
        )


async def create_user(
    *,
    session: AsyncSession,
    passwords: Passwords,
    data: UserCreate,
    now: datetime,
    hospital_exists: HospitalExists,
    unit_exists: UnitExists | None = None,
) -> User:
    if data.role not in HUMAN_ROLES:
        raise ValidationFailed(f"role {data.role.value!r} is for API keys, not users")
    check_password(data.password, username=data.username)
    await _check_hospital(session, hospital_exists, data.hospital_id)
    await _check_unit(session, unit_exists, data.unit_id)
    user = User(
        id=new_id(),
        username=data.username,
        password_hash=passwords.hash(data.password),
        role=data.role.value,
        hospital_id=data.hospital_id,
        unit_id=data.unit_id,
        active=True,
        created_at=now,
        auth_version=0,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(f"a user named {data.username!r} already exists") from exc
    return user


async def get_user(*, session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


async def list_users(*, session: AsyncSession) -> Sequence[User]:
    return (await session.scalars(select(User).order_by(User.username))).all()


async def update_user(
    *,
    session: AsyncSession,
    passwords: Passwords,
    user_id: str,
    data: UserUpdate,
    now: datetime,
    hospital_exists: HospitalExists,
    unit_exists: UnitExists | None = None,
) -> tuple[User, bool]:
    """The updated user, and whether its sessions ended (its standing changed)."""
    user = await get_user(session=session, user_id=user_id)
    before = (user.active, user.role, user.hospital_id, user.unit_id)
    if data.role is not None:
        if data.role not in HUMAN_ROLES:
            raise ValidationFailed(f"role {data.role.value!r} is for API keys, not users")
        user.role = data.role.value
    if data.hospital_id is not None:
        await _check_hospital(session, hospital_exists, data.hospital_id)
        user.hospital_id = data.hospital_id
    if data.unit_id is not None:
        # "" takes the account off its unit (None leaves it as it is).
        await _check_unit(session, unit_exists, data.unit_id or None)
        user.unit_id = data.unit_id or None
    if data.password is not None:
        check_password(data.password, username=user.username)
        user.password_hash = passwords.hash(data.password)
    if data.active is not None:
        user.active = data.active
    # A new unit ends the sessions too: the token names the unit the crew acts for.
    changed = (
        data.password is not None
        or (
            user.active,
            user.role,
            user.hospital_id,
            user.unit_id,
        )
        != before
    )
    if changed:
        await end_sessions(session=session, user=user, now=now)
    return user, changed


async def end_sessions(*, session: AsyncSession, user: User, now: datetime) -> None:
    """A changed account must log in again: its refresh tokens are revoked and its access tokens
    (which carry the old version) are refused from now on, in HTTP and on WebSockets."""
    user.auth_version = (user.auth_version or 0) + 1
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def change_own_password(
    *,
    session: AsyncSession,
    passwords: Passwords,
    user_id: str,
    current_password: str,
    new_password: str,
    now: datetime,
) -> User:
    """The signed-in user's own change: the current password proves it is them."""
    user = await get_user(session=session, user_id=user_id)
    if not passwords.verify(user.password_hash, current_password):
        raise Unauthorized("the current password is not correct")
    if passwords.verify(user.password_hash, new_password):
        raise ValidationFailed(
            "password: the new password is the current one",
            errors=[{"field": "new_password", "message": "same as the current password"}],
        )
    check_password(new_password, username=user.username)
    user.password_hash = passwords.hash(new_password)
    await end_sessions(session=session, user=user, now=now)
    return user


async def set_password(
    *, session: AsyncSession, passwords: Passwords, username: str, password: str, now: datetime
) -> User:
    """An administrator's reset (`emsync users set-password`): no current password needed."""
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    check_password(password, username=username)
    user.password_hash = passwords.hash(password)
    await end_sessions(session=session, user=user, now=now)
    return user


async def authenticate_password(
    *, session: AsyncSession, passwords: Passwords, username: str, password: str
) -> User | None:
    user = await session.scalar(select(User).where(User.username == username))
    ok = passwords.verify(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        return None
    return user


async def issue_tokens(
    *,
    session: AsyncSession,
    user: User,
    settings: AuthSettings,
    secret: str,
    now: datetime,
    family_id: str | None = None,
) -> TokenPair:
    lifetime = timedelta(minutes=settings.access_token_minutes)
    access = tokens.issue_access_token(
        secret=secret,
        user_id=user.id,
        username=user.username,
        role=user.role,
        hospital_id=user.hospital_id,
        now=now,
        lifetime=lifetime,
        version=user.auth_version or 0,
        unit_id=user.unit_id,
    )
    refresh_secret = tokens.new_secret()
    row = RefreshToken(
        id=new_id(),
        family_id=family_id or new_id(),
        user_id=user.id,
        secret_hash=tokens.hash_secret(refresh_secret),
        created_at=now,
        expires_at=now + timedelta(days=settings.refresh_token_days),
    )
    session.add(row)
    return TokenPair(
        access_token=access,
        expires_in=int(lifetime.total_seconds()),
        refresh_token=f"{REFRESH_PREFIX}_{row.id}_{refresh_secret}",
        role=Role(user.role),
        username=user.username,
    )


async def rotate_refresh_token(
    *, session: AsyncSession, token: str, settings: AuthSettings, secret: str, now: datetime
) -> TokenPair | None:
    """The next token pair, or None when the token is unusable.

    Presenting a token that was already used means it was stolen or replayed: the whole family
    (every token descended from that login) is revoked, so the thief's copy dies too. The caller
    commits in both cases, so the revocation sticks.
    """
    token_id, token_secret = tokens.split_compound(token, REFRESH_PREFIX)
    row = await session.get(RefreshToken, token_id, with_for_update=True)
    if row is None or not tokens.secret_matches(token_secret, row.secret_hash):
        raise Unauthorized("the refresh token is not valid")
    if row.used_at is not None or row.revoked_at is not None:
        await revoke_family(session=session, family_id=row.family_id, now=now)
        return None
    if as_utc(row.expires_at) <= now:
        raise Unauthorized("the refresh token has expired; log in again")
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("the account is disabled")
    row.used_at = now
    return await issue_tokens(
        session=session,
        user=user,
        settings=settings,
        secret=secret,
        now=now,
        family_id=row.family_id,
    )


async def revoke_family(*, session: AsyncSession, family_id: str, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def logout(*, session: AsyncSession, token: str, now: datetime) -> None:
    token_id, token_secret = tokens.split_compound(token, REFRESH_PREFIX)
    row = await session.get(RefreshToken, token_id)
    if row is None or not tokens.secret_matches(token_secret, row.secret_hash):
        raise Unauthorized("the refresh token is not valid")
    await revoke_family(session=session, family_id=row.family_id, now=now)


async def create_api_key(
    *,
    session: AsyncSession,
    data: ApiKeyCreate,
    created_by: str,
    now: datetime,
    hospital_exists: HospitalExists,
) -> tuple[ApiKey, str]:
    await _check_hospital(session, hospital_exists, data.hospital_id)
    secret = tokens.new_secret()
    row = ApiKey(
        id=new_id(),
        name=data.name,
        role=data.role.value,
        hospital_id=data.hospital_id,
        secret_hash=tokens.hash_secret(secret),
        created_by=created_by,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row, f"{API_KEY_PREFIX}_{row.id}_{secret}"


async def list_api_keys(*, session: AsyncSession) -> Sequence[ApiKey]:
    return (await session.scalars(select(ApiKey).order_by(ApiKey.created_at))).all()


async def revoke_api_key(*, session: AsyncSession, key_id: str, now: datetime) -> ApiKey:
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


async def principal_for_api_key(*, session: AsyncSession, key: str) -> Principal:
    key_id, secret = tokens.split_compound(key, API_KEY_PREFIX)
    row = await session.get(ApiKey, key_id)
    if row is None or not tokens.secret_matches(secret, row.secret_hash):
        raise Unauthorized("the API key is not valid")
    if row.revoked_at is not None:
        raise Unauthorized("the API key has been revoked")
    return Principal(
        id=row.id, name=row.name, role=Role(row.role), kind="api_key", hospital_id=row.hospital_id
    )


async def _no_hospitals(_session: AsyncSession, _hospital_id: str) -> bool:
    return False  # an admin belongs to no hospital


async def ensure_admin(
    *,
    session: AsyncSession,
    passwords: Passwords,
    username: str,
    password: str | None,
    now: datetime,
) -> str | None:
    """Create the first admin if there is no admin yet. Returns the password when generated."""
    existing = await session.scalar(select(User).where(User.role == Role.ADMIN.value).limit(1))
    if existing is not None:
        return None
    generated = None
    if password is None:
        generated = password = tokens.new_secret()[:24]
    await create_user(
        session=session,
        passwords=passwords,
        data=UserCreate(username=username, password=password, role=Role.ADMIN),
        now=now,
        hospital_exists=_no_hospitals,
    )
    return generated
