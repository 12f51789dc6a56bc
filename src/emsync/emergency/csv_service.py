"""CSV import (all or nothing, with a report naming each bad row and column) and export of
resources, personnel, shelters and supplies. An import runs the same use cases as the API, in
one transaction: each use case's commit becomes a flush, and the events go out after the one
real commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import DomainError, ValidationFailed
from emsync.core.uow import UnitOfWork
from emsync.emergency import (
    csvio,
    personnel_service,
    resource_service,
    shelter_service,
    supply_service,
)
from emsync.emergency.batch import BatchUnitOfWork
from emsync.emergency.personnel_schemas import PersonCreate
from emsync.emergency.resource_schemas import ResourceCreate
from emsync.emergency.shelter_schemas import ShelterCreate
from emsync.emergency.supply_schemas import ItemCreate

KINDS = tuple(csvio.COLUMNS)
_MODEL: dict[str, type[BaseModel]] = {
    "resources": ResourceCreate,
    "personnel": PersonCreate,
    "shelters": ShelterCreate,
    "supplies": ItemCreate,
}
_KEY = {"resources": "name", "personnel": "username", "shelters": "name", "supplies": "sku"}


def _validator(kind: str) -> Callable[[dict[str, Any]], list[tuple[str, str]]]:
    model = _MODEL[kind]
    seen: set[str] = set()

    def validate(row: dict[str, Any]) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        try:
            model.model_validate(row)
        except ValidationError as error:
            for e in error.errors():
                loc = [str(p) for p in e["loc"]]
                problems.append((loc[0] if loc else "", e["msg"]))
        key = row.get(_KEY[kind])
        if isinstance(key, str):
            if key.casefold() in seen:
                problems.append((_KEY[kind], f"{key!r} appears twice in the file"))
            seen.add(key.casefold())
        return problems

    return validate


async def _create(
    kind: str, uow: UnitOfWork, row: dict[str, Any], actor: str, now: datetime
) -> None:
    if kind == "resources":
        await resource_service.create_resource(
            uow=uow, data=ResourceCreate.model_validate(row), actor=actor, now=now
        )
    elif kind == "personnel":
        await personnel_service.create_person(
            uow=uow, data=PersonCreate.model_validate(row), now=now
        )
    elif kind == "shelters":
        await shelter_service.create_shelter(
            uow=uow, data=ShelterCreate.model_validate(row), actor=actor, now=now
        )
    else:
        await supply_service.create_item(
            uow=uow, data=ItemCreate.model_validate(row), actor=actor, now=now
        )


def _report(errors: list[csvio.RowError]) -> ValidationFailed:
    listed = [{"row": e.row, "column": e.column, "message": e.message} for e in errors[:200]]
    first = errors[0]
    where = f"row {first.row}" + (f", column {first.column}" if first.column else "")
    return ValidationFailed(
        f"{len(errors)} problem(s) in the CSV; nothing was imported. "
        f"First: {where}: {first.message}",
        errors=listed,
    )


async def import_csv(*, uow: UnitOfWork, kind: str, data: bytes, actor: str, now: datetime) -> int:
    """Import every row or none; ValidationFailed lists each bad row and column."""
    rows, errors = csvio.parse(kind, data, _validator(kind))
    if errors:
        raise _report(errors)
    if not rows:
        raise ValidationFailed("the CSV has no data rows", row=2)
    batch = BatchUnitOfWork(uow.session, uow.bus)
    for number, row in enumerate(rows, start=2):
        try:
            await _create(kind, batch, row, actor, now)
        except DomainError as error:
            errors.append(csvio.RowError(number, error.extra.get("field"), error.detail))
    if errors:
        await batch.rollback()
        raise _report(errors)
    await batch.finish()
    return len(rows)


async def export_csv(*, session: AsyncSession, kind: str, bom: bool, now: datetime) -> bytes:
    records: list[dict[str, Any]]
    loaders: dict[str, Callable[[], Awaitable[list[Any]]]] = {
        "resources": lambda: resource_service.board(session=session),
        "personnel": lambda: personnel_service.list_people(session=session, today=now.date()),
        "shelters": lambda: shelter_service.list_shelters(session=session),
        "supplies": lambda: supply_service.list_items(session=session),
    }
    records = [r.model_dump(mode="json") for r in await loaders[kind]()]
    if kind == "resources":
        records = [r for r in records if r["source"] == "emergency"]  # ambulances: dispatch's
    if kind == "personnel":
        for r in records:
            r["qualifications"] = csvio.qualifications_text(r["qualifications"])
    return csvio.write(kind, records, bom=bom)
