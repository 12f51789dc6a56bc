"""Builders for emergency-management test data over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

Headers = dict[str, str]


async def post(client: httpx.AsyncClient, path: str, body: Any, headers: Headers) -> Any:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def shelter_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Kallio School",
        "address": "Porthaninkatu 2, Helsinki",
        "lat": 60.1841,
        "lon": 24.9497,
        "capacity_beds": 2,
        "capacity_accessible": 1,
        "capacity_pets": 1,
        "amenities": ["showers", "kitchen", "generator"],
    }
    body.update(overrides)
    return body


def alert_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "categories": ["Met", "Safety"],
        "event": "Flood",
        "response_types": ["Evacuate"],
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Observed",
        "headline": "Flood warning for Kallio: evacuate to Kallio School",
        "description": "River levels rising; streets near the shore are flooding.",
        "instruction": "Go to the Kallio School shelter. Bring medicines and pets.",
        "areas": [
            {
                "desc": "Kallio shore",
                "polygons": [[[60.18, 24.94], [60.19, 24.94], [60.19, 24.96], [60.18, 24.94]]],
                "circles": [{"lat": 60.184, "lon": 24.95, "radius_km": 1.5}],
            }
        ],
    }
    body.update(overrides)
    return body


def shift(start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    return {"starts_at": start.isoformat(), "ends_at": end.isoformat(), **extra}
