"""Normalizing names and typed queries the same way (pure)."""

from __future__ import annotations

import pytest

from emsync.geocoding.text import normalize, split_intersection, tokens


@pytest.mark.parametrize(
    ("typed", "mapped"),
    [
        ("Hauptstr. 12", "Hauptstraße 12"),
        ("bd albert 1er", "Boulevard Albert 1er"),
        ("st julians", "St Julian's"),
        ("triq il kbira haz zebbug", "Triq il-Kbira, Ħaż-Żebbuġ"),
        ("RUE DE L'HOPITAL", "Rue de l\u2019Hôpital"),
    ],
)
def test_abbreviations_accents_and_punctuation_compare_equal(typed: str, mapped: str) -> None:
    assert normalize(typed) == normalize(mapped)


def test_house_number_ranges_stay_one_word() -> None:
    assert tokens("Heinrich-Fuchs-Straße 12-14") == ["heinrich", "fuchs", "strasse", "12-14"]
    assert tokens("12/1 Main St") == ["12/1", "main", "street"]


@pytest.mark.parametrize(
    "typed",
    [
        "Main St & Oak Ave",
        "main st and oak ave",
        "Main St / Oak Ave",
        "corner of Main St and Oak Ave",
    ],
)
def test_crossing_spellings_split_into_two_streets(typed: str) -> None:
    assert split_intersection(typed) == ("main street", "oak avenue")


def test_a_house_number_with_a_slash_is_not_a_crossing() -> None:
    assert split_intersection("12/1 Main St") is None
