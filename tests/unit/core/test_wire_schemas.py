"""Issue 15 item 2: one wire shape per payload. A reading pushed on `vitals:<patient_id>` has
the schema the history returns, and every WebSocket message's schema is in the OpenAPI
components (`x-websocket`: channel -> message type -> schema) for the generated types."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from emsync.bootstrap import CHANNELS, create_app
from emsync.core.settings import Settings

REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data_dir = tmp_path_factory.mktemp("wire")
    app: FastAPI = create_app(
        Settings(
            env="development",
            data_dir=data_dir,
            database={"url": f"sqlite+aiosqlite:///{data_dir / 'emsync.db'}"},
        )
    )
    return app.openapi()


def test_a_pushed_reading_has_the_history_schema(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    vitals = schema["x-websocket"]["vitals"]
    assert vitals == {
        "vitals": {"$ref": REF + "VitalsPush"},
        "artefacts": {"$ref": REF + "ArtefactsPush"},
        "risk": {"$ref": REF + "RiskRead"},
    }
    pushed = components["VitalsPush"]["properties"]["readings"]["items"]
    history = components["VitalsHistory"]["properties"]["items"]["items"]
    assert pushed == history == {"$ref": REF + "VitalsReading"}


def test_a_feed_entry_has_one_schema_live_and_on_catch_up(schema: dict[str, Any]) -> None:
    feed = schema["paths"]["/api/handoffs/feed"]["get"]["responses"]["200"]
    page = feed["content"]["application/json"]["schema"]["$ref"].removeprefix(REF)
    entries = schema["components"]["schemas"][page]["properties"]["entries"]["items"]
    feed_kinds = {"handoff", "status", "update", "withdrawn"}
    handoffs = schema["x-websocket"]["handoffs"]
    assert {kind: handoffs[kind] for kind in feed_kinds} == dict.fromkeys(feed_kinds, entries)


def _response(schema: dict[str, Any], path: str) -> dict[str, Any]:
    content = schema["paths"][path]["get"]["responses"]["200"]["content"]
    return dict(content["application/json"]["schema"])


def test_alerts_incidents_handoffs_and_assignments_push_their_rest_schema(
    schema: dict[str, Any],
) -> None:
    """Issue 15 item 2: each pushed object has the schema its REST read returns."""
    wire = schema["x-websocket"]
    components = schema["components"]["schemas"]
    alerts_page = _response(schema, "/api/telemetry/alerts")["$ref"].removeprefix(REF)
    assert wire["alerts"] == {"alert": components[alerts_page]["properties"]["items"]["items"]}
    assert wire["incidents"] == {
        "incident": _response(schema, "/api/incidents/{incident_id}"),
        "assignment": _response(schema, "/api/crew/assignment"),
    }
    assert wire["handoffs"]["board"] == _response(schema, "/api/handoffs/{handoff_id}")


def test_every_message_of_every_channel_is_in_the_components(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for channel in CHANNELS:
        declared = schema["x-websocket"].get(channel.name, {})
        assert set(declared) == set(channel.message_schemas()), channel.name
        for ref in declared.values():
            assert ref["$ref"].removeprefix(REF) in components
