"""Secrets people hold in their hand, pure: signed one-time acknowledgement links, contact
verification codes, reply codes, address digests, and the Twilio request signature.
No I/O: keys come in as bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

ACK_TOKEN_BYTES = 16
_SIG_BYTES = 16


def derive_key(secret: str, purpose: str) -> bytes:
    """A key of its own per purpose from the app's signing secret (a leak of one use's tag
    cannot be replayed as another's)."""
    return hmac.new(secret.encode(), f"emsync.notifications.{purpose}".encode(), "sha256").digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_ack_token(key: bytes) -> tuple[str, str]:
    """(token id, token): the id is stored with the page and person; the token goes in the link."""
    token_id = _b64(secrets.token_bytes(ACK_TOKEN_BYTES))
    return token_id, ack_token_from_id(key, token_id)


def ack_token_from_id(key: bytes, token_id: str) -> str:
    """The link token of a stored id (only the holder of the key can make it)."""
    tag = hmac.new(key, token_id.encode(), "sha256").digest()[:_SIG_BYTES]
    # "~", not ".": the dashboard serves a last path segment with a dot as a file, not a page.
    return f"{token_id}~{_b64(tag)}"


def ack_token_id(key: bytes, token: str) -> str | None:
    """The token's id when its signature is ours, else None (forged or mangled links never
    reach the database). The whole token is compared, so no other spelling of the same bytes
    passes either."""
    token_id, _, tag = token.partition("~")
    if not token_id or not tag or len(token) > 100:
        return None
    expected = ack_token_from_id(key, token_id)
    return token_id if hmac.compare_digest(token.encode(), expected.encode()) else None


def new_code(digits: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def code_digest(key: bytes, code: str) -> str:
    return hmac.new(key, code.strip().encode(), "sha256").hexdigest()


def address_digest(key: bytes, kind: str, normalized: str) -> str:
    """A lookup key for a sealed address (an SMS reply names only the sender's number)."""
    return hmac.new(key, f"{kind}:{normalized}".encode(), "sha256").hexdigest()


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 over the full URL followed by each POST parameter's
    name and value, sorted by name (Twilio's documented scheme)."""
    data = url + "".join(f"{k}{v}" for k, v in sorted(params, key=lambda kv: kv[0]))
    return base64.b64encode(
        hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    ).decode()


def twilio_signature_valid(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str
) -> bool:
    expected = twilio_signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), signature.encode())
