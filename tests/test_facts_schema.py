"""The facts schema of shanghai-post-license/2017: the contract's case file, strictly."""
from __future__ import annotations

import copy
import datetime as dt
import importlib.util
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILE = ROOT / "policies" / "shanghai-post-license" / "2017" / "facts.schema.yaml"
EXAMPLES = ROOT / "examples" / "cases"
CONTRACT_SAMPLE = Path(__file__).with_name("fixtures") / "contract-sample.yaml"


class _IsoDateLoader(yaml.SafeLoader):
    """Case files keep dates as ISO text, as the engine's loader does."""


_IsoDateLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _case(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_IsoDateLoader)


def _errors(validator, case) -> list:
    return sorted(validator.iter_errors(case), key=lambda e: list(e.absolute_path))


@pytest.fixture(scope="module")
def validator():
    document = yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert document["apiVersion"] == "regcode/v1" and document["kind"] == "FactsSchema"
    Draft202012Validator.check_schema(document["schema"])
    return Draft202012Validator(document["schema"], format_checker=FormatChecker())


def test_the_contract_sample_case_file_validates(validator):
    assert _errors(validator, _case(CONTRACT_SAMPLE)) == []


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_validates(validator, path):
    assert _errors(validator, _case(path)) == []


def test_the_examples_show_the_classes_they_claim():
    reading = importlib.util.spec_from_file_location("regcode_tests_contract_reading", Path(__file__).with_name("contract_reading.py"))
    module = importlib.util.module_from_spec(reading)
    reading.loader.exec_module(module)
    expected = {"aa-clean.yaml": "aa", "new-licensee.yaml": "b", "c-class-triggers.yaml": "c",
                "two-categories.yaml": "b", "food-related.yaml": None}
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(expected)
    for name, cls in expected.items():
        assert module.expected_class(_case(EXAMPLES / name)) == cls, name


def test_the_smallest_case_file_is_an_enterprise_alone(validator):
    case = {"enterprise": {"credit_code": "91310114MA1GT0001X", "name": "上海某某电缆有限公司", "production_district": "嘉定区"}}
    assert _errors(validator, case) == []
    assert _errors(validator, dict(case, licenses=[], spot_checks=[], as_of="2019-06-30")) == []


def test_every_object_is_closed_and_every_boolean_defaults_to_false():
    schema = yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))["schema"]
    seen = []

    def walk(node, path):
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, path
            seen.append(path)
        if node.get("type") == "boolean":
            assert node.get("default") is False, path
        if node.get("format") == "date":
            assert node.get("type") == "string" and node.get("pattern") == r"^\d{4}-\d{2}-\d{2}$", path
        if not path.endswith("[]"):                     # every property says what it is in Chinese
            assert node.get("title") and node.get("description"), path
        for key, child in (node.get("properties") or {}).items():
            walk(child, f"{path}.{key}")
        if "items" in node:
            walk(node["items"], f"{path}[]")

    walk(schema, "$")
    assert len(seen) == 18   # the case file, enterprise, 14 list items, aa_commitment, rectification


def _sample():
    return _case(CONTRACT_SAMPLE)


def _set(path, value):
    def change(case):
        *parents, last = path
        node = case
        for key in parents:
            node = node[key]
        node[last] = value
        return case
    return change


def _drop(path):
    def change(case):
        *parents, last = path
        node = case
        for key in parents:
            node = node[key]
        del node[last]
        return case
    return change


# One bad case file per failure mode: (what changes, the schema keyword that refuses it, the path).
BAD = {
    "risk level in upper case": (_set(("licenses", 0, "risk_level"), "I"), "enum", "$.licenses[0].risk_level"),
    "unknown issuer": (_set(("licenses", 0, "issuer"), "municipal"), "enum", "$.licenses[0].issuer"),
    "spot check level not listed": (_set(("spot_checks", 0, "level"), "city"), "enum", "$.spot_checks[0].level"),
    "class not listed": (_set(("classification_history", 0, "class"), "B"), "enum", "$.classification_history[0].class"),
    "penalty subject not listed": (_set(("penalties", 0, "subject"), "quality"), "enum", "$.penalties[0].subject"),
    "change kind not listed": (_set(("changes", 0, "kind"), "owner"), "enum", "$.changes[0].kind"),
    "district outside Shanghai": (_set(("enterprise", "production_district"), "昆山市"), "enum", "$.enterprise.production_district"),
    "unknown top-level key": (_set(("as_of_date",), "2019-06-30"), "additionalProperties", "$"),
    "unknown enterprise key": (_set(("enterprise", "district"), "嘉定区"), "additionalProperties", "$.enterprise"),
    "unknown key in a list item": (_set(("spot_checks", 0, "note"), "x"), "additionalProperties", "$.spot_checks[0]"),
    "unknown key in the commitment": (_set(("aa_commitment", "accepted"), True), "additionalProperties", "$.aa_commitment"),
    "unknown key in a rectification": (_set(("inspections", 0, "rectification", "done"), True), "additionalProperties",
                                       "$.inspections[0].rectification"),
    "impossible date": (_set(("as_of",), "2019-02-30"), "format", "$.as_of"),
    "date with slashes": (_set(("licenses", 0, "issued_on"), "2016/05/10"), "format pattern", "$.licenses[0].issued_on"),
    "date with a time": (_set(("spot_checks", 0, "date"), "2018-09-12T10:00:00"), "format pattern", "$.spot_checks[0].date"),
    "date left to YAML": (_set(("as_of",), dt.date(2019, 6, 30)), "type", "$.as_of"),
    "no enterprise": (_drop(("enterprise",)), "required", "$"),
    "no credit code": (_drop(("enterprise", "credit_code")), "required", "$.enterprise"),
    "credit code too short": (_set(("enterprise", "credit_code"), "91310114MA1GT0001"), "pattern", "$.enterprise.credit_code"),
    "credit code of digits, unquoted": (_set(("enterprise", "credit_code"), 913101131342687071), "type",
                                        "$.enterprise.credit_code"),
    "credit code with an O": (_set(("enterprise", "credit_code"), "91310114MA1GTO001X"), "pattern", "$.enterprise.credit_code"),
    "license without a number": (_drop(("licenses", 0, "number")), "required", "$.licenses[0]"),
    "license number not XK": (_set(("licenses", 0, "number"), "QS3101-0123"), "pattern", "$.licenses[0].number"),
    "spot check without a category": (_drop(("spot_checks", 0, "category")), "required", "$.spot_checks[0]"),
    "boolean written as text": (_set(("serious_quality_hazard",), "yes"), "type", "$.serious_quality_hazard"),
    "list left null": (_set(("complaints",), None), "type", "$.complaints"),
    "negative staff count": (_set(("inspections", 0, "staff_count"), -1), "minimum", "$.inspections[0].staff_count"),
    "rectification ordered without a deadline": (_drop(("inspections", 0, "rectification", "deadline")), "required",
                                                 "$.inspections[0].rectification"),
}


@pytest.mark.parametrize("change, keywords, where", BAD.values(), ids=BAD.keys())
def test_a_bad_case_file_is_refused(validator, change, keywords, where):
    errors = _errors(validator, change(copy.deepcopy(_sample())))
    assert sorted((e.validator, e.json_path) for e in errors) == [(k, where) for k in keywords.split()]
