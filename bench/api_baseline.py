"""The plain-stack baseline of `bench/api.py`: FastAPI + SQLAlchemy 2 async (aiosqlite or asyncpg)
reading the incidents table EMsync seeded, with no auth, audit, middleware or sealing.

    .venv/bin/python bench/api_baseline.py --port N --database-url URL

Two routes, the shapes of EMsync's: `GET /incidents/{id}` (one row by primary key) and
`GET /incidents?limit=50` (the newest rows). It runs under the same uvicorn settings as
`emsync serve` (cli.py), so the difference the bench measures is EMsync's own request path.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer)
    chief_complaint: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    mci: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    number: int
    status: str
    priority: int
    chief_complaint: str
    address: str | None
    lat: float | None
    lon: float | None
    mci: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


class PageOut(BaseModel):
    items: list[IncidentOut]
    limit: int


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as s:
        yield s


Db = Annotated[AsyncSession, Depends(session)]


def build(database_url: str) -> FastAPI:
    app = FastAPI()
    app.state.sessions = async_sessionmaker(
        create_async_engine(database_url), expire_on_commit=False
    )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/incidents/{incident_id}", response_model=IncidentOut)
    async def get_incident(incident_id: str, s: Db) -> Incident:
        row = await s.get(Incident, incident_id)
        if row is None:
            raise HTTPException(404)
        return row

    @app.get("/incidents", response_model=PageOut)
    async def list_incidents(s: Db, limit: int = 50) -> PageOut:
        rows = (
            await s.scalars(select(Incident).order_by(Incident.created_at.desc()).limit(limit))
        ).all()
        return PageOut(items=[IncidentOut.model_validate(r) for r in rows], limit=limit)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    # The settings `emsync serve` passes (cli.py), TLS and proxies aside.
    uvicorn.run(
        build(args.database_url),
        host="127.0.0.1",
        port=args.port,
        access_log=False,
        log_level="warning",
        ws_max_size=64 * 1024,
    )


if __name__ == "__main__":
    main()
