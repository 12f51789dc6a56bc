"""Address search and reverse lookup over HTTP; an incident given an address only is placed and
gets a unit recommendation (SQLite and PostgreSQL, Monaco)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.geocoding import Geocoder, GeocoderService, load_geocoder
from emsync.routing import RoadMap
from tests.api.dispatch.conftest import map_path
from tests.builders import auth_headers, incident_body


@pytest.fixture(scope="session")
def monaco_geocoder(tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    return load_geocoder(map_path("monaco"), tmp_path_factory.mktemp("geocode")).geocoder


@pytest.fixture
def geocoding_app(monaco_app: FastAPI, monaco_geocoder: Geocoder) -> FastAPI:
    runtime: Runtime = monaco_app.state.runtime
    runtime.get(GeocoderService).use(monaco_geocoder)
    return monaco_app


async def test_search_as_typed_with_a_typo_and_reverse(
    geocoding_app: FastAPI, monaco_client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(geocoding_app, monaco_client, Role.DISPATCHER)
    response = await monaco_client.get(
        "/api/geocode",
        params={"q": "Bd Albret 1", "lat": 43.735, "lon": 7.42, "limit": 5},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    hits = response.json()
    assert hits[0]["kind"] == "street"
    assert hits[0]["name"] == "Boulevard Albert 1er"
    assert set(hits[0]) >= {"label", "lat", "lon", "score", "locality", "note", "interpolated"}
    assert "entry" not in hits[0]  # internal
    lat, lon = hits[0]["lat"], hits[0]["lon"]
    response = await monaco_client.get(
        "/api/geocode/reverse", params={"lat": lat, "lon": lon}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert "Boulevard Albert 1er" in [h["name"] for h in response.json()]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"q": ""}, 422),
        ({"q": "x" * 201}, 422),
        ({"q": "rue", "lat": 43.7}, 422),
        ({"q": "rue", "lat": 91, "lon": 7}, 422),
        ({"q": "rue", "limit": 0}, 422),
    ],
)
async def test_bad_queries_are_problems(
    geocoding_app: FastAPI,
    monaco_client: httpx.AsyncClient,
    params: dict[str, str | int | float],
    status: int,
) -> None:
    headers = await auth_headers(geocoding_app, monaco_client, Role.DISPATCHER)
    response = await monaco_client.get("/api/geocode", params=params, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_geocoding_needs_a_login(
    geocoding_app: FastAPI, monaco_client: httpx.AsyncClient
) -> None:
    assert (await monaco_client.get("/api/geocode", params={"q": "rue"})).status_code == 401
    response = await monaco_client.get("/api/geocode/reverse", params={"lat": 43.7, "lon": 7.4})
    assert response.status_code == 401


async def test_an_incident_with_an_address_only_is_placed_and_gets_a_recommendation(
    geocoding_app: FastAPI, monaco_client: httpx.AsyncClient, monaco: RoadMap
) -> None:
    client = monaco_client
    headers = await auth_headers(geocoding_app, client, Role.DISPATCHER)
    g = monaco.engine.graph
    station = (float(g.node_lat[100]), float(g.node_lon[100]))
    unit = {
        "call_sign": "ALS-1",
        "unit_type": "ALS",
        "station_name": "Central",
        "station_lat": station[0],
        "station_lon": station[1],
        "crew": ["A. Medic", "B. Driver"],
    }
    assert (await client.post("/api/units", json=unit, headers=headers)).status_code == 201
    typed = "rue grimladi, la condamine"
    body = incident_body(priority=1, address=typed, lat=None, lon=None)
    response = await client.post("/api/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    incident = response.json()
    assert incident["address"] == typed  # kept as typed
    # Rue Grimaldi in La Condamine, at its middle node
    assert incident["lat"] == pytest.approx(43.7350827, abs=1e-6)
    assert incident["lon"] == pytest.approx(7.4192503, abs=1e-6)
    rec = await client.get(
        f"/api/dispatch/incidents/{incident['id']}/recommendation", headers=headers
    )
    assert rec.status_code == 200, rec.text
    assert [r["call_sign"] for r in rec.json()["ranked"]] == ["ALS-1"]

    unknown = incident_body(address="zzzz qqqq xxxx", lat=None, lon=None)
    response = await client.post("/api/incidents", json=unknown, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["lat"] is None  # taken all the same, without a position
