"""Live risk scores at rest: sealed to their row, and thinned for a chart (no database)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from emsync.core.crypto import Keyring, KeyringError
from emsync.telemetry.risk_scores import open_row, sealed_row, thinned
from emsync.telemetry.schemas import RiskRead
from tests.conftest import TEST_MASTER_KEYS

KEYRING = Keyring.from_json(TEST_MASTER_KEYS)
SCORE = RiskRead(
    patient_id="p-1",
    ts=datetime(2026, 12, 6, 9, 30, tzinfo=UTC),
    probability=0.2731,
    previous=0.2104,
    trend="rising",
    hours_observed=2.5,
    model_version="deterioration-1",
)


@dataclass
class Row:
    patient_id: str
    ts: datetime
    model_version: str
    sealed: bytes


def test_a_stored_score_reads_back_as_it_was_pushed() -> None:
    row = sealed_row(KEYRING, SCORE, datetime.now(UTC))
    assert b"0.2731" not in row["sealed"]
    back = open_row(KEYRING, Row(row["patient_id"], row["ts"], row["model_version"], row["sealed"]))
    assert back == SCORE


def test_a_score_moved_to_another_patient_does_not_open() -> None:
    row = sealed_row(KEYRING, SCORE, datetime.now(UTC))
    with pytest.raises(KeyringError):
        open_row(KEYRING, Row("p-2", row["ts"], row["model_version"], row["sealed"]))


def test_thinning_keeps_the_newest_and_spreads_the_rest() -> None:
    assert thinned([1, 2, 3], 5) == [1, 2, 3]
    picked = thinned(list(range(100)), 10)
    assert len(picked) == 10
    assert picked[-1] == 99
    assert picked == sorted(picked)
    gaps = {b - a for a, b in itertools.pairwise(picked)}
    assert gaps == {10}
