"""The models shipped in the package, loaded on first use and cached per process."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from emsync.triage.acuity import AcuityModel
from emsync.triage.deterioration import DeteriorationModel
from emsync.triage.features import Mode

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def acuity_path(mode: Mode, directory: Path = ARTIFACTS) -> Path:
    return directory / f"acuity-{mode.value}.json"


def deterioration_path(directory: Path = ARTIFACTS) -> Path:
    return directory / "deterioration.json"


@cache
def acuity_model(mode: Mode) -> AcuityModel:
    """The shipped acuity model for `mode` (loading and checksum check happen once per process)."""
    return AcuityModel.load(acuity_path(Mode(mode)))


@cache
def deterioration_model() -> DeteriorationModel:
    return DeteriorationModel.load(deterioration_path())
