"""The synthetic case generator (benchmarks/generate.py): valid, deterministic, realistic."""
from __future__ import annotations

import collections
import datetime as dt
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "benchmarks" / "generate.py"
SCHEMA = ROOT / "policies" / "shanghai-post-license" / "2017" / "facts.schema.yaml"
COUNT = 300
SEEDS = (2017, 20190630)


def _load(path: Path, name: str):
    """Import a file by path: benchmarks/ and tests/ are not packages."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load(GENERATOR, "regcode_benchmarks_generate")
expected_class = _load(Path(__file__).with_name("contract_reading.py"), "regcode_tests_contract_reading").expected_class


@pytest.fixture(scope="module")
def validator():
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))["schema"]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


@pytest.fixture(scope="module", params=SEEDS)
def labelled(request):
    return list(gen._labelled(COUNT, request.param))


def test_every_generated_case_validates_against_the_facts_schema(validator, labelled):
    for i, (_, case) in enumerate(labelled):
        errors = sorted(validator.iter_errors(case), key=lambda e: list(e.absolute_path))
        assert not errors, f"case {i}: " + "; ".join(f"{e.json_path}: {e.message}" for e in errors)


def test_same_seed_gives_identical_output():
    first = [gen.dumps(c) for c in gen.generate(COUNT, SEEDS[0])]
    again = [gen.dumps(c) for c in gen.generate(COUNT, SEEDS[0])]
    assert first == again


def test_different_seeds_give_different_output():
    one = [gen.dumps(c) for c in gen.generate(COUNT, SEEDS[0])]
    two = [gen.dumps(c) for c in gen.generate(COUNT, SEEDS[1])]
    assert one != two
    assert not {c for c in one} & {c for c in two}


def test_credit_codes_are_unique_and_carry_a_valid_check_character(labelled):
    codes = [case["enterprise"]["credit_code"] for _, case in labelled]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert len(code) == 18
        total = sum(gen.USCC_ALPHABET.index(c) * w for c, w in zip(code, gen.USCC_WEIGHTS))
        assert code[17] == gen.USCC_ALPHABET[(31 - total % 31) % 31], code


def test_as_of_is_honoured_and_every_event_lies_in_the_5_years_before_it():
    as_of = "2021-03-31"
    start = dt.date(2016, 4, 1)
    for case in gen.generate(100, 3, as_of):
        assert case["as_of"] == as_of
        for day in _dates(case):
            assert start <= dt.date.fromisoformat(day) <= dt.date(2021, 3, 31), (day, case["enterprise"])


def _dates(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and key in ("date", "decided_on", "assessed_on", "issued_on", "granted_on",
                                                  "sealed_on", "sent_on", "signed_on", "deadline"):
                if key != "deadline":          # a rectification deadline may fall after as_of
                    yield value
            else:
                yield from _dates(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dates(item)


def test_every_case_ends_in_its_intended_class_under_the_contract_readings(labelled):
    wrong = [(target, expected_class(case), case["enterprise"]["credit_code"])
             for target, case in labelled if expected_class(case) != target]
    assert not wrong, wrong[:5]


def test_the_class_mix_is_roughly_10_30_45_15(labelled):
    counts = collections.Counter(target for target, _ in labelled)
    applicable = COUNT - counts[None]
    assert counts[None] <= 0.1 * COUNT
    for cls, share in (("aa", 0.10), ("a", 0.30), ("b", 0.45), ("c", 0.15)):
        assert abs(counts[cls] / applicable - share) < 0.07, (cls, counts)


def test_the_spread_looks_like_shanghai(labelled):
    cases = [case for _, case in labelled]
    districts = collections.Counter(c["enterprise"]["production_district"] for c in cases)
    assert len(districts) >= 12
    differ = sum(1 for c in cases if c["enterprise"].get("registered_district", c["enterprise"]["production_district"])
                 != c["enterprise"]["production_district"])
    assert 0.07 < differ / len(cases) < 0.25
    licenses = [lic for c in cases for lic in c["licenses"]]
    assert all(1 <= len(c["licenses"]) <= 3 for c in cases)
    food = sum(1 for lic in licenses if lic.get("food_related"))
    assert 0.01 < food / len(licenses) < 0.12
    risks = collections.Counter(lic["risk_level"] for lic in licenses)
    assert set(risks) == {"i", "ii", "iii"}
    assert all(lic["number"].startswith(lic["implementing_rules"] + "-") for lic in licenses)
    checks = [s for c in cases for s in c.get("spot_checks", [])]
    assert sum(s["result"] == "pass" for s in checks) > 0.7 * len(checks)
    inspections = [i for c in cases for i in c.get("inspections", [])]
    assert any(i.get("staff_count", 2) < 2 for i in inspections)
    assert any(not i.get("signed_by_inspectors") or not i.get("signed_by_enterprise") for i in inspections)
    samplings = [s for c in cases for s in c.get("samplings", []) if "sent_on" in s]
    assert any(gen._parse(s["sent_on"]) - gen._parse(s["sealed_on"]) > dt.timedelta(days=7) for s in samplings)


def test_cli_writes_sorted_jsonl_to_stdout_a_file_and_a_folder(tmp_path):
    run = lambda *args: subprocess.run([sys.executable, str(GENERATOR), "--count", "5", "--seed", "9", *args],  # noqa: E731
                                       capture_output=True, text=True, encoding="utf-8", check=True)
    lines = run().stdout.splitlines()
    assert len(lines) == 5
    expected = [gen.dumps(c) for c in gen.generate(5, 9)]
    assert lines == expected
    assert all(list(json.loads(line)) == sorted(json.loads(line)) for line in lines)

    out = tmp_path / "cases.jsonl"
    run("--out", str(out))
    assert out.read_text(encoding="utf-8").splitlines() == expected

    folder = tmp_path / "cases"
    run("--dir", str(folder), "--as-of", "2020-01-15")
    files = sorted(folder.glob("*.json"))
    assert len(files) == 5
    assert all(json.loads(f.read_text(encoding="utf-8"))["as_of"] == "2020-01-15" for f in files)


def test_cli_refuses_a_bad_date_without_a_traceback():
    result = subprocess.run([sys.executable, str(GENERATOR), "--count", "1", "--seed", "1", "--as-of", "2019-02-30"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "not an ISO date" in result.stderr and "Traceback" not in result.stderr
