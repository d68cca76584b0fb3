"""The engine against an independent, hand-written oracle (benchmarks/baseline.py) on every contract decision.

Two sources of cases: a generated corpus (benchmarks/generate.py: as_of spread over the window,
records after as_of, boundary days), and the case files of tests/fixtures/oracle/ (one per kind of
disagreement found, with the contract's expected decisions in a `# expect:` comment).

Where the policy still reads otherwise than the contract (reported to the lead), the fixture names
that reading (`# policy_reading:`); the corpus is then compared with the oracle following exactly
those readings, so that every other decision is still checked exactly, and a test fails as soon as
a listed reading is no longer needed.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO, load_module
from regcode.engine import Catalog, Document, evaluate_case, load_case_file

compare = load_module(REPO / "benchmarks" / "compare_oracle.py", "regcode_benchmarks_compare_oracle")
oracle = compare.baseline
FIXTURES = REPO / "tests" / "fixtures" / "oracle"
POLICY = "shanghai-post-license"
CORPUS_COUNT = 4000
CORPUS_SEED = 2026
SHOW = 5                     # differing cases shown in a failure report


def _header(path: Path) -> dict:
    """The `# key: value` lines before the case; `expect` is JSON."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(": ")
        key = key.split(" ")[0]                 # "main (86d0f73) and ...": the first word names the line
        out[key] = json.loads(value) if key == "expect" else value
    return out


FIXTURE_FILES = sorted(FIXTURES.glob("*.yaml"))
HEADERS = {path.name: _header(path) for path in FIXTURE_FILES}
# The readings the policy still takes where it disagrees with the contract, from the fixtures
POLICY_READINGS = frozenset(h["policy_reading"] for h in HEADERS.values() if "policy_reading" in h)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog()


def _engine(catalog, case: dict, source: str) -> dict:
    return evaluate_case(catalog, Document(source, case), POLICY, explain="none")["decisions"]


def test_the_fixtures_are_there_and_name_known_readings():
    assert len(FIXTURE_FILES) >= 20
    for name, header in HEADERS.items():
        assert {"contract", "expect"} <= set(header), name
        assert header.get("policy_reading", "-") in set(oracle.POLICY_READINGS) | {"-"}, name


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_the_oracle_gives_the_contracts_decisions_on_each_fixture(path):
    case = load_case_file(path).data
    got = oracle.decide(case, case["as_of"])
    expect = HEADERS[path.name]["expect"]
    assert {k: got[k] for k in expect} == expect


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_the_engine_gives_the_contracts_decisions_unless_a_reported_reading_differs(catalog, path):
    header = HEADERS[path.name]
    case = load_case_file(path).data
    got = _engine(catalog, case, str(path))
    expect = header["expect"]
    mine = {k: got[k] for k in expect}
    reading = header.get("policy_reading")
    if reading is None:
        assert mine == expect
    else:
        assert mine != expect, (f"the policy now follows the contract here: drop `# policy_reading: {reading}` "
                                f"from {path.name}")
        # ... and it differs exactly as the named reading says
        assert got == oracle.decide(case, case["as_of"], frozenset({reading}))


def _same(a: dict, b: dict) -> bool:
    """Equal as the engine writes them: 1 and 1.0, or two orders of a list, are different outputs."""
    return json.dumps(a, sort_keys=True, ensure_ascii=False) == json.dumps(b, sort_keys=True, ensure_ascii=False)


@pytest.fixture(scope="module")
def evaluated(catalog):
    """(case, the engine's decisions) for the generated corpus, evaluated once."""
    cases = list(compare.generate.generate(CORPUS_COUNT, CORPUS_SEED))
    return [(case, _engine(catalog, case, f"generated:{i + 1}")) for i, case in enumerate(cases)]


def _report(rows) -> str:
    lines = [f"{len(rows)} of {CORPUS_COUNT} generated cases differ (seed {CORPUS_SEED}); first {min(SHOW, len(rows))}:"]
    for index, kinds, case in rows[:SHOW]:
        lines.append(f"  case {index + 1} (as_of {case['as_of']}): " + "; ".join(f"{d}: {k}" for d, k in kinds))
    lines.append(f"  inspect: .venv/bin/python benchmarks/compare_oracle.py {CORPUS_COUNT} --seed {CORPUS_SEED}")
    return "\n".join(lines)


def test_the_engine_agrees_with_the_oracle_on_every_decision_of_a_generated_corpus(evaluated):
    rows = []
    for index, (case, engine) in enumerate(evaluated):
        expected = oracle.decide(case, case["as_of"], POLICY_READINGS)
        if not _same(engine, expected):
            rows.append((index, compare.kinds(engine, expected), case))
    assert not rows, _report(rows)


def test_the_corpus_is_not_trivially_agreed_on(evaluated):
    """The corpus reaches every class and the decisions the readings turn on (else agreement proves little)."""
    decided = [engine for _, engine in evaluated]
    assert {d["classification"] for d in decided} == {"aa", "a", "b", "c", None}
    for name in ("downgrade_reasons", "special_inspection_reasons", "supervisory_testing_reasons", "violations",
                 "reclassification_reasons"):
        assert sum(bool(d[name]) for d in decided) > 30, name
    assert sum(d["aa_commitment_barred_until"] is not None for d in decided) > 30
    assert sum(d["classification_deadline"] is not None for d in decided) > 100


def test_kinds_name_each_way_two_decisions_objects_differ():
    engine = {"category_classes": {"x": "b", "y": "a"}, "downgrade_reasons": ["penalty"], "classification": "b",
              "violations": ["a", "b"]}
    mine = {"category_classes": {"x": "c", "y": "a"}, "downgrade_reasons": ["quality_hazard"], "classification": "b",
            "violations": ["b", "a"]}
    assert compare.kinds(engine, mine) == [
        ("category_classes", "engine b, oracle c"), ("downgrade_reasons", "+penalty"),
        ("downgrade_reasons", "-quality_hazard"), ("violations", "order")]
    assert compare.kinds(engine, engine) == []
    assert compare.kinds({"inspections_per_year_min": 1}, {"inspections_per_year_min": 1.0}) == [
        ("inspections_per_year_min", "engine 1, oracle 1.0")]
