"""The registry's pure cores: link decisions, identity normalisation and the blind index,
allergy classes, the FEBRL layout; and the linkage model scoring real record pairs."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from stdnum import luhn
from typer.testing import CliRunner

from emsync.registry import allergies, febrl, identity
from emsync.registry.cli import registry_app
from emsync.registry.clinical import drug_classes
from emsync.registry.linkage import TOP_LEVEL, LinkageModel, row
from emsync.registry.matching import FieldLevel, Policy, decide, summarise

POLICY = Policy(auto_link_weight=10.0, review_weight=0.0, identifier_overrides_dob=True)


def levels(**gammas: int) -> dict[str, FieldLevel]:
    return {name: FieldLevel(gamma=g, top=TOP_LEVEL[name]) for name, g in gammas.items()}


def test_weights_below_review_above_auto_and_between() -> None:
    agree = levels(dob=3)
    assert decide(-1.0, agree, POLICY) == "distinct"
    assert decide(5.0, agree, POLICY) == "review"
    assert decide(10.0, agree, POLICY) == "link"


def test_different_birth_dates_never_link_on_names_address_and_phone() -> None:
    parent_and_child = levels(dob=0, family_name=3, street=3, phone=1, given_name=0, identifier=-1)
    assert decide(40.0, parent_and_child, POLICY) == "review"


def test_an_exact_identifier_and_given_name_outweigh_a_mistyped_birth_date() -> None:
    typo = levels(dob=1, identifier=3, given_name=3)
    assert decide(20.0, typo, POLICY) == "link"
    assert decide(20.0, levels(dob=1, identifier=3, given_name=0), POLICY) == "review"
    assert decide(20.0, levels(dob=1, identifier=2, given_name=3), POLICY) == "review"
    strict = Policy(10.0, 0.0, identifier_overrides_dob=False)
    assert decide(20.0, typo, strict) == "review"


def test_summary_names_fields_by_agreement() -> None:
    out = summarise(levels(dob=3, given_name=2, family_name=0, phone=-1))
    assert out == {
        "agree": ["dob"],
        "near": ["given_name"],
        "disagree": ["family_name"],
        "unknown": ["phone"],
    }


def test_names_fold_accents_and_spelling_variants_share_a_phonetic_key() -> None:
    assert identity.normalise_name("  Äijälä-Öberg,  JR. ") == "aijala-oberg jr"
    assert identity.phonetic("Smith") == identity.phonetic("Smyth")


def test_phones_become_e164_and_junk_is_refused() -> None:
    assert identity.normalise_phone("040 123 4567", "FI") == "+358401234567"
    assert identity.normalise_phone("+1 (415) 555-0100", "FI") == "+14155550100"
    with pytest.raises(identity.InvalidIdentity) as err:
        identity.normalise_phone("12", "FI")
    assert err.value.field == "phone"


def test_national_ids_are_checked_by_the_configured_rule() -> None:
    body = "123456789"
    good = body + luhn.calc_check_digit(body)
    rule = identity.identifier_rule("luhn")
    assert identity.check_national_id(good, rule) == good
    with pytest.raises(identity.InvalidIdentity):
        identity.check_national_id(body + str((int(good[-1]) + 1) % 10), rule)
    hetu = identity.identifier_rule("fi.hetu")
    assert identity.check_national_id("131052-308T", hetu) == "131052-308T"
    assert identity.check_national_id("AB 12-3", identity.identifier_rule("none")) == "AB123"
    with pytest.raises(ValueError, match="not in python-stdnum"):
        identity.identifier_rule("xx.nothing")


def test_the_blind_index_is_keyed_and_deterministic() -> None:
    key_a, key_b = identity.blind_index_key(b"a" * 32), identity.blind_index_key(b"b" * 32)
    assert identity.blind(key_a, "phone", "+358401234567") == identity.blind(
        key_a, "phone", "+358401234567"
    )
    assert identity.blind(key_a, "phone", "+358401234567") != identity.blind(
        key_b, "phone", "+358401234567"
    )
    assert identity.blind(key_a, "dob", "19610314") != identity.blind(key_a, "phone", "19610314")


def test_estimated_birth_dates_compare_as_unknown() -> None:
    assert identity.dob_key(date(1980, 1, 1), estimated=True) is None
    assert identity.dob_key(date(1980, 5, 17), estimated=False) == "19800517"


def test_allergy_classes_come_from_the_shipped_table() -> None:
    table = drug_classes()
    assert "ATC" in table.source
    pen = allergies.RecordedAllergy(id="a1", substance="Penicillins", severity="severe")
    nsaid = allergies.RecordedAllergy(id="a2", substance="ibuprofen", severity=None)
    [by_class] = allergies.conflicts("Amoxicillin", [pen, nsaid], table)
    assert (by_class.match, by_class.drug_class) == ("class", "penicillins")
    [cross] = allergies.conflicts("aspirin", [pen, nsaid], table)
    assert cross.allergy.id == "a2"
    [same] = allergies.conflicts(" IBUPROFEN ", [nsaid], table)
    assert same.match == "substance"
    assert allergies.conflicts("paracetamol", [pen, nsaid], table) == []


FEBRL_HEADER = (
    "rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, state, "
    "date_of_birth, soc_sec_id\n"
)
FEBRL_SAMPLE = (
    FEBRL_HEADER
    + """rec-1-org, aino, virtanen, 12, mannerheim road, , helsinki, 4100, nsw, 19610314, 1234567
