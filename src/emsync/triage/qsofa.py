"""qSOFA, the quick Sepsis-related Organ Failure Assessment (Singer et al., JAMA 2016)."""

from __future__ import annotations

from typing import NamedTuple


class QsofaScore(NamedTuple):
    respiratory_rate: int
    altered_mentation: int
    systolic_bp: int
    total: int

    @property
    def positive(self) -> bool:
        """Two or more criteria flag a higher risk of poor outcome in suspected infection."""
        return self.total >= 2


def qsofa(
    *, rr: float, sbp: float, gcs: int | None = None, altered_mentation: bool | None = None
) -> QsofaScore:
    """One point each for RR >= 22/min, altered mentation (GCS < 15) and SBP <= 100 mmHg."""
    if altered_mentation is None:
        if gcs is None:
            raise ValueError("qSOFA needs either gcs or altered_mentation")
        altered_mentation = gcs < 15
    parts = (int(rr >= 22), int(altered_mentation), int(sbp <= 100))
    return QsofaScore(*parts, total=sum(parts))
