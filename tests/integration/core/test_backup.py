"""`emsync backup create|restore` on SQLite and PostgreSQL: a restore reproduces every table row
for row, and the audit chain with the same head; a backup is refused where its keys are missing,
and its sealed keyring opens only with its passphrase."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, inspect, text

from emsync.auth import audit, checkpoints
from emsync.auth.chain import ChainReport
from emsync.auth.permissions import Role
from emsync.core.backup import BackupError, create_backup, read_manifest, restore_backup
from emsync.core.crypto import Keyring
from emsync.core.db import create_engine, session_factory
from emsync.core.settings import Settings
from emsync.telemetry.store import ReadingStore
from tests.builders import auth_headers, incident_body
from tests.conftest import _pg_admin, _pg_dsn, _sqlalchemy_url, make_settings
from tests.handoff_builders import PNG, handoff_body
from tests.telemetry_support import provision

PASSPHRASE = "a long keyring passphrase"
# Tables populate() fills; the round trip compares every table there is, these and any other.
FILLED = {
    "users", "refresh_tokens", "api_keys", "audit_log", "incidents", "patients",
    "incident_timeline", "units", "unit_status_log", "hospitals", "handoffs", "handoff_updates",
    "handoff_attachments", "handoff_outbox", "handoff_hospital_keys", "telemetry_devices",
    "telemetry_device_keys", "telemetry_readings",
}  # fmt: skip


async def populate(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Data in every domain through the API, as people would make it."""
    admin = await auth_headers(app, client, Role.ADMIN)
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    nurse = await auth_headers(app, client, Role.CLINICIAN, hospital_id="hosp-north")
    key = await client.post(
        "/api/api-keys", json={"name": "cad bridge", "role": "dispatcher"}, headers=admin
    )
    assert key.status_code == 201, key.text
    body = incident_body(patients=[{"name": "Eero", "age_years": 64, "sex": "male"}])
    incident = await client.post("/api/incidents", json=body, headers=crew)
    assert incident.status_code == 201, incident.text
    iid = incident.json()["id"]
    moved = await client.post(
        f"/api/incidents/{iid}/status", json={"status": "triaged"}, headers=admin
    )
    assert moved.status_code == 200, moved.text
    hospital = await client.post(
        "/api/hospitals",
        json={"name": "Backup General", "lat": 60.17, "lon": 24.94, "ed_beds_available": 4},
        headers=admin,
    )
    assert hospital.status_code == 201, hospital.text
    unit = await client.post(
        "/api/units",
        json={"call_sign": "MEDIC-7", "unit_type": "ALS", "station_lat": 60.17,
              "station_lon": 24.94, "crew": ["Kallio"]},
        headers=admin,
    )  # fmt: skip
    assert unit.status_code == 201, unit.text
    status = await client.post(
        f"/api/units/{unit.json()['id']}/status", json={"status": "out_of_service"}, headers=admin
    )
    assert status.status_code == 200, status.text
    created = await client.post("/api/handoffs", json=handoff_body(iid, "hosp-north"), headers=crew)
    assert created.status_code == 201, created.text
    hid = created.json()["id"]
    attached = await client.post(
        f"/api/handoffs/{hid}/attachments",
        data={"kind": "photo"},
        files={"file": ("wound.png", PNG, "image/png")},
        headers=crew,
    )
    assert attached.status_code == 201, attached.text
    sent = await client.post(f"/api/handoffs/{hid}/send", headers=crew)
    assert sent.status_code == 200, sent.text
    receipt = await client.post(
        f"/api/handoffs/{hid}/receipt", json={"status": "delivered"}, headers=nurse
    )
    assert receipt.status_code == 200, receipt.text
    patient_id = incident.json()["patients"][0]["id"]
    await provision(client, admin, "backup-mon-1", patient_id=patient_id)
    store = ReadingStore(app.state.runtime.engine)
    now = datetime.now(UTC)
    ts = store.convert_time(now)
    rows = [("backup-mon-1", 1, n, 0, "vitals", patient_id, ts, ts, b"sealed") for n in range(5)]
    assert await store.store(rows, ["backup-mon-1"], now) == 5


# Columns the live source app keeps writing while the test runs: its intake worker beats every
# `worker_heartbeat_seconds` (5 s), so on a loaded machine a beat can fall between the backup and
# the test's read of the source (seen in a run at load 15). Everything else is compared.
LIVE_COLUMNS = {"intake_workers": {"heartbeat_at"}}


def _column_names(conn: Connection, table: str) -> list[str]:
    return [str(c["name"]) for c in inspect(conn).get_columns(table)]


