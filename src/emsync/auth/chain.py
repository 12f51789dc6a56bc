"""The audit hash chain (pure): each entry's hash covers its fields and the previous hash,
so editing or deleting any past entry breaks every hash after it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
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
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    head_hash: str
    first_broken_seq: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(entries: Iterable[ChainedEntry]) -> ChainReport:
    prev = GENESIS
    expected_seq = 1
    count = 0
    for e in entries:
        count += 1
        if e.seq != expected_seq:
            return ChainReport(count, prev, e.seq, f"entry {expected_seq} is missing")
        if e.prev_hash != prev:
            return ChainReport(count, prev, e.seq, f"entry {e.seq} does not follow its predecessor")
        recomputed = entry_hash(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            target=e.target,
            request_id=e.request_id,
            outcome=e.outcome,
            prev_hash=e.prev_hash,
        )
        if recomputed != e.hash:
            return ChainReport(count, prev, e.seq, f"entry {e.seq} was altered")
        prev = e.hash
        expected_seq += 1
    return ChainReport(count, prev, None, None)
