"""`emsync demo seed` is explicit: in production it refuses unless told otherwise. (It seeding a
running server is walked in tests/e2e/test_call_to_bed.py.)"""

from __future__ import annotations

from typer.testing import CliRunner

from emsync.cli import app
from emsync.demo import HOSPITALS, UNITS, _at


def test_production_refuses_without_the_flag() -> None:
    result = CliRunner().invoke(
        app, ["demo", "seed", "--password", "x"], env={"EMSYNC_ENV": "production"}
    )
    assert result.exit_code == 2
    assert "refused" in result.stderr
    assert "--in-production" in result.stderr


def test_demo_positions_fall_inside_the_map() -> None:
    bbox = [24.92, 60.16, 24.95, 60.175]  # min lon, min lat, max lon, max lat
    for fraction in [u.at for u in UNITS] + [h.at for h in HOSPITALS]:
        lat, lon = _at(bbox, fraction)
        assert 60.16 <= lat <= 60.175
        assert 24.92 <= lon <= 24.95
    levels = {h.name: h.capabilities.get("trauma_level") for h in HOSPITALS}
    assert sorted(levels.values(), key=str) == [1, None]
