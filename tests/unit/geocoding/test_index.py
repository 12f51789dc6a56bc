"""Forward and reverse geocoding on a small hand-made map (pure), then on a real extract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emsync.geocoding import Geocoder, LatLonPoint, PlaceKind, load_geocoder
from emsync.geocoding.evaluation import evaluate, make_cases, substring_baseline
from emsync.geocoding.places import (
    AddressElement,
    InterpolationElement,
    NamedElement,
    StreetElement,
    build_gazetteer,
)
from tests.shared_data import shared_data_dir

# A small town: Main Street runs east, Oak Avenue north, crossing at node 3. Main Street also
# exists in a second village 20 km away. Lat 50, so 0.001 deg lon is about 71 m.
LAT, LON = 50.0, 8.0


def _street(name: str, refs: tuple[int, ...], points: list[tuple[float, float]]) -> StreetElement:
    return StreetElement(
        name, "residential", refs, tuple(p[0] for p in points), tuple(p[1] for p in points)
    )


def _town() -> Geocoder:
    main = _street("Main Street", (1, 2, 3, 4), [(LAT, LON + k * 0.002) for k in range(4)])
    oak = _street(
        "Oak Avenue",
        (10, 3, 11),
        [(LAT - 0.002, LON + 0.004), (LAT, LON + 0.004), (LAT + 0.002, LON + 0.004)],
    )
    far = _street("Main Street", (20, 21), [(LAT + 0.18, LON), (LAT + 0.18, LON + 0.003)])
    addresses = [
        AddressElement("12", "Main Street", "Springfield", "12345", LAT + 0.0001, LON + 0.002, 0),
        AddressElement("2", "Oak Avenue", "", "", LAT - 0.0019, LON + 0.0041, 100),
        AddressElement("20", "Oak Avenue", "", "", LAT + 0.0019, LON + 0.0041, 101),
    ]
    interpolation = InterpolationElement(
        "even",
        "Oak Avenue",
        (100, 102, 101),
        (LAT - 0.0019, LAT, LAT + 0.0019),
        (LON + 0.0041, LON + 0.0041, LON + 0.0041),
    )
    named = [
        NamedElement("Springfield", "town", True, LAT, LON + 0.003),
        NamedElement("Shelbyville", "village", True, LAT + 0.18, LON + 0.001),
        NamedElement("St. Mary's Hospital", "hospital", False, LAT + 0.001, LON + 0.006),
    ]
    return Geocoder(build_gazetteer(addresses, [main, oak, far], named, [interpolation]))


@pytest.fixture(scope="module")
def town() -> Geocoder:
    return _town()


def test_an_address_with_two_typos_is_found_first(town: Geocoder) -> None:
    top = town.search("Mian Stret 12", partial=False)[0]
    assert (top.kind, top.name, top.housenumber) == (PlaceKind.ADDRESS, "Main Street", "12")
    assert top.label == "Main Street 12, Springfield"


def test_partial_input_finds_the_street_while_typing(town: Geocoder) -> None:
    hits = town.search("oak av")
    assert hits[0].kind == PlaceKind.STREET
    assert hits[0].name == "Oak Avenue"


def test_a_typo_in_the_word_being_typed_still_completes(town: Geocoder) -> None:
    assert town.search("springfeil")[0].name == "Springfield"


def test_a_number_between_numbered_ends_is_interpolated(town: Geocoder) -> None:
    top = town.search("10 Oak Ave", partial=False)[0]
    assert top.interpolated
    assert top.housenumber == "10"
    assert top.kind == PlaceKind.ADDRESS
    # Halfway between 2 (south end) and 20 (north end) along the line: about 20 m south of
    # the crossing's latitude (8 / 18 of the 3.8 lat-millidegree line from its south end).
    assert top.lat == pytest.approx(LAT - 0.0019 + 0.0038 * 8 / 18, abs=2e-5)
    assert top.lon == pytest.approx(LON + 0.0041)


def test_an_odd_number_on_an_even_line_falls_back_to_the_street(town: Geocoder) -> None:
    top = town.search("11 Oak Avenue", partial=False)[0]
    assert top.kind == PlaceKind.STREET
    assert not top.interpolated
    assert "house number 11 is not on the map" in top.note


def test_two_streets_of_one_name_the_locality_decides(town: Geocoder) -> None:
    far = town.search("Main Street, Shelbyville", partial=False)[0]
    assert far.kind == PlaceKind.STREET
    assert far.locality == "Shelbyville"
    assert far.lat == pytest.approx(LAT + 0.18)


def test_nearer_the_dispatch_area_wins_a_tie(town: Geocoder) -> None:
    near_far = town.search("Main Street", near=LatLonPoint(LAT + 0.18, LON), partial=False)
    near_home = town.search("Main Street", near=LatLonPoint(LAT, LON), partial=False)
    assert near_far[0].locality == "Shelbyville"
    assert near_home[0].locality == "Springfield"


def test_crossing_of_two_streets(town: Geocoder) -> None:
    top = town.search("Main St & Oak Av", partial=False)[0]
    assert top.kind == PlaceKind.INTERSECTION
    assert top.lat == pytest.approx(LAT)
    assert top.lon == pytest.approx(LON + 0.004)
    assert top.label == "Main Street & Oak Avenue, Springfield"


def test_a_poi_by_name_and_kind(town: Geocoder) -> None:
    top = town.search("st marys hospitl", partial=False)[0]
    assert (top.kind, top.category) == (PlaceKind.POI, "hospital")


def test_nothing_matches_nonsense(town: Geocoder) -> None:
    assert town.search("qqqq zzzz", partial=False) == []
    assert town.search("  ,  ") == []


def test_reverse_names_the_address_at_a_click_else_the_street(town: Geocoder) -> None:
    at_door = town.reverse(LatLonPoint(LAT + 0.00012, LON + 0.002))[0]
    assert (at_door.kind, at_door.housenumber) == (PlaceKind.ADDRESS, "12")
    assert at_door.distance_m is not None
    assert at_door.distance_m < 5
    on_road = town.reverse(LatLonPoint(LAT - 0.0003, LON + 0.0008))
    assert on_road[0].kind == PlaceKind.STREET
    assert on_road[0].name == "Main Street"
    assert on_road[0].distance_m == pytest.approx(33, abs=3)


def test_best_match_refuses_a_locality_alone_or_a_weak_match(town: Geocoder) -> None:
    assert town.best_match("Springfield") is None
    assert town.best_match("completely unknown place") is None
    found = town.best_match("12 Main Street, Springfield")
    assert found is not None
    assert found.housenumber == "12"


# ---- a real extract ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def monaco(tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    path = shared_data_dir() / "osm" / "monaco.osm.pbf"
    cache = tmp_path_factory.mktemp("geocode")
    built = load_geocoder(path, cache)
    assert not built.from_cache
    again = load_geocoder(path, cache)
    assert again.from_cache
    assert np.array_equal(again.geocoder.g.lat, built.geocoder.g.lat)
    assert list(cache.glob("geocode-*.npz")) != []
    return built.geocoder


def test_monaco_finds_corrupted_queries_far_better_than_substring_search(
    monaco: Geocoder,
) -> None:
    cases = make_cases(monaco, per_kind=60, seed=3)
    kinds = {c.kind for c in cases}
    assert kinds == {"address", "no_number", "street", "intersection"}
    ours = evaluate(cases, lambda q, p: monaco.search(q, partial=p), keystrokes=False)
    baseline = evaluate(cases, substring_baseline(monaco), keystrokes=False)
    assert isinstance(ours["top1"], float)
    assert isinstance(baseline["top1"], float)
    assert ours["top1"] >= 0.9
    assert baseline["top1"] < 0.5


def test_monaco_knows_its_streets_places_and_crossings(monaco: Geocoder) -> None:
    top = monaco.search("boulevard albert 1er", partial=False)[0]
    assert (top.kind, top.name) == (PlaceKind.STREET, "Boulevard Albert 1er")
    crossing = monaco.search("Avenue du Berceau & Passage Doda", partial=False)[0]
    assert crossing.kind == PlaceKind.INTERSECTION


def test_a_missing_map_file_is_not_found(tmp_path: Path) -> None:
    from emsync.core.errors import NotFound

    with pytest.raises(NotFound):
        load_geocoder(tmp_path / "absent.osm.pbf", tmp_path)


def test_geocode_eval_command_reports_accuracy_latency_and_the_baseline(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from emsync.cli import app

    out = tmp_path / "eval.json"
    pbf = shared_data_dir() / "osm" / "monaco.osm.pbf"
    result = CliRunner().invoke(
        app,
        ["map", "geocode-eval", "--map", str(pbf), "--json", str(out), "--per-kind", "15"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["map"] == "monaco.osm.pbf"
    assert report["geocoder"]["cases"] > 30
    assert report["geocoder"]["queries"] > report["geocoder"]["cases"]  # every keystroke
    assert report["geocoder"]["top1"] > report["baseline_substring"]["top1"]
    assert set(report["geocoder"]["by_kind"]) == {"address", "no_number", "street", "intersection"}
    missing = CliRunner().invoke(app, ["map", "geocode-eval", "--map", str(tmp_path / "x.pbf")])
    assert missing.exit_code == 1
