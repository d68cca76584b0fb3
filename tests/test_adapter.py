"""The durable-rules backend: every quirk in docs/durable-rules-notes.md that it guards against, tested,
and its agreement with the Python backend."""
from __future__ import annotations

import json
import shutil
import sys
import threading

import pytest
import yaml

from regcode.engine import Catalog, EvaluationError, evaluate, to_dict
from regcode.engine import _durable
from regcode.engine.evaluate import program_for

from conftest import TEST_POLICIES, needs_durable
from toycases import toy_case



def test_durable_is_installed_wherever_it_can_be():
    """The skip above must never hide the backend on an interpreter where it builds (CI runs 3.11)."""
    assert sys.version_info[:2] >= (3, 13) or _durable.available()


def _outcome(policy, case, backend):
    try:
        return to_dict(evaluate(policy, case, case["as_of"], backend=backend))
    except EvaluationError as exc:
        return [i.code for i in exc.issues]


@needs_durable
def test_durable_and_python_backends_agree_on_random_cases(toy):
    for seed in range(400):
        case = toy_case(seed)
        assert _outcome(toy, case, "durable") == _outcome(toy, case, "python"), f"seed {seed}: {json.dumps(case, ensure_ascii=False)}"


@needs_durable
def test_thousands_of_evaluations_in_one_process_leave_no_session(toy):
    cases = [toy_case(seed) for seed in range(50)]
    for i in range(2500):   # past the 1,024 live sessions a ruleset can hold
        case = cases[i % len(cases)]
        try:
            evaluate(toy, case, case["as_of"], backend="durable")
        except EvaluationError:
            pass
    program = program_for(toy, "durable")
    for stratum in program.strata:
        for parts in stratum.values():
            for part in parts:
                try:   # either the sid was deleted (309) or it never stored a fact
                    assert json.loads(_durable._dre.get_facts(part.handle, _durable.SID)) == []
                except _durable._dre.error as exc:
                    assert "309" in str(exc)


@needs_durable
def test_no_thread_runs_off_the_calling_thread(tmp_path):
    before = threading.active_count()
    policy = Catalog([TEST_POLICIES]).by_ref("toy@1")
    case = toy_case(7)
    for _ in range(20):
        evaluate(policy, case, case["as_of"], backend="durable")
    assert threading.active_count() == before


