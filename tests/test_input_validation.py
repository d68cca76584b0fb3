"""The fast case-file check (fastjsonschema) and the reporting one (jsonschema) agree on what is valid."""
from __future__ import annotations

import copy
import random

import fastjsonschema
import pytest

from regcode.engine import Catalog, Document, InputError, check_case
from regcode.engine.evaluate import _fast_validator, _validator

from conftest import generator as generate



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
            try:
                fast(variant)
                fast_ok = True
            except fastjsonschema.JsonSchemaException:
                fast_ok = False
            assert fast_ok == full.is_valid(variant), variant
            checked += 1
    assert checked > 1000


def test_an_invalid_case_still_gets_every_problem_reported(shanghai):
    case = next(iter(generate.generate(1, 3, "2019-06-30")))
    case["enterprise"]["colour"] = "red"
    case["as_of"] = "2019-13-01"
    with pytest.raises(InputError) as info:
        check_case(shanghai, Document("case.yaml", case, {}))
    messages = " ".join(i.message for i in info.value.issues)
    assert "colour" in messages and "as_of" in messages
