"""Shapes shared by every domain's API."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def refuse_explicit_null(model: BaseModel, *names: str) -> None:
    """For PATCH bodies: a field the record cannot lack may be left out, not set to null (a null
    reached the database's NOT NULL as a 500, issue #14 item 8)."""
    nulls = [n for n in names if n in model.model_fields_set and getattr(model, n) is None]
    if nulls:
        raise ValueError(f"{', '.join(nulls)} cannot be null; leave it out to keep the value")
