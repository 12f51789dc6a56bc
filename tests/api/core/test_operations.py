"""Health, readiness, metrics, request ids and logs that carry no personal data."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from emsync.auth.permissions import Role
from tests.builders import auth_headers, incident_body


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/health/ready")).json() == {"status": "ready"}


async def test_metrics_count_requests_by_route_template(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    await client.get("/api/incidents/some-id", headers=headers)
    text = (await client.get("/metrics")).text
    assert 'route="/api/incidents/{incident_id}"' in text
    assert "emsync_http_request_duration_seconds_bucket" in text
    assert "emsync_event_loop_lag_seconds_bucket" in text  # core.background.LoopLag
    assert "some-id" not in text


async def test_request_id_is_returned_and_a_safe_incoming_one_is_kept(
    client: httpx.AsyncClient,
) -> None:
    kept = await client.get("/health", headers={"X-Request-ID": "abc-123-def-456"})
    assert kept.headers["x-request-id"] == "abc-123-def-456"
    replaced = await client.get("/health", headers={"X-Request-ID": "<script>"})
    assert replaced.headers["x-request-id"] != "<script>"


async def test_logs_carry_no_personal_data(
    app: FastAPI, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    body = incident_body(caller_name="Ulla Secretname", callback_number="+358 50 999 8877")
    created = await client.post("/api/incidents", json=body, headers=headers)
    await client.get("/api/incidents?q=Secretname", headers=headers)
    await client.post("/api/incidents", json={**body, "lat": 500}, headers=headers)
    out = capsys.readouterr().out
    assert created.status_code == 201
    assert "Secretname" not in out
    assert "999 8877" not in out
    assert "Bearer" not in out


async def test_unknown_route_is_a_problem_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_api_docs_are_served_without_a_cdn(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert len(script.content) > 100_000
    assert (await client.get("/docs/oauth2-redirect")).status_code == 200