rec-1-dup-0, aina, virtanen, 12, mannerheim road, , helsinki, 4100, nsw, 19610314, 1234567
rec-1-dup-1, aino, virtanen, 12, mannerheim rd, , helsinki, 4100, nsw, 19611403, 1234567
rec-2-org, matti, virtanen, 12, mannerheim road, , helsinki, 4100, nsw, 19890702, 7654321
rec-3-org, liisa, korhonen, 3, hameentie, , espoo, 2600, vic, 19720101, 5550001
"""
)


def test_febrl_layout_and_its_true_pairs(tmp_path: Path) -> None:
    records = febrl.parse(FEBRL_SAMPLE)
    assert [r for r, _ in records][:2] == ["rec-1-org", "rec-1-dup-0"]
    assert records[0][1].street == "12 mannerheim road"
    assert febrl.true_pairs([r for r, _ in records]) == {
        ("rec-1-dup-0", "rec-1-org"),
        ("rec-1-dup-1", "rec-1-org"),
        ("rec-1-dup-0", "rec-1-dup-1"),
    }
    with pytest.raises(febrl.FebrlFormatError, match="missing columns"):
        febrl.parse("rec_id, given_name\nrec-1-org, x\n")


def test_match_eval_links_the_duplicates_and_not_the_son(tmp_path: Path) -> None:
    data = tmp_path / "sample.csv"
    data.write_text(FEBRL_SAMPLE)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        registry_app, ["match-eval", "--data", str(data), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    counts = json.loads(out.read_text())["files"]["sample.csv"]
    assert counts["true_pairs"] == 3
    assert counts["false_links"] == 0
    assert counts["linked_true_pairs"] == 3
    assert counts["precision"] == 1.0


def test_the_model_scores_a_typo_above_auto_link_and_a_stranger_below_review() -> None:
    model = LinkageModel.load()
    records = dict(febrl.parse(FEBRL_SAMPLE))
    scored = model.score(
        row("new", records["rec-1-dup-0"]),
        [row(k, records[k]) for k in ("rec-1-org", "rec-3-org")],
    )
    by_id = {s.unique_id: s for s in scored}
    assert by_id["rec-1-org"].match_weight >= POLICY.auto_link_weight
    assert by_id["rec-3-org"].match_weight < POLICY.review_weight
    assert by_id["rec-1-org"].levels["given_name"].agreement.value == "near"
