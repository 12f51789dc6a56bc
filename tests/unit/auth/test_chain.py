"""The audit hash chain detects edits, deletions and reordering."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from emsync.auth.chain import GENESIS, ChainedEntry, entry_hash, verify_chain


def build(n: int) -> list[ChainedEntry]:
    entries, prev = [], GENESIS
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for seq in range(1, n + 1):
        fields = {
            "seq": seq,
            "at": start + timedelta(seconds=seq, microseconds=seq),
            "actor": f"user:{seq % 3}",
            "action": "POST /api/incidents",
            "target": "{}",
            "request_id": f"req{seq:08d}",
            "outcome": "success",
            "prev_hash": prev,
        }
        digest = entry_hash(**fields)  # type: ignore[arg-type]
        entries.append(ChainedEntry(**fields, hash=digest))  # type: ignore[arg-type]
        prev = digest
    return entries


def test_an_untouched_chain_verifies() -> None:
    report = verify_chain(build(20))
    assert report.ok
    assert report.entries == 20


def test_an_edited_field_is_detected_at_that_entry() -> None:
    entries = build(10)
    entries[4] = dataclasses.replace(entries[4], outcome="failure:403")
    report = verify_chain(entries)
    assert not report.ok
    assert report.first_broken_seq == 5


def test_a_deleted_entry_is_detected() -> None:
    entries = build(10)
    del entries[3]
    report = verify_chain(entries)
    assert report.first_broken_seq == 5
    assert report.problem == "entry 4 is missing"


def test_a_rehashed_edit_still_breaks_the_next_link() -> None:
    entries = build(6)
    forged = dataclasses.replace(entries[2], actor="user:evil")
    forged = dataclasses.replace(
        forged,
        hash=entry_hash(
            seq=forged.seq,
            at=forged.at,
            actor=forged.actor,
            action=forged.action,
            target=forged.target,
            request_id=forged.request_id,
            outcome=forged.outcome,
            prev_hash=forged.prev_hash,
        ),
    )
    entries[2] = forged
    report = verify_chain(entries)
    assert report.first_broken_seq == 4


def test_naive_and_aware_utc_times_hash_the_same() -> None:
    at = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    common = {
        "seq": 1,
        "actor": "a",
        "action": "b",
        "target": "c",
        "request_id": "d",
        "outcome": "e",
        "prev_hash": GENESIS,
    }
    assert entry_hash(at=at, **common) == entry_hash(at=at.replace(tzinfo=None), **common)  # type: ignore[arg-type]
