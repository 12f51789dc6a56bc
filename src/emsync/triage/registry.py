"""The models shipped in the package, loaded on first use and cached per process.

The model modules (and with them xgboost, scikit-learn and scipy, ~1.5 s of CPU) are imported
by the first load, not by every process that imports the API: a server loads the deterioration
model as its live-risk service starts, before it serves; the acuity model on the first triage."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from emsync.triage.features import Mode

if TYPE_CHECKING:
    from emsync.triage.acuity import AcuityModel
    from emsync.triage.deterioration import DeteriorationModel

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def acuity_path(mode: Mode, directory: Path = ARTIFACTS) -> Path:
    return directory / f"acuity-{mode.value}.json"


def deterioration_path(directory: Path = ARTIFACTS) -> Path:
    return directory / "deterioration.json"


@cache
def acuity_model(mode: Mode) -> AcuityModel:
    """The shipped acuity model for `mode` (loading and checksum check happen once per process)."""
    from emsync.triage.acuity import AcuityModel

    return AcuityModel.load(acuity_path(Mode(mode)))


@cache
def deterioration_model() -> DeteriorationModel:
    from emsync.triage.deterioration import DeteriorationModel

    return DeteriorationModel.load(deterioration_path())
