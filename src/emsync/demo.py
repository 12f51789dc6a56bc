"""`emsync demo seed`: demo stations, units and two hospitals on the loaded map, through the API.

A fresh install has no units and no hospitals (the default Helsinki extract has none), so the
dispatch board says "No units" and the hospital view has nothing to choose. This command fills
them in, only when someone asks for it: never on start-up, and in production only with
`--in-production` (it would put invented ambulances on a real dispatch board).

It goes through the HTTP API as an admin, like a person at the dashboard would, so the running
server's board updates live and the audit log records who seeded. Positions are fractions of the
loaded map's bounding box, so the demo lands on whichever map EMSYNC_MAP_PBF names; it runs
again without duplicating anything (existing call signs and hospital names are kept).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console(stderr=True, soft_wrap=True)
demo_app = typer.Typer(help="Demo data for trying EMsync out (never loaded silently).")


@dataclass(frozen=True, slots=True)
class DemoUnit:
    call_sign: str
    unit_type: str
    station: str
    at: tuple[float, float]  # (x, y) as fractions of the map's bounding box


@dataclass(frozen=True, slots=True)
class DemoHospital:
    name: str
    at: tuple[float, float]
    capabilities: dict[str, Any]


UNITS = (
    DemoUnit("DEMO-101", "ALS", "Demo station West", (0.2, 0.5)),
    DemoUnit("DEMO-102", "BLS", "Demo station West", (0.2, 0.5)),
    DemoUnit("DEMO-201", "ALS", "Demo station East", (0.8, 0.45)),
    DemoUnit("DEMO-301", "BLS", "Demo station South", (0.5, 0.15)),
)
# One hospital that can take anything, one clinic that is nearer the centre but has no
# specialist services: the destination reasons show why the farther one wins for trauma.
HOSPITALS = (
    DemoHospital(
        "Demo University Hospital (trauma level 1)",
        (0.85, 0.85),
        {
            "trauma_level": 1,
            "stroke_centre": True,
            "pci": True,
            "burns": True,
            "paediatrics": True,
            "ed_beds_available": 8,
        },
    ),
    DemoHospital(
        "Demo Harbour Clinic",
        (0.45, 0.55),
        {"trauma_level": None, "ed_beds_available": 3},
    ),
)


def _at(bbox: list[float], fraction: tuple[float, float]) -> tuple[float, float]:
    """(lat, lon) at a fraction of a [min lon, min lat, max lon, max lat] box."""
    min_lon, min_lat, max_lon, max_lat = bbox
    x, y = fraction
    return (
        round(min_lat + y * (max_lat - min_lat), 6),
        round(min_lon + x * (max_lon - min_lon), 6),
    )


class SeedError(Exception):
    """Something the person running the command must fix; printed as one line."""


def _check(response: Any, what: str) -> Any:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text[:200]
        raise SeedError(f"{what}: {response.status_code} {detail}")
    return response.json()


def seed(*, api: str, username: str, password: str) -> tuple[list[str], list[str]]:
    """Create what is missing; returns (created, kept) descriptions."""
    import httpx

    created: list[str] = []
    kept: list[str] = []
    with httpx.Client(base_url=api, timeout=120) as http:
        token = http.post("/api/auth/token", data={"username": username, "password": password})
        if token.status_code != 200:
            raise SeedError(f"login as {username} failed ({token.status_code})")
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        bbox = _check(http.get("/api/map", headers=headers), "reading the loaded map")["bbox"]
        units = {u["call_sign"] for u in _check(http.get("/api/units", headers=headers), "units")}
        for unit in UNITS:
            if unit.call_sign in units:
                kept.append(f"unit {unit.call_sign}")
                continue
            lat, lon = _at(bbox, unit.at)
            body = {
                "call_sign": unit.call_sign,
                "unit_type": unit.unit_type,
                "station_name": unit.station,
                "station_lat": lat,
                "station_lon": lon,
            }
            _check(http.post("/api/units", json=body, headers=headers), f"unit {unit.call_sign}")
            created.append(f"unit {unit.call_sign} ({unit.unit_type}) at {unit.station}")
        names = {h["name"] for h in _check(http.get("/api/hospitals", headers=headers), "list")}
        for hospital in HOSPITALS:
            if hospital.name in names:
                kept.append(f"hospital {hospital.name}")
                continue
            lat, lon = _at(bbox, hospital.at)
            body = {"name": hospital.name, "lat": lat, "lon": lon, **hospital.capabilities}
            _check(http.post("/api/hospitals", json=body, headers=headers), hospital.name)
            created.append(f"hospital {hospital.name}")
    return created, kept


@demo_app.command("seed")
def seed_command(
    api: Annotated[
        str | None, typer.Option(help="EMsync API (default: http://127.0.0.1:$EMSYNC_PORT)")
    ] = None,
    username: Annotated[str, typer.Option(help="An admin's username")] = "admin",
    password: Annotated[
        str | None,
        typer.Option(envvar="EMSYNC_ADMIN_PASSWORD", help="The admin's password (else asked)"),
    ] = None,
    in_production: Annotated[
        bool, typer.Option("--in-production", help="Seed even when EMSYNC_ENV=production")
    ] = False,
) -> None:
    """Create demo stations, units and two hospitals with capabilities on the loaded map."""
    import httpx
    from pydantic import ValidationError

    from emsync.core.settings import Settings

    # Read before the settings: production settings may not even validate on this machine.
    if os.environ.get("EMSYNC_ENV", "development") == "production" and not in_production:
        console.print(
            "[red]refused:[/red] EMSYNC_ENV=production; demo units would appear on a real "
            "dispatch board. Add --in-production if that is what you want."
        )
        raise typer.Exit(2)
    try:
        settings = Settings()
    except ValidationError as exc:
        console.print(f"[red]error:[/red] settings: {exc.errors()[0]['msg']}")
        raise typer.Exit(2) from None
    base = api or f"http://127.0.0.1:{settings.port}"
    if password is None:
        password = typer.prompt(f"password of {username}", hide_input=True)
    try:
        created, kept = seed(api=base, username=username, password=password)
    except httpx.HTTPError as exc:
        console.print(
            f"[red]error:[/red] cannot reach the EMsync API at {base} ({type(exc).__name__}); "
            "is `emsync serve` running? Set EMSYNC_PORT or --api."
        )
        raise typer.Exit(2) from None
    except SeedError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for line in created:
        console.print(f"created {line}")
    if kept:
        console.print(f"already there: {', '.join(kept)}")
