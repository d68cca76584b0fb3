"""The synthetic case generator (benchmarks/generate.py): valid, deterministic, realistic, and full of the boundary days that test readings."""
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
oracle = _load(ROOT / "benchmarks" / "baseline.py", "regcode_benchmarks_baseline")
BOUNDARY_COUNT = 2000


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


def test_a_given_as_of_is_honoured_and_events_lie_between_2008_and_a_year_after_it():
    as_of = "2021-03-31"
    later = 0
    for case in gen.generate(200, 3, as_of):
        assert case["as_of"] == as_of
        for day in _dates(case):
            assert gen.EARLIEST <= dt.date.fromisoformat(day) <= dt.date(2022, 5, 5), (day, case["enterprise"])
            later += day > as_of
    assert later > 20                  # records after as_of, which the evaluation must ignore


def test_as_of_is_spread_over_the_whole_window_in_force():
    days = [case["as_of"] for case in gen.generate(BOUNDARY_COUNT, 5)]
    assert all("2017-05-01" <= day <= "2022-04-30" for day in days)
    years = collections.Counter(day[:4] for day in days)
    assert set(years) == {"2017", "2018", "2019", "2020", "2021", "2022"}
    assert min(years[y] for y in ("2018", "2019", "2020", "2021")) > 0.12 * len(days)
    assert {"2017-05-01", "2020-02-29", "2022-04-30"} <= set(days)     # the edges and a leap day
    assert len(set(days)) > 0.5 * len(days)


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


def _class(case):
    decisions = oracle.decide(case, case["as_of"])
    return decisions["classification"] if decisions["applicable"] else None


def test_nearly_every_case_ends_in_its_intended_class_under_the_contract_readings(labelled):
    # boundary days (a breach on the bar's last day, ...) may move a case off its intended class
    wrong = [(target, _class(case), case["enterprise"]["credit_code"]) for target, case in labelled if _class(case) != target]
    assert len(wrong) <= 0.02 * len(labelled), wrong[:5]


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
    assert all(1 <= len(c["licenses"]) <= 8 for c in cases)
    assert 0.45 < sum(len(c["licenses"]) == 1 for c in cases) / len(cases) < 0.75    # most hold one license
    food = sum(1 for lic in licenses if lic.get("food_related"))
    assert 0.01 < food / len(licenses) < 0.12
    risks = collections.Counter(lic["risk_level"] for lic in licenses)
    assert set(risks) == {"i", "ii", "iii"}
    assert all(lic["number"].removeprefix("沪").startswith(lic["implementing_rules"] + "-") for lic in licenses)
    assert any(lic["number"].startswith("沪") for lic in licenses)     # the schema's optional province prefix
    checks = [s for c in cases for s in c.get("spot_checks", [])]
    assert sum(s["result"] == "pass" for s in checks) > 0.7 * len(checks)
    inspections = [i for c in cases for i in c.get("inspections", [])]
    assert any(i.get("staff_count", 2) < 2 for i in inspections)
    assert any(not i.get("signed_by_inspectors") or not i.get("signed_by_enterprise") for i in inspections)
    samplings = [s for c in cases for s in c.get("samplings", []) if "sent_on" in s]
    assert any(gen._parse(s["sent_on"]) - gen._parse(s["sealed_on"]) > dt.timedelta(days=7) for s in samplings)


# ---- boundary days: each kind the readings turn on appears in a 2,000-case corpus --------------
def _years(day: str, n: int) -> str:
    year, rest = int(day[:4]) + n, day[4:]
    if rest == "-02-29" and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        rest = "-02-28"
    return f"{year:04d}{rest}"


def _latest(items, key, as_of):
    out = {}
    for item in items:
        if item[key] <= as_of and item[key] > out.get(item["category"], ""):
            out[item["category"]] = item[key]
    return out


def _events(case):
    for key in ("spot_checks", "penalties", "media_exposures", "complaints", "counterfeit_suspicions",
                "major_quality_accidents", "changes", "commitment_breaches"):
        for item in case.get(key, []):
            yield item["date"]


def _held(case):
    return [lic for lic in case["licenses"] if not lic.get("food_related") and lic["issued_on"] <= case["as_of"]]


def _decided(case):
    return _latest(case.get("classification_history", []), "decided_on", case["as_of"])


def _day(text):
    return dt.date.fromisoformat(text)


