"""Password hashing with argon2id (OWASP's first choice) and the password policy.

The hashing cost is a setting: production keeps the library's defaults; the test suite lowers it
so that creating hundreds of users stays fast.

The policy follows NIST SP 800-63B-4 §3.1.1.2 for passwords used as a single factor: at least
15 characters, any characters allowed (spaces and Unicode, compared after NFKC normalisation),
no composition rules, no expiry; refused when on a list of commonly used or compromised values
or when guessable (context words such as the username count). The list and the estimator are
zxcvbn's (Dropbox): its 30,000 most common passwords and its pattern matcher (repeats,
sequences, keyboard walks, dates, l33t dictionary words).
"""

from __future__ import annotations

import unicodedata
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_PASSWORD_LENGTH = 15
MAX_PASSWORD_LENGTH = 256
# zxcvbn's score 3: "safely unguessable: moderate protection from an offline slow-hash scenario".
MIN_STRENGTH_SCORE = 3
# zxcvbn's matching is quadratic in length; past this many characters it adds nothing.
_ESTIMATE_PREFIX = 100
_CONTEXT_WORDS = ("emsync", "ambulance", "hospital", "dispatch", "paramedic", "emergency")


def normalized(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@cache
def _common() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, username: str | None = None) -> str | None:
    """Why `password` may not be used, or None when it may."""
    value = normalized(password)
    if len(value) < MIN_PASSWORD_LENGTH:
        return f"use at least {MIN_PASSWORD_LENGTH} characters (a few words make a good one)"
    if len(value) > MAX_PASSWORD_LENGTH:
        return f"use at most {MAX_PASSWORD_LENGTH} characters"
    if not value.strip():
        return "a password of only spaces is too easy to guess"
    if value.lower() in _common():
        return "this is one of the most commonly used passwords"
    context = [*_CONTEXT_WORDS, *([username] if username else [])]
    result = zxcvbn(value[:_ESTIMATE_PREFIX], user_inputs=context)
    if result["score"] < MIN_STRENGTH_SCORE:
        warning = result["feedback"]["warning"] or "it follows a pattern"
        return f"too easy to guess: {warning.rstrip('.').lower()}; add more unusual words"
    return None


class Passwords:
    def __init__(self, *, time_cost: int = 3, memory_cost_kib: int = 65536) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib)
        # Verified against when the username does not exist, so timing does not reveal users.
        self._dummy_hash = self._hasher.hash("emsync-dummy-password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(normalized(password))

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            ok = self._hasher.verify(password_hash or self._dummy_hash, normalized(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return ok and password_hash is not None
