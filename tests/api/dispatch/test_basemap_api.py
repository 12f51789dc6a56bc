"""The basemap archive over range requests: what the dashboard's PMTiles reader asks for
(default Helsinki map, built on first use)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from emsync.auth.permissions import Role
from tests.builders import auth_headers


async def test_the_archive_is_read_by_byte_ranges(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    response = await client.get(
        "/api/map/basemap.pmtiles", headers={**headers, "Range": "bytes=0-126"}
    )
    assert response.status_code == 206, response.text
    assert response.content[:7] == b"PMTiles"
    assert response.content[7] == 3  # spec version
    assert len(response.content) == 127
    size = int(response.headers["content-range"].split("/")[1])
    assert response.headers["content-range"] == f"bytes 0-126/{size}"
    assert response.headers["accept-ranges"] == "bytes"
    tail = await client.get(
        "/api/map/basemap.pmtiles", headers={**headers, "Range": f"bytes={size - 10}-{size + 99}"}
    )
    assert tail.status_code == 206
    assert len(tail.content) == 10
    beyond = await client.get(
        "/api/map/basemap.pmtiles", headers={**headers, "Range": f"bytes={size}-{size + 5}"}
    )
    assert beyond.status_code == 416


@pytest.mark.parametrize("bad", ["bytes=5-1", "bytes=0-", "items=0-10", "bytes=0-99999999"])
async def test_a_bad_range_is_a_problem(app: FastAPI, client: httpx.AsyncClient, bad: str) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    response = await client.get("/api/map/basemap.pmtiles", headers={**headers, "Range": bad})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_basemap_needs_a_login(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/api/map/basemap.pmtiles", headers={"Range": "bytes=0-126"})
    assert response.status_code == 401