BOUNDARIES = {
    "an event on the day of the category's latest class decision":
        lambda c: any(s["date"] == _decided(c).get(s["category"]) for s in c.get("spot_checks", []))
        or bool(set(_events(c)) & set(_decided(c).values())),
    "an event on the day of the category's latest assessment":
        lambda c: bool(set(_events(c)) & set(_latest(c.get("assessments", []), "assessed_on", c["as_of"]).values())),
    "an assessment on the day of the latest class decision":
        lambda c: any(a["assessed_on"] == _decided(c).get(a["category"]) for a in c.get("assessments", [])),
    "a license issued on the day of an event or a decision":
        lambda c: any(lic["issued_on"] in set(_events(c)) | {h["decided_on"] for h in c.get("classification_history", [])}
                      for lic in c["licenses"]),
    "a breach on the day the commitment was signed":
        lambda c: any(b["date"] == (c.get("aa_commitment") or {}).get("signed_on") for b in c.get("commitment_breaches", [])),
    "a breach on the last day of its 5-year bar":
        lambda c: any(b["date"] == _years(c["as_of"], -5) for b in c.get("commitment_breaches", [])),
    "a commitment signed before a breach whose bar is over":
        lambda c: any((c.get("aa_commitment") or {}).get("signed_on", "9") < b["date"] < _years(c["as_of"], -5)
                      for b in c.get("commitment_breaches", [])),
    "an event on the first day of the 3-year window":
        lambda c: _years(c["as_of"], -3) in set(_events(c)),
    "an event on the day before the 3-year window":
        lambda c: (_day(_years(c["as_of"], -3)) - dt.timedelta(days=1)).isoformat() in set(_events(c)),
    "a license issued on a month end (+2 months is clamped)":
        lambda c: any(_day(lic["issued_on"]).day >= 29 and (_day(lic["issued_on"]) + dt.timedelta(days=1)).day == 1
                      for lic in c["licenses"]),
    "as_of on a leap day":
        lambda c: c["as_of"] == "2020-02-29",
    "a record dated after as_of":
        lambda c: any(day > c["as_of"] for day in _dates(c)),
    "a license issued after as_of":
        lambda c: any(lic["issued_on"] > c["as_of"] for lic in c["licenses"]),
    "a food-related license filed under a held license's category":
        lambda c: any(lic.get("food_related") and lic["category"] in {h["category"] for h in _held(c)} for lic in c["licenses"]),
    "a category never decided, without an assessment":
        lambda c: any(lic["category"] not in _decided(c) and lic["category"] not in
                      {a["category"] for a in c.get("assessments", []) if a["assessed_on"] <= c["as_of"]} for lic in _held(c)),
    "a category never decided, with an assessment":
        lambda c: any(lic["category"] not in _decided(c) and lic["category"] in
                      {a["category"] for a in c.get("assessments", []) if a["assessed_on"] <= c["as_of"]} for lic in _held(c)),
    "several categories":
        lambda c: len({lic["category"] for lic in _held(c)}) >= 2,
    "a special inspection on the day of its trigger":
        lambda c: bool({i["date"] for i in c.get("inspections", []) if i["kind"] == "special"} &
                       {r["date"] for k in ("complaints", "counterfeit_suspicions", "major_quality_accidents", "media_exposures")
                        for r in c.get(k, [])}),
    "a rectification deadline on as_of":
        lambda c: any((i.get("rectification") or {}).get("deadline") == c["as_of"] for i in c.get("inspections", [])),
    "a sample sent on the 7th or the 8th day":
        lambda c: any("sent_on" in s and (_day(s["sent_on"]) - _day(s["sealed_on"])).days in (7, 8) for s in c.get("samplings", [])),
    "a sample not sent 8 days or more after sealing":
        lambda c: any(s["sealed_on"] <= c["as_of"] and s.get("sent_on", "9") > c["as_of"]
                      and (_day(c["as_of"]) - _day(s["sealed_on"])).days > 7 for s in c.get("samplings", [])),
    "records not in date order":
        lambda c: any(a["date"] > b["date"] for a, b in zip(c.get("spot_checks", []), c.get("spot_checks", [])[1:])),
}


@pytest.fixture(scope="module")
def boundary_corpus():
    return list(gen.generate(BOUNDARY_COUNT, 11))


@pytest.mark.parametrize("name", sorted(BOUNDARIES))
def test_the_corpus_holds_each_boundary_day(boundary_corpus, name):
    found = sum(1 for case in boundary_corpus if BOUNDARIES[name](case))
    assert found >= 10, f"{name}: {found} of {len(boundary_corpus)} cases"


def test_every_class_and_a_downgrade_and_a_bar_appear_under_the_oracle(boundary_corpus):
    decided = [oracle.decide(case, case["as_of"]) for case in boundary_corpus]
    assert {d["classification"] for d in decided} == {"aa", "a", "b", "c", None}
    assert sum(bool(d["downgrade_reasons"]) for d in decided) > 50
    assert sum(d["aa_commitment_barred_until"] is not None for d in decided) > 20
    assert sum(d["classification_deadline"] is not None for d in decided) > 100
    assert sum(d["reclassification_required"] for d in decided) > 20


@pytest.mark.parametrize("size", (1, 5, 40, 100))
def test_a_license_count_gives_exactly_that_many_valid_licenses(validator, size):
    cases = list(gen.generate(6, 4, licenses=size))
    for case in cases:
        assert len(case["licenses"]) == size
        assert len({lic["number"] for lic in case["licenses"]}) == size
        assert not list(validator.iter_errors(case))
    if size >= 40:                     # the records that belong to licenses grow with them
        assert sum(len(c.get("spot_checks", [])) for c in cases) > 6 * size * 0.5
        assert all(len({lic["category"] for lic in c["licenses"]}) >= 10 for c in cases)


def test_a_license_count_outside_1_to_100_is_refused():
    with pytest.raises(ValueError, match="1 to 100"):
        next(gen.generate(1, 1, licenses=101))


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


def test_cli_takes_a_license_count():
    result = subprocess.run([sys.executable, str(GENERATOR), "--count", "2", "--seed", "1", "--licenses", "7"],
                            capture_output=True, text=True, encoding="utf-8", check=True)
    assert [len(json.loads(line)["licenses"]) for line in result.stdout.splitlines()] == [7, 7]
    bad = subprocess.run([sys.executable, str(GENERATOR), "--count", "1", "--seed", "1", "--licenses", "0"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--licenses must be 1 to 100" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_refuses_a_bad_date_without_a_traceback():
    result = subprocess.run([sys.executable, str(GENERATOR), "--count", "1", "--seed", "1", "--as-of", "2019-02-30"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "not an ISO date" in result.stderr and "Traceback" not in result.stderr