async def snapshot(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in a stable order (without LIVE_COLUMNS)."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
            out = {}
            for name in names:
                if name.startswith("telemetry_readings_"):  # PostgreSQL partitions: via parent
                    continue
                live = LIVE_COLUMNS.get(name, set())
                columns = "*"
                if live:
                    found = await conn.run_sync(_column_names, name)
                    assert live <= set(found), f"{name} lost a live column"
                    columns = ", ".join(f'"{c}"' for c in found if c not in live)
                rows = await conn.execute(text(f'SELECT {columns} FROM "{name}"'))  # noqa: S608
                out[name] = sorted((tuple(r) for r in rows), key=repr)
            return out
    finally:
        await engine.dispose()


async def chain(settings: Settings) -> ChainReport:
    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session:
            # The chain is keyed (HMAC under the audit key, never in the database).
            key = checkpoints.audit_key(settings, Keyring.from_settings(settings))
            return await audit.verify(session=session, key=key)
    finally:
        await engine.dispose()


@pytest.fixture
async def populated(app: FastAPI, client: httpx.AsyncClient) -> Settings:
    await populate(app, client)
    settings: Settings = app.state.runtime.settings
    return settings


async def _empty_target(source: Settings, tmp_path: Path, **overrides: Any) -> Settings:
    """A settings object like `source`, on a new empty database of the same backend."""
    if source.is_sqlite:
        url = f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'emsync.db'}"
    else:
        name = f"emsync_restore_{os.getpid()}_{abs(hash(str(tmp_path))) % 10**8}"
        await _pg_admin(f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
        url = _sqlalchemy_url(_pg_dsn(name))
    return make_settings(url, tmp_path / "target", **overrides)


async def _drop(target: Settings) -> None:
    if not target.is_sqlite:
        name = target.database_url.rsplit("/", 1)[1]
        await _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def test_a_restore_reproduces_every_table_and_the_audit_chain(
    populated: Settings, tmp_path: Path
) -> None:
    archive = tmp_path / "emsync.backup"
    manifest = await asyncio.to_thread(
        create_backup, settings=populated, output=archive, passphrase=None
    )
    assert archive.stat().st_mode & 0o777 == 0o600
    before = await snapshot(populated)
    empty = sorted(t for t in FILLED if not before.get(t))
    assert empty == [], f"populate() left these tables empty: {empty}"
    assert manifest.tables == {t: len(rows) for t, rows in before.items()}
    source_chain = await chain(populated)
    assert source_chain.ok
    assert source_chain.entries > 10
    target = await _empty_target(populated, tmp_path)
    try:
        await asyncio.to_thread(restore_backup, settings=target, archive=archive)
        assert await snapshot(target) == before
        restored_chain = await chain(target)
        assert restored_chain.ok
        assert restored_chain.head_hash == source_chain.head_hash
        assert restored_chain.entries == source_chain.entries
        # A second restore over it is refused unless forced: nothing is overwritten by mistake.
        with pytest.raises(BackupError, match="--force"):
            await asyncio.to_thread(restore_backup, settings=target, archive=archive)
    finally:
        await _drop(target)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_restore_is_refused_without_the_keys_that_sealed_the_data(
    populated: Settings, tmp_path: Path
) -> None:
    archive = tmp_path / "emsync.backup"
    await asyncio.to_thread(create_backup, settings=populated, output=archive)
    other_keys = json.dumps({"1": base64.b64encode(b"o" * 32).decode()})
    target = await _empty_target(populated, tmp_path, security={"master_keys": other_keys})
    with pytest.raises(BackupError, match="lacks key"):
        await asyncio.to_thread(restore_backup, settings=target, archive=archive)
    written = Path(target.database_url.split("///", 1)[1])
    assert not await asyncio.to_thread(written.exists)  # nothing written


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sealed_keyring_opens_only_with_its_passphrase(
    populated: Settings, tmp_path: Path
) -> None:
    archive = tmp_path / "emsync.backup"
    await asyncio.to_thread(
        create_backup, settings=populated, output=archive, passphrase=PASSPHRASE
    )
    with tarfile.open(archive) as tar:
        sealed = tar.extractfile("keyring.sealed")
        assert sealed is not None
        blob = sealed.read()
    keyring_json = populated.security.master_keys
    assert keyring_json is not None
    raw_key = next(iter(json.loads(keyring_json.get_secret_value()).values()))
    assert raw_key.encode() not in blob
    assert base64.b64decode(raw_key) not in blob
    assert read_manifest(archive).keyring.included
    other_keys = json.dumps({"1": base64.b64encode(b"o" * 32).decode()})
    target = await _empty_target(populated, tmp_path, security={"master_keys": other_keys})
    keys_out = tmp_path / "restored-keys.json"
    with pytest.raises(BackupError, match="passphrase does not open"):
        await asyncio.to_thread(
            restore_backup, settings=target, archive=archive, passphrase="wrong passphrase!",
            keys_out=keys_out,
        )  # fmt: skip
    assert not keys_out.exists()
    await asyncio.to_thread(
        restore_backup, settings=target, archive=archive, passphrase=PASSPHRASE,
        keys_out=keys_out,
    )  # fmt: skip
    assert keys_out.stat().st_mode & 0o777 == 0o600
    assert json.loads(keys_out.read_text()) == json.loads(keyring_json.get_secret_value())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_damaged_archive_is_refused(populated: Settings, tmp_path: Path) -> None:
    archive = tmp_path / "emsync.backup"
    manifest = await asyncio.to_thread(create_backup, settings=populated, output=archive)
    damaged = tmp_path / "damaged.backup"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member)
            assert data is not None
            content = data.read()
            if member.name == manifest.database_file:
                content = content[:-1] + bytes([content[-1] ^ 1])
            member.size = len(content)
            dst.addfile(member, io.BytesIO(content))
    target = await _empty_target(populated, tmp_path)
    with pytest.raises(BackupError, match="damaged archive"):
        await asyncio.to_thread(restore_backup, settings=target, archive=damaged)
