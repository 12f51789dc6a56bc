from __future__ import annotations

import pytest

from emsync.routing.hospitals import HospitalElement, extract_hospitals, ring_centroid


def square(lon: float, lat: float, size: float) -> tuple[tuple[float, float], ...]:
    return ((lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size), (lon, lat))


def test_area_hospital_is_placed_at_its_centroid() -> None:
    lat, lon = ring_centroid([square(10.0, 50.0, 0.002)])
    assert lat == pytest.approx(50.001, abs=1e-6)
    assert lon == pytest.approx(10.001, abs=1e-6)


def test_hospitals_keep_name_and_emergency_tag() -> None:
    elements = [
        HospitalElement(
            "way", 7, {"amenity": "hospital", "name": "B", "emergency": "yes"}, (square(1, 2, 1),)
        ),
        HospitalElement("node", 8, {"amenity": "hospital", "name": "A"}, (((5.0, 6.0),),)),
        HospitalElement("node", 9, {"amenity": "hospital", "emergency": "no"}, (((5.0, 6.0),),)),
        HospitalElement("node", 10, {"amenity": "clinic"}, (((5.0, 6.0),),)),
    ]
    found = extract_hospitals(elements)
    assert [(h.name, h.emergency) for h in found] == [("", False), ("A", None), ("B", True)]
    assert found[1].lat == 6.0
    assert found[1].lon == 5.0
    assert found[2].osm_kind == "way"
    with pytest.raises(AttributeError):
        found[0].name = "x"  # type: ignore[misc]
