"""The fast case-file check (jsonschema-rs) and the reporting one (jsonschema) agree on what is valid."""
from __future__ import annotations

import copy
import random
import shutil

import pytest
import yaml

from regcode.engine import Catalog, Document, InputError, check_case
from regcode.engine.evaluate import _fast_validator, _validator

from conftest import TEST_POLICIES, generator as generate



def _mutations(case, rng):
    yield case
    broken = copy.deepcopy(case)
    broken["enterprise"]["colour"] = "red"
    yield broken
    broken = copy.deepcopy(case)
    del broken["enterprise"]["credit_code"]
    yield broken
    if case.get("licenses"):
        broken = copy.deepcopy(case)
        broken["licenses"][0]["risk_level"] = "iv"
        yield broken
        broken = copy.deepcopy(case)
        broken["licenses"][0]["issued_on"] = "2019-02-30"
        yield broken
    broken = copy.deepcopy(case)
    broken["spot_checks"] = [{"date": "2019-01-01", "level": "galactic", "result": "fail", "category": "x"}]
    yield broken


@pytest.fixture(scope="module")
def shanghai():
    return Catalog([]).by_ref("shanghai-post-license@2017")


def test_fast_and_full_validators_agree(shanghai):
    fast, full = _fast_validator(shanghai), _validator(shanghai)
    assert fast is not None, "the shipped facts schema should take the fast path"
    rng = random.Random(5)
    checked = 0
    for case in generate.generate(200, 11, "2019-06-30"):
        for variant in _mutations(case, rng):
            assert fast.is_valid(variant) == full.is_valid(variant), variant
            checked += 1
    assert checked > 1000


def test_keywords_beside_a_ref_are_checked_as_draft_2020_12_says(tmp_path):
    """Draft 7 validators (fastjsonschema) ignore a keyword next to `$ref`; 2020-12 applies both."""
    target = tmp_path / "toy" / "1"
    shutil.copytree(TEST_POLICIES / "toy" / "1", target)
    facts = yaml.safe_load((target / "facts.schema.yaml").read_text(encoding="utf-8"))
    facts["schema"]["$defs"] = {"count": {"type": "integer", "minimum": 0}}
    facts["schema"]["properties"]["applicant"]["properties"]["employees"] = {"$ref": "#/$defs/count", "maximum": 100}
    (target / "facts.schema.yaml").write_text(yaml.safe_dump(facts, allow_unicode=True), encoding="utf-8")
    policy = Catalog([tmp_path]).by_ref("toy@1")
    assert _fast_validator(policy) is not None
    case = {"as_of": "2020-06-30", "applicant": {"name": "甲", "district": "徐汇区", "employees": 500}}
    with pytest.raises(InputError) as info:
        check_case(policy, Document("case.yaml", case, {}))
    assert any("employees" in i.message and "100" in i.message for i in info.value.issues)
    case["applicant"]["employees"] = 50
    check_case(policy, Document("case.yaml", case, {}))


def test_an_invalid_case_still_gets_every_problem_reported(shanghai):
    case = next(iter(generate.generate(1, 3, "2019-06-30")))
    case["enterprise"]["colour"] = "red"
    case["as_of"] = "2019-13-01"
    with pytest.raises(InputError) as info:
        check_case(shanghai, Document("case.yaml", case, {}))
    messages = " ".join(i.message for i in info.value.issues)
    assert "colour" in messages and "as_of" in messages


def test_a_record_without_marks_keeps_one_problem_per_field_not_one_per_line(shanghai):
    """A JSONL record has no marks: every problem is at FILE:LINE:1. One problem per place means per field
    there (the date's pattern and format are one), not one for the whole line."""
    case = next(iter(generate.generate(1, 3, "2019-06-30")))
    case["enterprise"]["production_district"] = "宝山"
    case["licenses"] = [dict(case["licenses"][0], risk_level="I", issued_on="2016-3-1")] if case.get("licenses") else [
        {"number": "XK06-001-01362", "category": "c", "risk_level": "I", "issuer": "national", "issued_on": "2016-3-1"}]
    with pytest.raises(InputError) as info:
        check_case(shanghai, Document("in.jsonl:1", case, place=("in.jsonl", 1)))
    said = sorted((i.location.path, i.hint) for i in info.value.issues)
    assert said == [("enterprise.production_district", "did you mean `宝山区`?"),
                    ("licenses[0].issued_on", "write the date as YYYY-MM-DD, e.g. 2016-03-01"),
                    ("licenses[0].risk_level", "did you mean `i`?")], said
