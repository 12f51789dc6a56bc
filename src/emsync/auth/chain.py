"""The audit hash chain (pure): each entry's hash covers its fields and the previous hash,
so editing or deleting any past entry breaks every hash after it.

Keyed (issue #14 item 6): the hash is an HMAC-SHA256 under the audit key, which is not in the
database, so someone who can write the database cannot recompute the chain after an edit.
Entries written before the chain was keyed (`key_id` None, plain SHA-256) are accepted only as
a prefix: an unkeyed entry after a keyed one is a forgery. Truncation of the tail is caught by
signed checkpoints kept outside the database (`checkpoints.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from emsync.core.clock import as_utc

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class ChainedEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    request_id: str
    outcome: str
    prev_hash: str
    hash: str
    key_id: int | None = None


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    request_id: str,
    outcome: str,
    prev_hash: str,
    key: bytes | None = None,
) -> str:
    # Timestamps are hashed at microsecond precision in UTC text: both databases keep that.
    body = json.dumps(
        [
            seq,
            as_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%f"),
            actor,
            action,
            target,
            request_id,
            outcome,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    message = (prev_hash + body).encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    head_hash: str
    first_broken_seq: int | None
    problem: str | None
    unkeyed: int = 0  # entries from before the chain was keyed (a prefix)

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(
    entries: Iterable[ChainedEntry], *, keys: Mapping[int, bytes] | None = None
) -> ChainReport:
    """Recompute the chain; `keys` are the audit keys by id (None: check unkeyed entries only)."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    unkeyed = 0
    keyed_seen = False
    for e in entries:
        count += 1
        if e.seq != expected_seq:
            return ChainReport(count, prev, e.seq, f"entry {expected_seq} is missing", unkeyed)
        if e.prev_hash != prev:
            problem = f"entry {e.seq} does not follow its predecessor"
            return ChainReport(count, prev, e.seq, problem, unkeyed)
        key: bytes | None = None
        if e.key_id is None:
            if keyed_seen:
                problem = f"entry {e.seq} is unkeyed after keyed entries (forged)"
                return ChainReport(count, prev, e.seq, problem, unkeyed)
            unkeyed += 1
        else:
            keyed_seen = True
            key = (keys or {}).get(e.key_id)
            if key is None:
                problem = f"entry {e.seq} is keyed with audit key {e.key_id}: not configured"
                return ChainReport(count, prev, e.seq, problem, unkeyed)
        recomputed = entry_hash(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            target=e.target,
            request_id=e.request_id,
            outcome=e.outcome,
            prev_hash=e.prev_hash,
            key=key,
        )
        if not hmac.compare_digest(recomputed, e.hash):
            return ChainReport(count, prev, e.seq, f"entry {e.seq} was altered", unkeyed)
        prev = e.hash
        expected_seq += 1
    return ChainReport(count, prev, None, None, unkeyed)
