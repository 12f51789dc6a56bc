"""Hazard feeds: register a feed (CAP or GeoJSON earthquakes, from http(s) or a file), refresh
it into map features (replacing the feed's previous set in one transaction), serve the layer."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from urllib.parse import urljoin, urlparse

import httpx
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import Conflict, NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.settings import EmergencySettings
from emsync.core.uow import UnitOfWork
from emsync.emergency import hazards
from emsync.emergency.alert_schemas import FeedCreate, FeedStatus
from emsync.emergency.models import HazardFeature, HazardFeed


async def _read(url: str, settings: EmergencySettings, client: httpx.AsyncClient) -> bytes:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = _confined(Path(parsed.path), settings.hazard_file_dir)
        return await asyncio.to_thread(_read_file, path, settings.hazard_max_bytes)
    async with client.stream("GET", url) as response:
        response.raise_for_status()
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > settings.hazard_max_bytes:
                raise ValueError(f"the feed is larger than {settings.hazard_max_bytes} bytes")
        return bytes(body)


def _confined(path: Path, root: Path | None) -> Path:
    """A file feed's path, resolved (symlinks and `..` followed) and inside the configured
    feed directory; otherwise ValueError, so a feed URL cannot read the server's other files."""
    if root is None:
        raise ValueError("file:// feeds are disabled (set EMSYNC_EMERGENCY__HAZARD_FILE_DIR)")
    try:
        resolved, base = path.resolve(), root.resolve()
    except (OSError, RuntimeError) as error:
        raise ValueError(f"cannot resolve {path}: {error}") from error
    if not resolved.is_relative_to(base):
        raise ValueError(f"{path} is outside the hazard feed directory")
    return resolved


def _read_file(path: Path, limit: int) -> bytes:
    try:
        if not path.is_file():
            raise ValueError(f"no file at {path}")
        if path.stat().st_size > limit:
            raise ValueError(f"{path} is larger than {limit} bytes")
        return path.read_bytes()
    except OSError as error:  # unreadable, vanished, a special file: the feed's error, not ours
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from error


async def fetch_items(
    *, url: str, format: str, settings: EmergencySettings
) -> list[hazards.HazardItem]:
    """Read and parse a feed; ValueError, httpx.HTTPError or httpx.InvalidURL when it cannot
    be had."""
    async with httpx.AsyncClient(
        timeout=settings.hazard_fetch_timeout_seconds, follow_redirects=True
    ) as client:
        data = await _read(url, settings, client)
        if format == "geojson":
            return hazards.parse_geojson(data)
        items, links = hazards.parse_cap_document(data)
        for link in links:
            linked, _ = hazards.parse_cap_document(
                await _read(urljoin(url, link), settings, client)
            )
            items.extend(linked)
        return items


async def create_feed(*, uow: UnitOfWork, data: FeedCreate, now: datetime) -> FeedStatus:
    if await uow.session.scalar(select(HazardFeed.id).where(HazardFeed.name == data.name)):
        raise Conflict(f"a feed named {data.name!r} exists", field="name")
    feed = HazardFeed(id=new_id(), created_at=now, **data.model_dump())
    uow.session.add(feed)
    await uow.commit()
    return await _status(uow.session, feed)


async def _status(session: AsyncSession, feed: HazardFeed) -> FeedStatus:
    count = await session.scalar(
        select(func.count()).select_from(HazardFeature).where(HazardFeature.feed_id == feed.id)
    )
    return FeedStatus(
        id=feed.id,
        name=feed.name,
        url=feed.url,
        format=feed.format,
        last_fetched_at=feed.last_fetched_at,
        last_error=feed.last_error,
        features=int(count or 0),
    )


async def list_feeds(*, session: AsyncSession) -> list[FeedStatus]:
    feeds = (await session.scalars(select(HazardFeed).order_by(HazardFeed.name))).all()
    return [await _status(session, f) for f in feeds]


async def refresh(
    *, uow: UnitOfWork, feed_id: str, settings: EmergencySettings, now: datetime
) -> FeedStatus:
    """Fetch the feed; on success its features are replaced, on failure they stay and the
    error is recorded (a broken feed never blanks the map layer)."""
    session = uow.session
    feed = await session.get(HazardFeed, feed_id)
    if feed is None:
        raise NotFound(f"hazard feed {feed_id} does not exist")
    url, format_ = feed.url, feed.format
    await session.rollback()  # no transaction held open across the network read
    try:
        items = await fetch_items(url=url, format=format_, settings=settings)
    except (ValueError, httpx.HTTPError, httpx.InvalidURL) as error:
        feed = await session.get(HazardFeed, feed_id)
        assert feed is not None
        feed.last_error, feed.last_fetched_at = str(error)[:500], now
        await uow.commit()
        raise ValidationFailed(f"hazard feed {feed.name}: {error}", field="url") from error
    feed = await session.get(HazardFeed, feed_id)
    assert feed is not None
    await session.execute(delete(HazardFeature).where(HazardFeature.feed_id == feed_id))
    seen: set[str] = set()
    for item in items:
        if item.external_id in seen:
            continue
        seen.add(item.external_id)
        session.add(
            HazardFeature(
                feed_id=feed_id,
                external_id=item.external_id,
                title=item.title,
                severity=item.severity,
                at=item.at,
                geometry=item.geometry,
                properties=item.properties,
            )
        )
    feed.last_error, feed.last_fetched_at = None, now
    await uow.commit()
    return await _status(session, feed)


async def layer(*, session: AsyncSession) -> dict[str, object]:
    rows = (
        await session.execute(
            select(HazardFeature, HazardFeed.name).join(
                HazardFeed, HazardFeed.id == HazardFeature.feed_id
            )
        )
    ).all()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": f.geometry,
                "properties": {
                    "feed": name,
                    "title": f.title,
                    "severity": f.severity,
                    "at": f.at.isoformat() if f.at else None,
                    **f.properties,
                },
            }
            for f, name in rows
        ],
    }
