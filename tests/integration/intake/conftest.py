"""Intake agent fixtures: the app's runtime as the agents' dependencies, an ED with a bed
board, a registered patient with a penicillin allergy, a surgeon with follow-up slots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.intake.agents import AGENTS, AgentDeps, StepInput, StepOutput
from tests.builders import auth_headers
from tests.registry_builders import national_id, person_body


@pytest.fixture
async def admin(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(app, client, Role.ADMIN)


@pytest.fixture
def deps(app: FastAPI) -> AgentDeps:
    return AgentDeps.from_runtime(app.state.runtime)


@dataclass
class Ed:
    hospital_id: str
    beds: dict[str, str]  # label -> id
    person_id: str
    national_id: str
    clinician_id: str


async def ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def make_ed(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    *,
    slots: int = 3,
    beds: tuple[tuple[str, str, bool], ...] = (
        ("R1", "resus", True),
        ("M1", "majors", False),
        ("N1", "minors", False),
    ),
) -> Ed:
    hospital = await ok(
        await client.post(
            "/api/hospitals",
            json={"name": "Meilahti", "lat": 60.19, "lon": 24.90, "ed_beds_available": 9},
            headers=admin,
        )
    )
    ids = {}
    for label, zone, monitored in beds:
        bed = await ok(
            await client.post(
                "/api/intake/beds",
                json={
                    "hospital_id": hospital["id"],
                    "zone": zone,
                    "label": label,
                    "monitored": monitored,
                },
                headers=admin,
            )
        )
        ids[label] = bed["id"]
    nid = national_id()
    person = person_body(identifiers=[{"system": "national", "value": nid}])
    registered = await ok(await client.post("/api/persons", json=person, headers=admin))
    pid = registered["person"]["id"]
    await ok(
        await client.post(
            f"/api/persons/{pid}/entries",
            json={
                "kind": "allergy",
                "substance": "Penicillin",
                "severity": "severe",
                "reaction": "anaphylaxis",
            },
            headers=admin,
        )
    )
    clinician = await ok(
        await client.post(
            "/api/intake/clinicians",
            json={"name": "Dr Ada Surgeon", "specialty": "surgery"},
            headers=admin,
        )
    )
    if slots:
        start = app.state.runtime.clock().replace(microsecond=0) + timedelta(days=2)
        await ok(
            await client.post(
                f"/api/intake/clinicians/{clinician['id']}/availability",
                json={
                    "starts_at": start.isoformat(),
                    "ends_at": (start + timedelta(minutes=20 * slots)).isoformat(),
                    "slot_minutes": 20,
                    "location": "Surgical clinic 3",
                },
                headers=admin,
            )
        )
    return Ed(hospital["id"], ids, pid, nid, clinician["id"])


def arrival(ed: Ed, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hospital_id": ed.hospital_id,
        "hospital_name": "Meilahti",
        "jurisdiction": "GB-ENG",
        "person": {
            "given_name": "Aino",
            "family_name": "Virtanen",
            "birth_date": "1961-03-14",
            "sex": "female",
            "language": "fi",
            "identifiers": [{"system": "national", "value": ed.national_id}],
            "emergency_contacts": [
                {"name": "Pekka Virtanen", "relation": "son", "phone": "+358401112233"}
            ],
            "insurance": [{"payer": "Kela", "member_id": "K-42"}],
        },
        "sex": "female",
        "chief_complaint": "stab wound to abdomen",
        "mechanism": "stabbed with a kitchen knife",
        "injury": True,
        "vitals": {"hr": 118, "rr": 24, "spo2": 95, "sbp": 96, "dbp": 60, "temp": 36.6},
        "planned_medications": ["amoxicillin"],
    }
    body.update(overrides)
    return body


EMERGENCY = (
    "triage",
    "admission",
    "legal",
    "medical_records",
    "smart_health_device",
    "billing",
    "communication",
    "scheduling",
)


async def run_workflow(
    deps: AgentDeps,
    payload: dict[str, Any],
    order: tuple[str, ...] = EMERGENCY,
    session_id: UUID | None = None,
    workflow: str = "emergency",
) -> dict[str, StepOutput]:
    """The agents in order, each seeing the earlier outputs, as the orchestrator runs them."""
    sid = session_id or uuid4()
    done: dict[str, StepOutput] = {}
    for name in order:
        step = StepInput(
            session_id=sid,
            workflow=workflow,
            agent=name,
            payload=payload,
            previous={k: v.output for k, v in done.items()},
            idempotency_key=StepInput.key_for(sid, name),
        )
        done[name] = await AGENTS[name].run(step, deps)
    return done
