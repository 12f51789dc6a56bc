"""Builders for handoff tests: a complete ATMIST body, files with real magic bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

# Distinctive strings the raw-storage test searches for: none may be stored in plaintext.
PATIENT_NAME = "Eero Plaintextson"
COMPLAINT = "crushing retrosternal pain marker-7f3a"
FINDING = "suspected inferior STEMI marker-91bc"

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.7\n%ECG 12-lead marker\n" + b"0" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


def atmist(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "patient": {"name": PATIENT_NAME, "age_years": 64, "sex": "male"},
        "time_of_onset": (now - timedelta(minutes=40)).isoformat(),
        "mechanism": COMPLAINT,
        "injuries": [FINDING],
        "signs": [
            {"ts": (now - timedelta(minutes=10)).isoformat(), "hr": 112, "spo2": 93, "rr": 22,
             "sbp": 98, "dbp": 60, "temp": 36.9, "avpu": "A"},
            {"ts": now.isoformat(), "hr": 124, "spo2": 92, "rr": 24, "sbp": 86, "dbp": 54},
        ],
        "treatment": [
            {"kind": "medication", "name": "aspirin", "dose_value": 300, "dose_unit": "mg",
             "route": "oral"},
            {"kind": "procedure", "name": "12-lead ECG"},
        ],
    }  # fmt: skip
    body.update(overrides)
    return body


def handoff_body(incident_id: str, hospital_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "incident_id": incident_id,
        "unit_id": "MEDIC-12",
        "hospital_id": hospital_id,
        "eta": (datetime.now(UTC) + timedelta(minutes=12)).isoformat(),
        "acuity": 2,
        "news2": 7,
        "crew": ["Paramedic Kallio", "EMT Nieminen"],
        "content": atmist(),
    }
    body.update(overrides)
    return body


async def sent_handoff(
    client: httpx.AsyncClient, crew: dict[str, str], incident_id: str, hospital_id: str
) -> dict[str, Any]:
    created = await client.post(
        "/api/handoffs", json=handoff_body(incident_id, hospital_id), headers=crew
    )
    assert created.status_code == 201, created.text
    sent = await client.post(f"/api/handoffs/{created.json()['id']}/send", headers=crew)
    assert sent.status_code == 200, sent.text
    body: dict[str, Any] = sent.json()
    return body
