"""JWT access tokens (short-lived, HS256) and opaque refresh/API-key secrets (hashed at rest)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from emsync.core.errors import Unauthorized

ALGORITHM = "HS256"
ISSUER = "emsync"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    username: str
    role: str
    hospital_id: str | None
    expires_at: datetime
    version: int  # the account's version when issued: a later change makes the token stale
    unit_id: str | None = None


def issue_access_token(
    *,
    secret: str,
    user_id: str,
    username: str,
    role: str,
    hospital_id: str | None,
    now: datetime,
    lifetime: timedelta,
    version: int = 0,
    unit_id: str | None = None,
) -> str:
    claims = {
        "iss": ISSUER,
        "sub": user_id,
        "name": username,
        "role": role,
        "hospital_id": hospital_id,
        "unit_id": unit_id,
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": secrets.token_hex(8),
        "ver": version,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


# Tokens already verified, by (secret, token): a client sends the same token with each request
# until it renews it, and verifying it (base64, JSON, HMAC, claim checks) was about a tenth of
# the server's CPU on a one-row read. A verified token's claims never change and its signature
# stays good; only its expiry is checked again on each use, as jwt.decode does. Bounded: the
# oldest entries go first.
_VERIFIED: OrderedDict[tuple[str, str], AccessClaims] = OrderedDict()
_VERIFIED_CAPACITY = 4096


def decode_access_token(token: str, *, secret: str) -> AccessClaims:
    key = (secret, token)
    claims = _VERIFIED.get(key)
    if claims is None:
        claims = _verify_access_token(token, secret=secret)
        _VERIFIED[key] = claims
        if len(_VERIFIED) > _VERIFIED_CAPACITY:
            _VERIFIED.popitem(last=False)
    # jwt.decode's own rule: expired once `exp` <= now.
    if claims.expires_at.timestamp() <= time.time():
        _VERIFIED.pop(key, None)
        raise Unauthorized("the access token has expired; refresh it")
    return claims


def _verify_access_token(token: str, *, secret: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the access token has expired; refresh it") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("the access token is invalid") from exc
    if claims.get("typ") != "access":
        raise Unauthorized("not an access token")
    return AccessClaims(
        user_id=str(claims["sub"]),
        username=str(claims.get("name", "")),
        role=str(claims.get("role", "")),
        hospital_id=claims.get("hospital_id"),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        version=_version(claims.get("ver")),
        unit_id=claims.get("unit_id"),
    )


def _version(value: object) -> int:
    # Tokens issued before versions existed carry none: version 0, what every account starts at.
    if value is None:
        return 0
    if type(value) is not int:
        raise Unauthorized("the access token is invalid")
    return value


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    # Secrets are 256 random bits, so a fast hash is enough (no dictionary to defend against).
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, expected_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), expected_hash)


def split_compound(token: str, prefix: str) -> tuple[str, str]:
    """`<prefix>_<id>_<secret>` → (id, secret); the id finds the row, the secret proves it."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != prefix or len(parts[1]) != 36:
        raise Unauthorized(f"malformed {prefix} token")
    return parts[1], parts[2]
