"""Is a configured secret random enough for production? (pure; issue #14 item 7)

Length alone let `'a' * 32` and `'password' * 4` through. A secret must also not be guessable
by a pattern matcher (zxcvbn's estimate: repeats, sequences, dictionary words, dates), nor be
made of a few characters. A binary key must not be all zeros or another short pattern; 32
random bytes have about 30 distinct values, so fewer than 16 is refused (chance ~1e-7).
"""

from __future__ import annotations

from zxcvbn import zxcvbn

MIN_SECRET_LENGTH = 32
# ~100 bits: far beyond any online or offline guessing, and what a random 32-character
# base64url secret scores with room to spare (zxcvbn reports ~10^32 and more for those).
MIN_GUESSES_LOG10 = 30
MIN_DISTINCT_CHARACTERS = 10
MIN_DISTINCT_KEY_BYTES = 16


def _periodic(value: bytes | str) -> bool:
    """Whether `value` is one shorter unit repeated (`abcabcabc...`)."""
    n = len(value)
    return any(n % p == 0 and value == value[:p] * (n // p) for p in range(1, n // 2 + 1))


def weak_secret(value: str) -> str | None:
    """Why `value` is too weak a secret, or None."""
    if len(value) < MIN_SECRET_LENGTH:
        return f"shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS or _periodic(value):
        return "a repeated pattern, not random"
    if zxcvbn(value[:100])["guesses_log10"] < MIN_GUESSES_LOG10:
        return "guessable (words, sequences or repeats), not random"
    return None


def weak_key(key: bytes) -> str | None:
    """Why a binary key is not random, or None."""
    if not any(key):
        return "all zero bytes"
    if len(set(key)) < MIN_DISTINCT_KEY_BYTES or _periodic(key):
        return "a repeated pattern, not random"
    return None