def _toy_version(tmp_path, version, edit):
    root = tmp_path / "policies"
    target = root / "toy" / version
    shutil.copytree(TEST_POLICIES / "toy" / "1", target)
    manifest = yaml.safe_load((target / "policy.yaml").read_text(encoding="utf-8"))
    manifest["version"] = version
    edit(target, manifest)
    (target / "policy.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    return root


@needs_durable
def test_two_versions_of_one_policy_side_by_side(tmp_path):
    def cheaper(target, manifest):
        params = (target / "parameters.yaml").read_text(encoding="utf-8").replace("value: 100}", "value: 80}")
        (target / "parameters.yaml").write_text(params, encoding="utf-8")
    root = _toy_version(tmp_path, "2", cheaper)
    cat = Catalog([root, TEST_POLICIES])
    v1, v2 = cat.by_ref("toy@1"), cat.by_ref("toy@2")
    assert v1.content_hash != v2.content_hash
    case = {"as_of": "2020-06-30", "applicant": {"name": "甲", "district": "浦东新区"}}
    for _ in range(3):   # interleaved: the two versions' rulesets live in one process without clashing
        assert evaluate(v1, case, case["as_of"], backend="durable").decisions["fee"] == 100
        assert evaluate(v2, case, case["as_of"], backend="durable").decisions["fee"] == 80


@needs_durable
def test_derived_fact_that_no_rule_reads_is_still_reported(toy):
    case = {"as_of": "2020-06-30", "applicant": {"name": "甲", "district": "浦东新区"},
            "vehicles": [{"plate": "沪A-1", "kind": "cart", "inspected_on": "2020-05-01", "passed": False}]}
    out = to_dict(evaluate(toy, case, case["as_of"], backend="durable"))
    audit = [d for d in out["derived"] if d["kind"] == "audit_trail"]
    assert audit == [{"fact": "audit_trail{note=停用,plate=沪A-1}", "kind": "audit_trail", "fields": {"note": "停用", "plate": "沪A-1"},
                      "derived_by": [{"rule": "suspension-audit", "from": "suspension{plate=沪A-1}"}]}]


@needs_durable
def test_exception_inside_a_rule_surfaces_as_an_error(tmp_path):
    policy = Catalog([TEST_POLICIES]).compile_dir(TEST_POLICIES / "toy" / "1")  # a private copy we may break
    rule = next(r for r in policy.rules if r.id == "base-fee")
    program = program_for(policy, "durable")
    working = program.python.thens[rule.index]
    program.python.thens[rule.index] = lambda *args: 1 / 0
    case = {"as_of": "2020-06-30", "applicant": {"name": "甲", "district": "浦东新区"}}
    with pytest.raises(EvaluationError) as info:
        evaluate(policy, case, case["as_of"], backend="durable")
    issue = info.value.issues[0]
    assert issue.code == "eval.action" and "base-fee" in issue.message and "ZeroDivisionError" in issue.message
    program.python.thens[rule.index] = working
    assert evaluate(policy, case, case["as_of"], backend="durable").decisions["fee"] == 100   # the session was cleaned up


@needs_durable
def test_chinese_strings_in_native_tests_and_values(toy):
    program = program_for(toy, "durable")
    native = [p for stratum in program.strata for parts in stratum.values() for part in parts for p in part.native_paths]
    assert native, "the toy policy's simple comparisons should run inside durable-rules"
    for district, inspector in (("浦东新区", "王检查员"), ("徐汇区", None)):
        case = {"as_of": "2020-06-30", "applicant": {"name": "上海某某餐车", "district": district}}
        assert evaluate(toy, case, case["as_of"], backend="durable").decisions["inspector"] == inspector


def _many_rules_policy(tmp_path, rules):
    root = tmp_path / "policies"
    target = root / "toy" / "1"
    shutil.copytree(TEST_POLICIES / "toy" / "1", target)
    shutil.rmtree(target / "tests")
    (target / "rules" / "many.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "regcode/v1", "kind": "Rules", "rules": rules}, allow_unicode=True), encoding="utf-8")
    return Catalog([root]).by_ref("toy@1")


@needs_durable
def test_more_rules_on_one_fact_than_durable_allows_siblings(tmp_path):
    rules = [{"id": f"many-{i:03d}", "article": "第五条", "title": f"雇员{i}",
              "when": {"path": "applicant.employees", "op": "==", "value": i},
              "then": [{"decide": "fee", "value": i}]} for i in range(150)]
    policy = _many_rules_policy(tmp_path, rules)
    for n in (0, 77, 149):
        case = {"as_of": "2020-06-30", "applicant": {"name": "甲", "district": "徐汇区", "employees": n}}
        out = to_dict(evaluate(policy, case, case["as_of"], backend="durable"))
        assert out["decisions"]["fee"] == 100 + n
        assert [e["rule"] for e in out["why"]["fee"]] == ["base-fee"] + [f"many-{n:03d}"]


@needs_durable
def test_hundreds_of_identical_conditions_are_merged(tmp_path):
    rules = [{"id": f"same-{i:03d}", "article": "第五条", "title": "同一条件",
              "when": {"path": "applicant.district", "op": "==", "value": "徐汇区"},
              "then": [{"decide": "fee", "value": 1}]} for i in range(300)]
    policy = _many_rules_policy(tmp_path, rules)
    case = {"as_of": "2020-06-30", "applicant": {"name": "甲", "district": "徐汇区"}}
    assert evaluate(policy, case, case["as_of"], backend="durable").decisions["fee"] == 400


@needs_durable
def test_absent_value_under_not_matches_like_the_reference(toy):
    # `not (certified == true)` must hold when `certified` is absent; durable has no `not`, the adapter rewrites it
    case = {"as_of": "2020-06-30", "applicant": {"name": "甲", "district": "徐汇区"}}
    for backend in ("durable", "python"):
        assert evaluate(toy, case, case["as_of"], backend=backend).decisions["flags"] == ["uncertified"]


def test_the_toy_policy_uses_every_operator_type_and_strategy(toy):
    """The engine's own test policy must exercise the whole rule language (tests pin its decisions)."""
    from regcode.engine import _ir as ir
    from regcode.engine._operators import CONDITIONS, EXPRESSIONS
    text = "\n".join(p.read_text(encoding="utf-8") for p in (TEST_POLICIES / "toy" / "1" / "rules").glob("*.yaml"))
    for keyword in list(CONDITIONS) + list(EXPRESSIONS):
        assert f"{keyword}:" in text, f"no rule of the toy policy uses `{keyword}`"
    for op in ("'=='", "'!='", "'<'", "'<='", "'>'", "'>='", "in,", "not_in"):
        assert f"op: {op}" in text, f"no rule uses op {op}"
    for unit in ("years:", "months:", "days:"):
        assert unit in text
    assert {d.type for d in toy.decisions.values()} == {"bool", "number", "date", "string", "enum", "list", "map"}
    assert {d.combine for d in toy.decisions.values()} == {"min", "max", "any", "all", "union", "sum", "unique"}
    depth = {}
    for rule in toy.rules:   # a derived-fact chain at least three deep
        if rule.binds.startswith("derived:"):
            for c in rule.conclusions:
                if isinstance(c, ir.Derive):
                    depth[c.fact] = depth.get(rule.binds[8:], 1) + 1
    assert max(depth.values()) >= 3
    assert any(r.reads_decisions for r in toy.rules) and len(toy.strata) >= 2
    assert any(p.values for p in toy.parameters.values())
    assert toy.event_dates and any(r.guard is not None for r in toy.rules)


def test_python_backend_names_the_rule_whose_generated_code_failed():
    """Generated code calls small helpers; one that fails (here made to) is reported against the rule, not as a crash."""
    policy = Catalog([TEST_POLICIES]).compile_dir(TEST_POLICIES / "toy" / "1")
    program = program_for(policy, "python")
    program._namespace["_days_between"] = lambda a, b: 1 / 0
    case = {"as_of": "2020-06-30", "applicant": {"name": "甲", "district": "浦东新区", "registered_on": "2020-03-01"}}
    with pytest.raises(EvaluationError) as info:
        evaluate(policy, case, case["as_of"], backend="python")
    issue = info.value.issues[0]
    assert issue.code == "eval.action" and "late-registration" in issue.message and "ZeroDivisionError" in issue.message


@needs_durable
def test_both_backends_write_the_same_bytes_on_a_generated_corpus():
    """5,000 realistic cases (dates across the whole window, events after as_of, boundary days): the
    `eval --format json` object of each, as written, is the same on both backends."""
    from regcode.engine import Document, dump_json, evaluate_case
    from conftest import generator
    cat = Catalog()
    differ = []
    for i, case in enumerate(generator.generate(5000, 20261201)):
        doc = Document(f"corpus:{i + 1}", case)
        lines = []
        for backend in ("python", "durable"):
            try:
                lines.append(dump_json(evaluate_case(cat, doc, backend=backend)))
            except EvaluationError as exc:
                lines.append(repr([x.code for x in exc.issues]))
        if lines[0] != lines[1]:
            differ.append(i + 1)
    assert not differ, f"{len(differ)} cases differ, first {differ[:5]}"
