"""Hazard feeds read from a local HTTP server (and a file) into map layers, on both backends."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from emsync.core.settings import Settings
from emsync.emergency import cap
from tests.conftest import make_settings
from tests.emergency_builders import post


@pytest.fixture(scope="module")
def feed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("feeds")
    quakes = {
        "type": "FeatureCollection",
        "metadata": {"title": "USGS Magnitude 2.5+ Earthquakes, Past Day"},
        "features": [
            {
                "type": "Feature",
                "id": "us7000abcd",
                "properties": {
                    "mag": 6.1,
                    "place": "10 km S of Somewhere",
                    "time": 1764990000000,
                    "url": "https://example.org/us7000abcd",
                    "title": "M 6.1 - 10 km S of Somewhere",
                },
                "geometry": {"type": "Point", "coordinates": [24.9, 60.1, 10.0]},
            },
            {
                "type": "Feature",
                "id": "us7000abce",
                "properties": {"mag": 2.7, "place": "Elsewhere", "time": 1764991000000},
                "geometry": {"type": "Point", "coordinates": [25.1, 60.2, 5.0]},
            },
        ],
    }
    (root / "quakes.geojson").write_text(json.dumps(quakes))
    now = datetime.now(UTC).replace(microsecond=0)
    for n, (event, msg_type) in enumerate((("Storm", "Alert"), ("Old storm", "Cancel"))):
        msg = cap.CapMessage(
            identifier=f"met-{n}",
            sender="met@example.org",
            sent=now,
            status="Actual",
            msg_type=msg_type,
            references=(cap.Reference("met@example.org", "met-x", now),)
            if msg_type == "Cancel"
            else (),
            info=(
                cap.Info(
                    categories=("Met",),
                    event=event,
                    urgency="Expected",
                    severity="Severe",
                    certainty="Likely",
                    headline=f"{event} warning",
                    expires=now + timedelta(hours=6),
                    areas=(
                        cap.Area(
                            "Coast",
                            polygons=(((60.0, 24.0), (60.5, 24.0), (60.5, 25.0), (60.0, 24.0)),),
                        ),
                    ),
                ),
            ),
        )
        (root / f"met-{n}.xml").write_bytes(cap.to_xml(msg))
    (root / "index.atom").write_text(
        '<feed xmlns="http://www.w3.org/2005/Atom"><id>x</id><title>met</title>'
        '<entry><id>a</id><link href="met-0.xml" type="application/cap+xml"/></entry>'
        '<entry><id>b</id><link href="met-1.xml" type="application/cap+xml"/></entry></feed>'
    )
    (root / "broken.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"geometry": 3}]}'
    )
    return root


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def settings(database_url: str, tmp_path: Path, feed_dir: Path) -> Settings:
    """The shared app's settings with file feeds allowed from the feed directory only."""
    base = make_settings(database_url, tmp_path)
    emergency = base.emergency.model_copy(update={"hazard_file_dir": feed_dir})
    return base.model_copy(update={"emergency": emergency})


@pytest.fixture(scope="module")
def feed_server(feed_dir: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(feed_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def _feed(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, url: str, fmt: str
) -> dict[str, Any]:
    feed = await post(
        client, "/api/emergency/hazard-feeds", {"name": name, "url": url, "format": fmt}, headers
    )
    response = await client.post(
        f"/api/emergency/hazard-feeds/{feed['id']}/refresh", headers=headers
    )
    return {"id": feed["id"], "status": response.status_code, "body": response.json()}


async def test_cap_and_geojson_feeds_become_map_layers(
    client: httpx.AsyncClient, manager: dict[str, str], feed_server: str, feed_dir: Path
) -> None:
    quakes = await _feed(client, manager, "USGS", f"{feed_server}/quakes.geojson", "geojson")
    assert quakes["status"] == 200
    assert quakes["body"]["features"] == 2
    met = await _feed(client, manager, "Met office", f"{feed_server}/index.atom", "cap")
    assert met["status"] == 200
    assert met["body"]["features"] == 1
    single = await _feed(client, manager, "File", (feed_dir / "met-0.xml").as_uri(), "cap")
    assert single["status"] == 200
    layer = (await client.get("/api/map/hazards", headers=manager)).json()
    by_feed: dict[str, list[dict[str, Any]]] = {}
    for f in layer["features"]:
        by_feed.setdefault(f["properties"]["feed"], []).append(f)
    usgs = sorted(by_feed["USGS"], key=lambda f: f["properties"]["mag"])
    assert [f["properties"]["severity"] for f in usgs] == ["Minor", "Severe"]
    assert usgs[1]["geometry"]["coordinates"][:2] == [24.9, 60.1]
    assert by_feed["Met office"][0]["geometry"]["type"] == "Polygon"
    assert by_feed["Met office"][0]["properties"]["title"] == "Storm warning"


async def test_a_broken_feed_reports_its_error_and_keeps_the_last_layer(
    client: httpx.AsyncClient, manager: dict[str, str], feed_server: str, feed_dir: Path
) -> None:
    broken = await _feed(client, manager, "Broken", f"{feed_server}/broken.geojson", "geojson")
    assert broken["status"] == 422
    assert "features[0].geometry" in broken["body"]["detail"]
    missing = await _feed(client, manager, "Gone", f"{feed_server}/nope.xml", "cap")
    assert missing["status"] == 422
    assert missing["body"]["field"] == "url"
    good = await _feed(client, manager, "USGS", f"{feed_server}/quakes.geojson", "geojson")
    assert good["status"] == 200
    (feed_dir / "quakes.geojson").rename(feed_dir / "quakes.moved")
    try:
        again = await client.post(
            f"/api/emergency/hazard-feeds/{good['id']}/refresh", headers=manager
        )
    finally:
        (feed_dir / "quakes.moved").rename(feed_dir / "quakes.geojson")
    assert again.status_code == 422
    feeds = {
        f["name"]: f
        for f in (await client.get("/api/emergency/hazard-feeds", headers=manager)).json()
    }
    assert feeds["USGS"]["features"] == 2
    assert "404" in feeds["USGS"]["last_error"]
    bad_url = await client.post(
        "/api/emergency/hazard-feeds",
        json={"name": "x", "url": "ftp://x", "format": "cap"},
        headers=manager,
    )
    assert bad_url.status_code == 422
    assert bad_url.json()["errors"][0]["field"] == "body.url"


async def test_file_feeds_read_only_inside_the_feed_directory(
    client: httpx.AsyncClient, manager: dict[str, str], feed_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.xml"
    outside.write_bytes((feed_dir / "met-0.xml").read_bytes())
    escaped = await _feed(client, manager, "Out", outside.as_uri(), "cap")
    assert escaped["status"] == 422
    assert "outside the hazard feed directory" in escaped["body"]["detail"]
    dotdot = await _feed(client, manager, "Dots", f"file://{feed_dir}/../{outside.name}", "cap")
    assert dotdot["status"] == 422
    special = await _feed(client, manager, "Proc", "file:///proc/self/mem", "cap")
    assert special["status"] == 422
    bad = await _feed(client, manager, "Bad", "http://\x80/feed", "cap")
    assert bad["status"] == 422
    assert bad["body"]["field"] == "url"
