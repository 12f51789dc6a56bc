"""The raw KTAS loader: format quirks, what it reports, and that outcomes never become features."""

from __future__ import annotations

from pathlib import Path

import pytest

from emsync.triage.features import FeatureSpace, Mode, check_no_outcome_features
from emsync.triage.ktas import (
    OUTCOME_COLUMNS,
    ArrivalMode,
    KtasFormatError,
    KtasVisit,
    Mental,
    Sex,
    load_ktas,
    parse_ktas,
)
from tests.shared_data import shared_data_dir

HEADER = (
    "Group;Sex;Age;Patients number per hour;Arrival mode;Injury;Chief_complain;Mental;Pain;"
    "NRS_pain;SBP;DBP;HR;RR;BT;Saturation;KTAS_RN;Diagnosis in ED;Disposition;KTAS_expert;"
    "Error_group;Length of stay_min;KTAS duration_min;mistriage"
)


def row(**overrides: str) -> str:
    values = dict(
        zip(
            HEADER.split(";"),
            [
                *("2", "2", "71", "3", "3", "2", "right ocular pain", "1", "1", "2"),
                *("160", "100", "84", "18", "36,6", "100", "2", "Corneal abrasion"),
                *("1", "4", "2", "86", "5,00", "1"),
            ],
            strict=True,
        )
    )
    values.update(overrides)
    return ";".join(values[h] for h in HEADER.split(";"))


def raw(*rows: str) -> bytes:
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode("cp1252")


def write(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "ktas.csv"
    path.write_bytes(raw(*rows))
    return path


def test_shared_file_loads_every_visit_and_reports_placeholders() -> None:
    data = load_ktas(shared_data_dir() / "ktas" / "ktas_train.csv")
    report = data.report.as_dict()
    assert report["rows_read"] == report["rows_kept"] == 887
    assert report["imputed"] == {"NRS_pain: 0 where Pain=0": 377}
    missing = report["missing_left_for_model"]
    assert isinstance(missing, dict)
    assert missing["Saturation: placeholder or blank"] == 489
    assert missing["HR: placeholder or blank"] == 14
    assert {r.expert_level for r in data.rows} == {1, 2, 3, 4, 5}


def test_cp1252_placeholders_and_comma_decimals(tmp_path: Path) -> None:
    path = write(tmp_path, row(NRS_pain="#BOÞ!", Pain="0", HR="??", BT="36,6", Saturation=""))
    visit = load_ktas(path).rows[0].visit
    assert visit.nrs_pain == 0.0
    assert visit.hr is None
    assert visit.bt == pytest.approx(36.6)
    assert visit.spo2 is None
    assert visit.sex is Sex.MALE
    assert visit.arrival_mode is ArrivalMode.PRIVATE_VEHICLE
    assert visit.mental is Mental.ALERT
    assert visit.injury is True


def test_placeholder_pain_score_with_pain_stays_missing(tmp_path: Path) -> None:
    data = load_ktas(write(tmp_path, row(NRS_pain="#BOÞ!", Pain="1")))
    assert data.rows[0].visit.nrs_pain is None
    assert data.report.missing["NRS_pain: placeholder or blank"] == 1


def test_unusable_rows_are_dropped_with_reasons(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        row(),
        row(KTAS_expert="9"),
        row(Age="??"),
        row(Sex="3"),
        "1;2;3",
    )
    data = load_ktas(path)
    assert len(data.rows) == 1
    reasons = dict(data.report.dropped)
    assert reasons == {
        "KTAS_expert: not a KTAS level 1-5": 1,
        "Age: missing or implausible": 1,
        "Sex: unknown code '3'": 1,
        "wrong number of fields": 1,
    }
    assert [line for line, _ in data.report.dropped_lines] == [3, 4, 5, 6]


def test_implausible_vital_is_left_missing_and_counted(tmp_path: Path) -> None:
    data = load_ktas(write(tmp_path, row(HR="999")))
    assert data.rows[0].visit.hr is None
    assert data.report.missing["HR: outside 20-250"] == 1


def test_utf8_comma_separated_resave_is_read_too(tmp_path: Path) -> None:
    text = raw(row()).decode("cp1252").replace(",", ".").replace(";", ",")
    path = tmp_path / "resaved.csv"
    path.write_text(text, encoding="utf-8-sig")
    assert load_ktas(path).rows[0].visit.chief_complaint == "right ocular pain"


def test_file_without_the_ktas_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a;b\r\n1;2\r\n")
    with pytest.raises(KtasFormatError, match="missing columns"):
        load_ktas(path)


def test_review_mode_loader_drops_rows_without_nurse_level() -> None:
    data = parse_ktas(raw(row(), row(KTAS_RN="??")).decode("cp1252"), require_nurse=True)
    assert len(data.rows) == 1
    assert data.report.dropped["KTAS_RN: not a KTAS level 1-5"] == 1


def test_visit_has_no_outcome_fields() -> None:
    fields = {f.lower() for f in KtasVisit.__dataclass_fields__}
    for column in OUTCOME_COLUMNS:
        assert column.lower().replace(" ", "_") not in fields
    assert not fields & {"diagnosis", "disposition", "error_group", "mistriage", "nurse_level"}


def test_outcome_columns_do_not_change_features(tmp_path: Path) -> None:
    changed = {
        "KTAS_RN": "5",
        "Diagnosis in ED": "Acute myocardial infarction",
        "Disposition": "7",
        "Error_group": "9",
        "mistriage": "2",
        "Length of stay_min": "99999",
        "KTAS duration_min": "1,23",
    }
    assert set(changed) == OUTCOME_COLUMNS
    a = load_ktas(write(tmp_path, row())).rows
    b = parse_ktas(raw(row(**changed)).decode("cp1252")).rows
    for mode, nurse in ((Mode.FIELD, None), (Mode.REVIEW, 2)):
        space = FeatureSpace.fit([a[0].visit], mode=mode, min_count=1)
        assert (space.encode(a[0].visit, nurse) == space.encode(b[0].visit, nurse)).all()


@pytest.mark.parametrize(
    "name", ["KTAS_RN", "Diagnosis in ED", "disposition", "mistriage", "Error_group", "KTAS_expert"]
)
def test_outcome_named_feature_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="outcome"):
        check_no_outcome_features(["age", name], mode=Mode.FIELD)


def test_nurse_level_is_a_feature_only_in_review_mode() -> None:
    check_no_outcome_features(["age", "nurse_level"], mode=Mode.REVIEW)
    with pytest.raises(ValueError, match="outcome"):
        check_no_outcome_features(["age", "nurse_level"], mode=Mode.FIELD)
    assert "nurse_level" not in FeatureSpace(mode=Mode.FIELD, vocabulary=()).names
    assert FeatureSpace(mode=Mode.REVIEW, vocabulary=()).names[-1] == "nurse_level"
