"""The order the xdist workers take test units in (tests/scheduling.py)."""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling

from tests.scheduling import DEFAULT_TEST_SECONDS, SPREAD, longest_first, unit_of


def test_a_unit_is_a_file_except_in_a_spread_file() -> None:
    assert unit_of("tests/unit/test_x.py::test_a[1]") == "tests/unit/test_x.py"
    assert unit_of("tests/unit/test_x.py::Case::test_a") == "tests/unit/test_x.py"
    spread = next(iter(SPREAD))
    assert unit_of(f"{spread}::test_a[2]") == f"{spread}::test_a[2]"


def test_units_go_longest_first_by_measured_seconds() -> None:
    units = {
        "many_short.py": dict.fromkeys(("a", "b", "c", "d"), False),
        "few_long.py": {"e": False},
        "middle.py": {"f": False, "g": False},
    }
    seconds = {"many_short.py": 1.0, "few_long.py": 300.0, "middle.py": 20.0}
    ordered = longest_first(units, seconds)
    assert list(ordered) == ["few_long.py", "middle.py", "many_short.py"]
    assert ordered["many_short.py"] == units["many_short.py"]


def test_an_unmeasured_unit_counts_a_default_per_test() -> None:
    units = {"measured.py": {"a": False}, "new.py": dict.fromkeys("abcdef", False)}
    seconds = {"measured.py": 5 * DEFAULT_TEST_SECONDS}
    assert list(longest_first(units, seconds)) == ["new.py", "measured.py"]


def test_the_xdist_methods_the_scheduler_overrides_exist() -> None:
    # LongestFirst overrides two private methods of xdist's LoadFileScheduling: an xdist that
    # renamed them would quietly hand files out in its own order again.
    for name in ("_split_scope", "_assign_work_unit"):
        assert callable(getattr(LoadFileScheduling, name, None)), name
