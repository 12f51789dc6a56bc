"""Access tokens: a verified token is not verified again on each request, yet an expired one is
refused as before, and a token signed with another secret or altered is never taken from what
was verified."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from emsync.auth import tokens
from emsync.core.errors import Unauthorized

SECRET = "unit-test-secret-that-is-long-enough-0123456789"


def issue(lifetime: timedelta = timedelta(minutes=15)) -> str:
    return tokens.issue_access_token(
        secret=SECRET,
        user_id="u1",
        username="alice",
        role="dispatcher",
        hospital_id=None,
        now=datetime.now(UTC),
        lifetime=lifetime,
        version=3,
    )


def test_a_token_is_verified_once_and_read_the_same_after() -> None:
    token = issue()
    first = tokens.decode_access_token(token, secret=SECRET)
    assert (first.user_id, first.role, first.version) == ("u1", "dispatcher", 3)
    assert tokens.decode_access_token(token, secret=SECRET) is first


def test_a_verified_token_that_has_expired_since_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = issue(timedelta(seconds=60))
    tokens.decode_access_token(token, secret=SECRET)
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        tokens.decode_access_token(token, secret=SECRET)


def test_another_secret_or_an_altered_token_is_not_taken_from_the_cache() -> None:
    token = issue()
    tokens.decode_access_token(token, secret=SECRET)
    with pytest.raises(Unauthorized, match="invalid"):
        tokens.decode_access_token(token, secret=SECRET + "-other")
    header, payload, signature = token.split(".")
    altered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(Unauthorized, match="invalid"):
        tokens.decode_access_token(altered, secret=SECRET)
