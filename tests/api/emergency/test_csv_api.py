"""CSV import (all or nothing, a report naming rows and columns) and export, both backends."""

from __future__ import annotations

import csv
import io

import httpx

from tests.emergency_builders import post, shelter_body


async def _upload(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, text: str | bytes
) -> httpx.Response:
    data = text.encode() if isinstance(text, str) else text
    return await client.post(
        f"/api/emergency/csv/{kind}",
        files={"file": (f"{kind}.csv", data, "text/csv")},
        headers=headers,
    )


async def test_a_bad_row_imports_nothing_and_names_row_and_column(
    client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    text = (
        "name,kind,agency,capabilities,home_lat,home_lon\n"
        "Engine 1,fire_engine,Helsinki Fire,pump; ladder,60.17,24.94\n"
        "Boat 2,submarine,Coast Guard,,60.15,24.96\n"
        "Heli 3,helicopter,Border Guard,hoist,north,24.9\n"
        "Engine 1,fire_engine,Helsinki Fire,,60.1,24.9\n"
    )
    refused = await _upload(client, manager, "resources", text)
    assert refused.status_code == 422
    report = {(e["row"], e["column"]) for e in refused.json()["errors"]}
    assert report == {(3, "kind"), (4, "home_lat"), (5, "name")}
    board = (await client.get("/api/emergency/resources", headers=manager)).json()
    assert board == []
    header = await _upload(client, manager, "resources", "name,colour\nx,red\n")
    assert {(e["row"], e["column"]) for e in header.json()["errors"]} == {
        (1, "colour"),
        (1, "kind"),
        (1, "agency"),
        (1, "home_lat"),
        (1, "home_lon"),
    }
    await post(client, "/api/emergency/shelters", shelter_body(name="Existing"), manager)
    clash = await _upload(
        client,
        manager,
        "shelters",
        "name;lat;lon;capacity_beds\nNew;60.1;24.9;10\nExisting;60,2;24,9;5\n",
    )
    assert clash.status_code == 422
    assert [(e["row"], e["column"]) for e in clash.json()["errors"]] == [(3, "name")]
    names = [
        s["name"] for s in (await client.get("/api/emergency/shelters", headers=manager)).json()
    ]
    assert names == ["Existing"]


async def test_import_then_export_round_trips_for_a_spreadsheet(
    client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    people = (
        "\ufeffname,agency,username,qualifications\n"
        "Pia Paramedic,Helsinki EMS,pia,paramedic:2030-05-01; driver\n"
        '=HYPERLINK("x"),Red Cross,,nurse\n'
    ).encode()
    done = await _upload(client, manager, "personnel", people)
    assert done.status_code == 201
    assert done.json() == {"kind": "personnel", "imported": 2}
    exported = await client.get(
        "/api/emergency/csv/personnel", params={"bom": "true"}, headers=manager
    )
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    assert exported.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    by_name = {r["name"]: r for r in rows}
    assert by_name["Pia Paramedic"]["qualifications"] == "driver; paramedic:2030-05-01"
    assert '\'=HYPERLINK("x")' in by_name  # a formula is shown as text, never run
    supplies = "sku,name,unit,min_stock\nWATER,Water 5 l,each,10\nCOT,Camp cot,each,2.5\n"
    bad = await _upload(client, manager, "supplies", supplies)
    assert [(e["row"], e["column"]) for e in bad.json()["errors"]] == [(3, "min_stock")]
    ok = await _upload(client, manager, "supplies", supplies.replace("2.5", "2"))
    assert ok.json()["imported"] == 2
    plain = (await client.get("/api/emergency/csv/supplies", headers=manager)).content
    assert not plain.startswith("\ufeff".encode())
    assert plain.decode().splitlines()[0] == "sku,name,unit,category,min_stock,id,on_hand"
