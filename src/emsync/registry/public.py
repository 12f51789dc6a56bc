"""What other domains call in the registry, inside their own transaction (the intake agents:
admission registers or finds the arriving person; medical records reads the chart, checks
allergy conflicts against the drug class table and files device reports).

Not re-exported from the package `__init__`: that would load the service (and SQLAlchemy) with
the registry's pure modules, which the import contracts forbid.
"""

from __future__ import annotations

from datetime import datetime

from emsync.core.uow import UnitOfWork
from emsync.registry import allergies
from emsync.registry.clinical import chart, drug_classes, record_entry
from emsync.registry.clinical_schemas import Chart, DeviceReportIn, EntryResult
from emsync.registry.index import PersonIndex
from emsync.registry.links import person_of_patient
from emsync.registry.schemas import PersonRegistration, RegistrationResult
from emsync.registry.service import prepare, register_in


async def register_arrival(
    *,
    uow: UnitOfWork,
    index: PersonIndex,
    data: PersonRegistration,
    actor: str,
    now: datetime,
) -> RegistrationResult:
    """Match and register an arriving person in the caller's transaction (not committed): the
    exact identifier holder, the probabilistic link, a review, or a new (possibly unknown)
    person, as `registry.service.register` decides."""
    return await register_in(uow, index, prepare(index, data, now), data, actor, now)


async def file_device_report(
    *,
    uow: UnitOfWork,
    index: PersonIndex,
    person_id: str,
    device_id: str,
    summary: str,
    source_key: str,
    actor: str,
    now: datetime,
) -> EntryResult:
    """A device report on the person's chart in the caller's transaction; `source_key` makes
    a repeat a Conflict instead of a second entry."""
    return await record_entry(
        uow=uow,
        index=index,
        person_id=person_id,
        content=DeviceReportIn(source="monitor", device_id=device_id, summary=summary),
        actor=actor,
        now=now,
        source_key=source_key,
        commit=False,
    )


__all__ = [
    "Chart",
    "PersonIndex",
    "PersonRegistration",
    "RegistrationResult",
    "allergies",
    "chart",
    "drug_classes",
    "file_device_report",
    "person_of_patient",
    "register_arrival",
]
