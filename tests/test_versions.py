"""Policy versions over time: YAML-only amendments with `extends`, `show`, `diff` (golden), `test --against`."""
from __future__ import annotations

import datetime
import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import Catalog, CompileError, EvaluationError, evaluate, load_case_text
from regcode.engine.corpus import iter_corpus
from regcode.engine.diff import diff, to_text as diff_text

from conftest import REPO, TEST_POLICIES, TESTS
from toycases import toy_case

GOLDEN = TESTS / "golden"


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def amendment(root: Path, version: str = "2", extends: str = "toy@1") -> Path:
    """A new toy version in YAML only: a changed parameter, a changed rule, a removed rule, a new rule on a new fact."""
    write(root, f"toy/{version}/policy.yaml", f"""\
        apiVersion: regcode/v1
        kind: Policy
        id: toy
        version: "{version}"
        title: 流动餐车许可 (toy amendment)
        source: {{number: TOY-2, issuer: regcode tests, date: 2020-11-01}}
        effective_from: 2021-01-01
        extends: "{extends}"
        """)
    write(root, f"toy/{version}/parameters.yaml", """\
        apiVersion: regcode/v1
        kind: Parameters
        parameters:
          base_fee: {title: 基本费用, article: 第五条, unit: CNY, value: 120}
        """)
    write(root, f"toy/{version}/facts.yaml", """\
        apiVersion: regcode/v1
        kind: FactsSchema
        extend:
          applicant:
            night_market: {type: boolean, default: false}
        """)
    write(root, f"toy/{version}/decisions.yaml", """\
        apiVersion: regcode/v1
        kind: Decisions
        decisions:
          night_permit: {title: 夜市许可, type: bool, combine: any, default: false}
        """)
    write(root, f"toy/{version}/rules.yaml", """\
        apiVersion: regcode/v1
        kind: Rules
        remove: [tier-bronze-large]
        rules:
          - id: eligible-certified
            override: true
            article: 第二条
            title: 持证且有雇员记录的申请人合格
            when:
              all:
                - {path: applicant.certified, op: '==', value: true}
                - {present: applicant.employees}
            then: [{decide: eligible, value: true}]
          - id: night-market-permit
            article: 第二条
            title: 夜市经营需许可
            when: {path: applicant.night_market, op: '==', value: true}
            then: [{decide: night_permit, value: true}]
        """)
    return root / "toy" / version


def test_an_amendment_in_yaml_only_evaluates_and_diffs(tmp_path):
    root = tmp_path / "policies"
    amendment(root)
    cat = Catalog([root, TEST_POLICIES])
    old, new = cat.by_ref("toy@1"), cat.by_ref("toy@2")
    assert new.chain == ("toy@2", "toy@1")
    assert "tier-bronze-large" not in {r.id for r in new.rules} and "night-market-permit" in {r.id for r in new.rules}
    case = {"as_of": "2021-03-01", "applicant": {"name": "甲", "district": "徐汇区", "certified": True, "night_market": True}}
    out = evaluate(new, case, case["as_of"])
    assert out.decisions["fee"] == 120 and out.decisions["night_permit"] is True
    assert out.decisions["eligible"] is True   # eligible-no-major still holds; eligible-certified no longer fires
    assert [out.policy.rules[c[2]].id for c in out.claims["eligible"]] == ["eligible-no-major"]
    result = diff(old, new)
    s = result["static"]
    assert [r["id"] for r in s["rules"]["added"]] == ["night-market-permit"]
    assert [r["id"] for r in s["rules"]["removed"]] == ["tier-bronze-large"]
    assert s["rules"]["changed"][0]["id"] == "eligible-certified" and "condition" in s["rules"]["changed"][0]["changed"]
    assert s["parameters"] == [{"name": "base_fee", "article": "第五条", "old": 100, "new": 120, "status": "changed"}]
    assert {"path": "applicant.night_market", "status": "added"} in s["facts"]


def test_selection_by_date_across_versions(tmp_path):
    root = tmp_path / "policies"
    amendment(root)
    cat = Catalog([root, TEST_POLICIES])
    assert cat.select("toy", "2020-06-30").version == "1"
    assert cat.select("toy", "2021-06-30").version == "2"


def _corpus(tmp_path) -> Path:
    lines = []
    for seed in range(60):
        case = toy_case(seed)
        case["as_of"] = "2020-06-30"
        lines.append(json.dumps(case, ensure_ascii=False, sort_keys=True))
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_diff_over_a_corpus_is_deterministic_and_matches_golden(tmp_path, monkeypatch, fmt, update_golden):
    root = tmp_path / "policies"
    amendment(root)
    _corpus(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = ["diff", "--policy-root", "policies", "--policy-root", str(TEST_POLICIES), "toy@1", "toy@2",
            "--corpus", "corpus.jsonl", "--format", fmt]
    first = CliRunner().invoke(regcode, args)
    second = CliRunner().invoke(regcode, args)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    golden = GOLDEN / f"toy-diff.{'txt' if fmt == 'text' else 'json'}"
    # a problem's place in a policy file of the root given by its absolute path (a case's failing on both sides):
    # the same wherever the repository is checked out
    written = first.stdout.replace(str(TEST_POLICIES), "<tests/policies>")
    if update_golden:
        golden.write_text(written, encoding="utf-8")
    assert written == golden.read_text(encoding="utf-8"), "run pytest --update-golden after an intended change"
    if fmt == "json":
        data = json.loads(first.stdout)
        assert data["corpus"]["cases"] == 60
        fee = [c for c in data["corpus"]["changes"] if c["decision"] == "fee"]
        assert fee and all(c["to"] - c["from"] == 20 for c in fee)
        assert sum(c["cases"] for c in fee) == data["corpus"]["by_decision"]["fee"]


def test_fail_on_change_exits_1_and_identical_versions_exit_0(tmp_path):
    root = tmp_path / "policies"
    amendment(root)
    corpus = _corpus(tmp_path)
    base = ["diff", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES), "--corpus", str(corpus), "--fail-on-change"]
    assert CliRunner().invoke(regcode, base + ["toy@1", "toy@2"]).exit_code == 1
    same = CliRunner().invoke(regcode, base + ["toy@1", "toy@1"])
    assert same.exit_code == 0 and "0 with changed decisions" in same.stdout


def test_show_prints_the_resolved_version_with_its_hash(tmp_path):
    root = tmp_path / "policies"
    amendment(root)
    result = CliRunner().invoke(regcode, ["show", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES),
                                          "--format", "json", "toy@2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["chain"] == ["toy@2", "toy@1"]
    assert any(r["id"] == "night-market-permit" for r in data["rules"])
    assert data["parameters"]["base_fee"]["value"] == 120
    assert "night_market" in data["facts_schema"]["properties"]["applicant"]["properties"]
    evald = CliRunner().invoke(regcode, ["eval", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES), "--policy", "toy",
                                         "--format", "json", "-"], input='{"as_of": "2021-02-01", "applicant": {"name": "甲", "district": "徐汇区"}}')
    assert json.loads(evald.stdout)["policy"]["content_hash"] == data["content_hash"]


def test_content_hash_ignores_file_layout_but_not_content(tmp_path):
    root = tmp_path / "policies"
    v2 = amendment(root)
    h1 = Catalog([root, TEST_POLICIES]).by_ref("toy@2").content_hash
    (v2 / "rules.yaml").rename(v2 / "zz-renamed.yaml")
    assert Catalog([root, TEST_POLICIES]).by_ref("toy@2").content_hash == h1
    text = (v2 / "parameters.yaml").read_text(encoding="utf-8").replace("120", "121")
    (v2 / "parameters.yaml").write_text(text, encoding="utf-8")
    assert Catalog([root, TEST_POLICIES]).by_ref("toy@2").content_hash != h1


def test_test_against_lists_cases_whose_expectations_no_longer_hold(tmp_path):
    root = tmp_path / "policies"
    amendment(root)
    result = CliRunner().invoke(regcode, ["test", "toy@1", "--against", "2", "--policy-root", str(root),
                                          "--policy-root", str(TEST_POLICIES), "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    failing = {c["name"] for c in data["cases"] if c["status"] != "pass"}
    assert any("surcharge" in n for n in failing)   # fee expectations change with base_fee 100 -> 120
    exempt = [c for c in data["cases"] if c["policy"] == "toy@1"]    # expecting a selection error: toy@1's own window
    assert exempt and all(c["status"] == "pass" and "error" in c for c in exempt)
    assert all(c["policy"] == "toy@2" for c in data["cases"] if c not in exempt)



def test_a_case_expecting_a_decision_the_version_removes_is_told_so_not_offered_a_near_name(tmp_path):
    """As a rule that still uses it: `test.unknown_decision` says the version removes it, and `--against` says so in
    the failing expectation, with no did-you-mean (`inspection_level` is near `inspector` but is not what was meant)."""
    root = tmp_path / "policies"
    v2 = amendment(root)
    _write_removals(v2, {"decisions.yaml": "remove: [inspector]",
                         "rules.yaml": "remove: [tier-bronze-large, inspector-named, inspector-default-district]"})
    write(root, "toy/2/tests/cases.yaml", """\
        apiVersion: regcode/v1
        kind: TestCases
        cases:
          - name: no inspector any more
            facts: {as_of: 2021-03-01, applicant: {name: 甲, district: 浦东新区}}
            expect: {inspector: 王检查员}
          - name: set aside
            facts: {as_of: 2021-03-01, applicant: {name: 甲, district: 浦东新区}}
            expect_eror: x
        """)
    args = ["--policy-root", str(root), "--policy-root", str(TEST_POLICIES)]
    result = CliRunner().invoke(regcode, ["validate", *args, "--format", "json", str(v2)])
    errors = [e for e in json.loads(result.stdout)["versions"][0]["errors"] if e["code"] == "test.unknown_decision"]
    assert len(errors) == 1 and "that toy@2 does not declare: it removes it (" in errors[0]["message"], errors
    assert "decisions.yaml:3:" in errors[0]["message"] and "did you mean" not in errors[0]["hint"]
    result = CliRunner().invoke(regcode, ["test", "toy@2", *args])
    assert result.exit_code == 1 and result.stdout.splitlines()[-1] == "0 passed, 1 failed, 1 set aside", result.stdout
    result = CliRunner().invoke(regcode, ["test", "toy@1", "--against", "2", *args, "--format", "json"])
    actual = [d["actual"] for c in json.loads(result.stdout)["cases"] for d in c.get("diffs", []) if d["decision"] == "inspector"]
    assert actual and all(a.startswith("(no such decision; toy@2 removes it (") and "did you mean" not in a for a in actual), actual


INHERITANCE_ERRORS = [
    ("extends a missing version", {"extends": "toy@9"}, "compile.extends", "policy.yaml", 8, "no version `9` of `toy`"),
    ("overrides a missing rule", {"rule_id": "no-such-rule"}, "compile.override", "rules.yaml", 6, "no inherited rule has that id"),
    ("removes a missing rule", {"remove": "no-such-rule"}, "compile.remove", "rules.yaml", 3, "the base version has no such rule"),
    ("extends a path outside the root", {"extends": "../../../etc"}, "schema.pattern", "policy.yaml", 8, "does not have the expected form"),
]


@pytest.mark.parametrize("name,edit,code,file,line,message", INHERITANCE_ERRORS, ids=[e[0] for e in INHERITANCE_ERRORS])
def test_inheritance_errors_name_file_and_line(tmp_path, name, edit, code, file, line, message):
    root = tmp_path / "policies"
    v2 = amendment(root, extends=edit.get("extends", "toy@1"))
    rules = (v2 / "rules.yaml").read_text(encoding="utf-8")
    if "rule_id" in edit:
        rules = rules.replace("id: eligible-certified", f"id: {edit['rule_id']}")
    if "remove" in edit:
        rules = rules.replace("remove: [tier-bronze-large]", f"remove: [{edit['remove']}]")
    (v2 / "rules.yaml").write_text(rules, encoding="utf-8")
    result = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES),
                                          "--format", "json", str(v2)])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    err = next(e for e in errors if e["code"] == code)
    assert err["location"]["file"].endswith(file) and err["location"]["line"] == line
    assert message in err["message"]


EXTENDS_HINTS = [   # (what `extends` names, what the hint suggests): only toy's versions for toy, never toy@2 itself
    ("toy@9", "did you mean `toy@1`?"),
    ("9", "the versions of `toy`: `1`"),
    ("toy@latest", "the versions of `toy`: `toy@1`"),
    ("toyy@1", "did you mean `toy@1`?"),          # a misspelt policy id: other policies' versions are candidates
    ("nosuchpolicy@1", "no policy is called `nosuchpolicy`; policies: kiosk, shanghai-post-license, toy"),
]


@pytest.mark.parametrize("extends,hint", EXTENDS_HINTS, ids=[e[0] for e in EXTENDS_HINTS])
def test_the_hint_for_a_missing_base_names_the_same_policys_versions(tmp_path, extends, hint):
    v2 = amendment(tmp_path / "policies", extends=extends)
    with pytest.raises(CompileError) as info:
        Catalog([tmp_path / "policies", TEST_POLICIES]).compile_dir(v2)
    (issue,) = [i for i in info.value.issues if i.code == "compile.extends"]
    assert issue.hint == hint


def test_a_cycle_of_extends_is_an_error(tmp_path):
    root = tmp_path / "policies"
    amendment(root, "2", extends="3")
    amendment(root, "3", extends="2")
    with pytest.raises(CompileError) as info:
        Catalog([root, TEST_POLICIES]).compile_dir(root / "toy" / "2")
    issue = info.value.issues[0]
    assert issue.code == "compile.extends_cycle" and issue.location.file.endswith("policy.yaml") and issue.location.line == 8


def test_a_new_version_of_the_shipped_policy_in_a_temporary_folder(tmp_path):
    shipped = Catalog([]).by_ref("shanghai-post-license@2017")
    removed = shipped.rules[0].id
    root = tmp_path / "policies"
    write(root, "shanghai-post-license/2030/policy.yaml", """\
        apiVersion: regcode/v1
        kind: Policy
        id: shanghai-post-license
        version: "2030"
        title: 示例修订 (an illustration, not law)
        illustration: true
        source: {issuer: regcode tests, date: 2029-12-01}
        effective_from: 2030-01-01
        extends: "shanghai-post-license@2017"
        """)
    write(root, "shanghai-post-license/2030/rules.yaml", f"""\
        apiVersion: regcode/v1
        kind: Rules
        remove: [{removed}]
        """)
    cat = Catalog([root])
    new = cat.select("shanghai-post-license", "2030-06-30")
    assert new.version == "2030" and removed not in {r.id for r in new.rules}
    example = Path(__file__).resolve().parent.parent / "examples" / "cases" / "aa-clean.yaml"
    doc = load_case_text(example.read_text(encoding="utf-8"), str(example))
    assert evaluate(new, doc.data, "2030-06-30").decisions.keys() == shipped.decisions.keys()
    result = diff(shipped, new, iter_corpus(str(example.parent)), as_of="2019-06-30")
    assert [r["id"] for r in result["static"]["rules"]["removed"]] == [removed]
    assert result["corpus"]["cases"] >= 4


def test_the_worked_amendment_diff_matches_golden(monkeypatch, update_golden):
    repo = TESTS.parent
    monkeypatch.chdir(repo)
    args = ["diff", "shanghai-post-license@2017", "shanghai-post-license@2022-illustration",
            "--policy-root", "examples/amendment/policies", "--corpus", "examples/amendment/corpus.jsonl"]
    result = CliRunner().invoke(regcode, args)
    assert result.exit_code == 0, result.output
    golden = GOLDEN / "amendment-diff.txt"
    if update_golden:
        golden.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == golden.read_text(encoding="utf-8"), "run pytest --update-golden after an intended change"
    assert "- rule c-revoke-quality-awards" in result.stdout and "+ fact enterprise.online_sales" in result.stdout


PARAMETER_LINES = [   # (old, new, status, the text line): complaint_window_years is a parameter only 2022-illustration has
    ("2017", "2022-illustration", "added", "  + parameter complaint_window_years (第二十九条): 1"),
    ("2022-illustration", "2017", "removed", "  - parameter complaint_window_years (第二十九条)"),
]


@pytest.mark.parametrize("old,new,status,line", PARAMETER_LINES, ids=[p[2] for p in PARAMETER_LINES])
def test_diff_text_marks_an_added_or_removed_parameter_as_json_does(old, new, status, line):
    args = ["diff", f"shanghai-post-license@{old}", f"shanghai-post-license@{new}",
            "--policy-root", str(TESTS.parent / "examples" / "amendment" / "policies")]
    text = CliRunner().invoke(regcode, args)
    data = json.loads(CliRunner().invoke(regcode, args + ["--format", "json"]).stdout)
    (param,) = [p for p in data["static"]["parameters"] if p["name"] == "complaint_window_years"]
    assert param["status"] == status
    assert [ln for ln in text.stdout.splitlines() if "complaint_window_years" in ln] == [line]


def test_the_worked_amendment_new_rule_fires_on_the_new_fact():
    cat = Catalog([TESTS.parent / "examples" / "amendment" / "policies"])
    new = cat.select("shanghai-post-license", "2022-06-30")
    assert new.version == "2022-illustration"
    lines = (TESTS.parent / "examples" / "amendment" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    outcomes = [evaluate(new, json.loads(line), "2022-06-30").decisions for line in lines[-8:]]   # the online sellers
    for d in outcomes:
        assert d["online_monitoring_required"] is (d["supervision_mode"] in ("normal", "strict"))
    assert any(d["online_monitoring_required"] for d in outcomes)


def test_a_case_may_pin_the_version_it_runs_against(tmp_path):
    root = tmp_path / "policies"
    amendment(root)
    write(root, "toy/2/tests/pinned.yaml", """\
        apiVersion: regcode/v1
        kind: TestCases
        cases:
          - name: runs on version 2 (its own), where the base fee is 120
            facts: {as_of: 2021-02-01, applicant: {name: 甲, district: 徐汇区}}
            expect: {fee: 120}
          - name: pinned to version 1, where the base fee was 100, even at a 2021 date
            version: "1"
            facts: {as_of: 2021-02-01, applicant: {name: 甲, district: 徐汇区}}
            expect: {fee: 100}
        """)
    result = CliRunner().invoke(regcode, ["test", "toy@2", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES),
                                          "--format", "json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 0, result.stdout
    assert [c["policy"] for c in data["cases"]] == ["toy@2", "toy@1"]


def test_show_says_which_version_and_hash_on_its_first_line_and_stays_the_same_data():
    ref = "shanghai-post-license@2017"
    as_yaml = CliRunner().invoke(regcode, ["show", ref])
    as_json = CliRunner().invoke(regcode, ["show", ref, "--format", "json"])
    assert as_yaml.exit_code == 0 and as_json.exit_code == 0
    policy = Catalog().by_ref(ref)
    assert as_yaml.stdout.splitlines()[0] == f"# {ref} ({policy.content_hash})"
    assert yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout)


def test_the_fast_choice_by_date_picks_what_catalog_choose_picks_on_every_day(tmp_path):
    """engine/case.py chooses from versions listed once per catalog; Catalog.choose is the rule it must follow,
    on every day of both windows, their boundaries, and the days no version covers."""
    import datetime
    from regcode.engine.case import _in_force
    from regcode.engine.errors import PolicyError
    cat = Catalog([Path(__file__).resolve().parent.parent / "examples" / "amendment" / "policies"])
    pid = "shanghai-post-license"
    day, end = datetime.date(2017, 4, 25), datetime.date(2027, 5, 5)
    checked = 0
    while day <= end:
        when = day.isoformat()
        try:
            expected = cat.choose(pid, when)
        except PolicyError:
            expected = None
        assert _in_force(cat, pid, when) == expected, when
        checked += 1
        day += datetime.timedelta(days=1)
    assert checked > 3600


def _inspector_repealed(tmp_path) -> Catalog:
    """toy@2 as an amendment that drops `inspector` and its rules, beside toy@1 that has them."""
    root = tmp_path / "policies"
    v2 = amendment(root)
    _write_removals(v2, {"decisions.yaml": "remove: [inspector]",
                         "rules.yaml": "remove: [tier-bronze-large, inspector-named, inspector-default-district]"})
    return Catalog([root, TEST_POLICIES])


def _inspector_values(tmp_path, having, other) -> dict:
    """How many corpus cases give each value of `inspector` under `having`, of those both versions evaluate."""
    expected: dict = {}
    for line in (tmp_path / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            value = json.dumps(evaluate(having, json.loads(line), "2020-06-30").decisions["inspector"], ensure_ascii=False)
            evaluate(other, json.loads(line), "2020-06-30")
        except EvaluationError:    # failing on either side: counted with the failing cases, not compared
            continue
        expected[value] = expected.get(value, 0) + 1
    return expected


def test_an_amendment_drops_a_decision_with_its_rules(tmp_path):
    """A successor that repeals a measure drops its rules (`remove:` in Rules) and its decision (`remove:` in
    Decisions): the decision leaves the output and the diff says so, and `check` has nothing left to report on it."""
    cat = _inspector_repealed(tmp_path)
    old, new = cat.by_ref("toy@1"), cat.by_ref("toy@2")
    assert "inspector" in old.decisions and "inspector" not in new.decisions
    case = {"as_of": "2021-03-01", "applicant": {"name": "甲", "district": "浦东新区"}}
    assert "inspector" not in evaluate(new, case, case["as_of"]).decisions
    result = diff(old, new, iter_corpus(str(_corpus(tmp_path))))
    assert {"name": "inspector", "status": "removed"} in result["static"]["decisions"]
    text = diff_text(result) + "\n"
    assert "  - decision inspector\n" in text
    counts = {json.dumps(r["value"], ensure_ascii=False): r["count"] for r in result["corpus"]["removed_values"]["inspector"]}
    expected = _inspector_values(tmp_path, old, new)
    assert counts == expected and len(counts) > 1
    assert "  inspector: no longer decided; it was " in text


def test_a_decision_only_the_new_version_takes_is_tallied_over_the_corpus_as_a_dropped_one_is(tmp_path):
    """The other way round (toy@2 without `inspector` -> toy@1 with it): the corpus says what the new decision is in
    the cases compared, value by value, as it says what a dropped one was."""
    cat = _inspector_repealed(tmp_path)
    old, new = cat.by_ref("toy@2"), cat.by_ref("toy@1")
    result = diff(old, new, iter_corpus(str(_corpus(tmp_path))))
    counts = {json.dumps(r["value"], ensure_ascii=False): r["count"] for r in result["corpus"]["added_values"]["inspector"]}
    expected = _inspector_values(tmp_path, new, old)
    assert counts == expected and len(counts) > 1
    assert "inspector" not in result["corpus"]["removed_values"]
    assert "  inspector: newly decided; it is " in diff_text(result)


REMOVAL_ERRORS = [
    # (what, files of version 2 to write {name: text}, code, words in message + hint, file and line of the problem)
    ("a decision the base lacks", {"decisions.yaml": "remove: [inspectr]"}, "compile.remove",
     "did you mean `inspector`?", ("toy/2/decisions.yaml", 3)),
    ("a decision its rules still claim", {"decisions.yaml": "remove: [inspector]"}, "compile.unknown_decision",
     "not declared: this version removes it (", ("toy/1/rules/applicant.yaml", 54)),
    ("a decision new in this version", {"decisions.yaml": "remove: [night_permit]"}, "compile.remove",
     "the base version has no such decision (it is declared in this version) `remove:` drops inherited names: delete "
     "the declaration instead", ("toy/2/decisions.yaml", 3)),
    ("a parameter removed and redeclared", {"params.yaml": "remove: [base_fee]"}, "compile.remove",
     "parameter `base_fee` is both removed and redeclared in this version keep one: the redeclaration (it replaces the "
     "inherited parameter), or the removal", ("toy/2/params.yaml", 3)),
    ("a decision listed twice", {"decisions.yaml": "remove: [inspector, inspector]"}, "compile.remove",
     "listed twice in `remove:` (first at", ("toy/2/decisions.yaml", 3)),
    ("a parameter a rule still reads", {"params.yaml": "remove: [late_registration_days]"}, "compile.unknown_parameter",
     "parameter `late_registration_days` is not declared: this version removes it", ("toy/1/rules/applicant.yaml", 46)),
    ("a derived fact rules still bind", {"derived2.yaml": "remove: [suspension]"}, "compile.for_each",
     "derived fact `suspension` is not declared: this version removes it", ("toy/1/rules/vehicles.yaml", 38)),
    ("a rule removed and overridden", {"rules.yaml": "remove: [eligible-certified]"}, "compile.remove",
     "rule `eligible-certified` is both removed and redeclared in this version", ("toy/2/rules.yaml", 3)),
    ("a rule new in this version", {"rules.yaml": "remove: [night-market-permit]"}, "compile.remove",
     "no such rule (it is declared in this version)", ("toy/2/rules.yaml", 3)),
    ("a rule listed twice", {"rules.yaml": "remove: [tier-bronze-large, tier-bronze-large]"}, "compile.remove",
     "listed twice", ("toy/2/rules.yaml", 3)),
    ("an empty name", {"decisions.yaml": 'remove: [""]'}, "schema.minLength", "", ("toy/2/decisions.yaml", 3)),
    ("an article the inherited index lacks", {"articles.yaml": "remove: [第九条]"}, "compile.remove",
     "cannot remove 第九条: the inherited article index does not list it", ("toy/2/articles.yaml", 3)),
    ("an article of the index listed twice", {"articles.yaml": "remove: [第一条, 第一条]"}, "compile.remove",
     "第一条 is listed twice in `remove:`", ("toy/2/articles.yaml", 3)),
    ("an article both removed and listed", {"articles.yaml": "remove: [第一条]\narticles: [{article: 第一条, title: t, status: encoded}]"},
     "compile.remove", "第一条 is both removed and listed in this version's article index", ("toy/2/articles.yaml", 3)),
]
KIND_OF = {"decisions.yaml": "Decisions", "params.yaml": "Parameters", "derived2.yaml": "DerivedFacts", "articles.yaml": "ArticleIndex"}


def _write_removals(v2: Path, files: dict) -> None:
    for name, line in files.items():
        if name == "rules.yaml":
            text = (v2 / name).read_text(encoding="utf-8").replace("remove: [tier-bronze-large]", line)
        elif name == "decisions.yaml":
            text = (v2 / name).read_text(encoding="utf-8").replace("kind: Decisions\n", f"kind: Decisions\n{line}\n")
        else:
            text = f"apiVersion: regcode/v1\nkind: {KIND_OF[name]}\n{line}\n"
        (v2 / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize("name,files,code,words,place", REMOVAL_ERRORS, ids=[e[0] for e in REMOVAL_ERRORS])
def test_removing_wrongly_is_an_error_at_its_place(tmp_path, name, files, code, words, place):
    root = tmp_path / "policies"
    v2 = amendment(root)
    _write_removals(v2, files)
    result = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES),
                                          "--format", "json", str(v2)])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    err = next(e for e in errors if e["code"] == code)
    assert words in err["message"] + " " + (err.get("hint") or "")
    assert err["location"]["file"].endswith(place[0]) and err["location"]["line"] == place[1]
    if "this version removes it (" in err["message"]:    # it says where, and no did-you-mean guesses
        assert "decisions.yaml:3:" in err["message"] or "params.yaml:3:" in err["message"] or "derived2.yaml:3:" in err["message"]
        assert "did you mean" not in (err.get("hint") or "")


def test_an_amendment_drops_a_parameter_and_a_derived_fact_with_the_rules_using_them(tmp_path):
    root = tmp_path / "policies"
    v2 = amendment(root)
    _write_removals(v2, {"params.yaml": "remove: [late_registration_days]", "derived2.yaml": "remove: [suspension]",
                         "rules.yaml": "remove: [tier-bronze-large, late-registration, suspension-alerts, suspension-status, "
                                       "suspension-audit, issue-suspends]"})
    cat = Catalog([root, TEST_POLICIES])
    try:
        new = cat.by_ref("toy@2")
    except CompileError as exc:   # the rules that derive or use them are named by the error: remove those too
        pytest.fail("\n".join(map(str, exc.issues)))
    assert "late_registration_days" not in new.parameters and "suspension" not in new.derived
    s = diff(cat.by_ref("toy@1"), new)["static"]
    assert {"name": "late_registration_days", "status": "removed"} in [{k: p[k] for k in ("name", "status")} for p in s["parameters"]]


def test_an_inherited_reports_naming_a_dropped_decision_is_one_error_for_every_command(tmp_path):
    """eval, validate and batch give one verdict: the inherited `reports:` names a decision this version dropped,
    and the hint says to restate `reports:` in this version's manifest. batch says it once, before any record."""
    root = tmp_path / "policies"
    shutil.copytree(REPO / "examples" / "amendment" / "policies", root)
    v = root / "shanghai-post-license" / "2022-illustration"
    (v / "decisions.yaml").write_text((v / "decisions.yaml").read_text(encoding="utf-8").replace(
        "remove: [revoke_quality_awards]", "remove: [revoke_quality_awards, classification_deadline]"), encoding="utf-8")
    (v / "rules.yaml").write_text((v / "rules.yaml").read_text(encoding="utf-8").replace(
        "remove: [c-revoke-quality-awards]", "remove: [c-revoke-quality-awards, classification-deadline-new-license]"),
        encoding="utf-8")
    case = REPO / "examples" / "cases" / "aa-clean.yaml"
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(REPO.joinpath("examples", "amendment", "corpus.jsonl").read_text(encoding="utf-8")
                              .splitlines(True)[:5]), encoding="utf-8")
    runs = {"validate": ["validate", "--policy-root", str(root)],
            "eval": ["eval", "--policy-root", str(root), "--as-of", "2022-06-30", str(case)],
            "batch": ["batch", "--policy-root", str(root), str(corpus), "--out", str(tmp_path / "o.jsonl"), "--jobs", "1"]}
    for command, args in runs.items():
        result = CliRunner().invoke(regcode, args)
        assert result.exit_code == 1, (command, result.output)
        lines = [ln for ln in result.stderr.splitlines() if "compile.reports" in ln]
        assert len(lines) == 1, (command, result.stderr)
        assert "`classification_deadline` is not declared: shanghai-post-license@2022-illustration removes it (" in lines[0]
        assert "2022-illustration/decisions.yaml:" in lines[0]        # where it is removed
        assert "this `reports:` is inherited: restate it without `classification_deadline` in" in lines[0]
        assert "2022-illustration/policy.yaml" in lines[0]
    assert not (tmp_path / "o.jsonl").exists()


def test_a_reports_mistake_is_said_with_the_rules_mistakes_of_the_same_version(tmp_path):
    """Every mistake at once: a version whose rules do not compile still has its `reports:` checked against
    what it declares, a decision it removes named as removed, a misspelt one with the nearest names."""
    root = tmp_path / "policies"
    shutil.copytree(REPO / "examples" / "amendment" / "policies", root)
    v = root / "shanghai-post-license" / "2022-illustration"
    (v / "policy.yaml").write_text((v / "policy.yaml").read_text(encoding="utf-8") + (
        "reports:\n"
        "  group: {label: district, key: districts, decision: competent_authority, fallback: enterprise.production_district}\n"
        "  summary:\n"
        "    count: [{decision: revoke_quality_awards}, {decision: classificaton}]\n"), encoding="utf-8")
    rules = (v / "rules.yaml").read_text(encoding="utf-8")
    assert "{decision: applicable}" in rules
    (v / "rules.yaml").write_text(rules.replace("{decision: applicable}", "{decision: aplicable}", 1), encoding="utf-8")
    result = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root), "--format", "json"])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    said = [(e["code"], Path(e["location"]["file"]).name, e["message"]) for e in errors]
    assert [s[:2] for s in said] == [("compile.reports", "policy.yaml"), ("compile.reports", "policy.yaml"),
                                     ("compile.unknown_decision", "rules.yaml")], said
    assert "`revoke_quality_awards` is not declared: shanghai-post-license@2022-illustration removes it" in said[0][2]
    assert errors[0]["hint"] == "drop it from `reports:`, or keep the decision"
    assert "did you mean `classification`" in errors[1]["hint"]


@pytest.mark.parametrize("edit", ["a second rule with a used id", "an override of no inherited rule"])
def test_a_rule_whose_id_is_wrong_is_still_checked_with_the_rest(tmp_path, edit):
    """A duplicate id (or an override with nothing to override) concerns one rule: its body and the other rules are
    still checked in the same run, so every mistake shows at once."""
    root = tmp_path / "policies"
    v2 = amendment(root)
    rules = (v2 / "rules.yaml").read_text(encoding="utf-8")
    rid, override = ("night-market-permit", "") if edit.startswith("a second") else ("no-such-rule", "\n    override: true")
    rules += (f"  - id: {rid}{override}\n    article: 第二条\n    title: t\n"
              "    when: {path: applicant.night_markt, op: '==', value: true}\n    then: [{decide: night_permt, value: true}]\n")
    (v2 / "rules.yaml").write_text(rules, encoding="utf-8")
    result = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES),
                                          "--format", "json", str(v2)])
    assert result.exit_code == 1, result.output
    codes = sorted(e["code"] for e in json.loads(result.stdout)["versions"][0]["errors"])
    assert codes == sorted([{"a second rule with a used id": "compile.duplicate_id"}.get(edit, "compile.override"),
                            "compile.unknown_path", "compile.unknown_decision"])


def test_an_override_set_aside_for_a_misspelt_key_still_replaces_the_inherited_rule_for_checking(tmp_path):
    """The drafter overrode the rule using a decision this version removes, but misspelt `title:` in the override:
    the override is set aside, and its own problems are said, not the inherited rule's use of the removed decision
    (an echo in the base version, which the drafter already mended)."""
    root = tmp_path / "policies"
    v2 = amendment(root)
    _write_removals(v2, {"decisions.yaml": "remove: [inspector]", "rules.yaml": "remove: [tier-bronze-large, inspector-default-district]"})
    rules = (v2 / "rules.yaml").read_text(encoding="utf-8")
    rules += ("  - id: inspector-named\n    override: true\n    article: 第二条\n    tittle: 指定检查员不再决定\n"
              "    when: {present: applicant.inspectr}\n    then: [{decide: eligible, value: true}]\n")
    (v2 / "rules.yaml").write_text(rules, encoding="utf-8")
    result = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES),
                                          "--format", "json", str(v2)])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    said = sorted((e["code"], e["location"]["file"].split("policies/")[-1]) for e in errors)
    assert said == [("compile.unknown_path", "toy/2/rules.yaml"), ("schema.additionalProperties", "toy/2/rules.yaml")], errors


def test_an_amendments_article_index_overrides_entries_by_article_and_inherits_the_rest(tmp_path):
    """Removing the rules of an encoded article leaves the inherited entry saying `encoded`: the problem is at the
    base's entry, and its hint says what to write in this version (one entry, not a copy of the whole index). With
    that one entry the version compiles and the other entries are inherited, as decisions and rules are."""
    root = tmp_path / "policies"
    v2 = amendment(root)
    _write_removals(v2, {"rules.yaml": "remove: [tier-bronze-large, renewal-from-first-inspection, renewal-suspended-early]"})
    args = ["validate", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES), "--format", "json", str(v2)]
    result = CliRunner().invoke(regcode, args)
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert [(e["code"], e["location"]["file"].split("policies/")[-1], e["location"]["line"]) for e in errors] == [
        ("compile.article", "toy/1/articles.yaml", 9)], errors
    assert "mark it in this version's articles.yaml (kind: ArticleIndex): `- {article: 第六条, title: 续期, status: " \
           "not_decidable, reason: ...}`" in errors[0]["hint"]
    write(v2.parent.parent, "toy/2/articles.yaml", """\
        apiVersion: regcode/v1
        kind: ArticleIndex
        articles:
          - {article: 第六条, title: 续期, status: not_decidable, reason: renewal is no longer decided here}
        """)
    result = CliRunner().invoke(regcode, args)
    assert result.exit_code == 0, result.output
    cat = Catalog([root, TEST_POLICIES])
    old, new = cat.by_ref("toy@1"), cat.by_ref("toy@2")
    assert [a["article"] for a in new.articles] == [a["article"] for a in old.articles]
    assert [a for a in new.articles if a["article"] != "第六条"] == [a for a in old.articles if a["article"] != "第六条"]
    assert next(a for a in new.articles if a["article"] == "第六条")["status"] == "not_decidable"


def test_an_amendment_marking_an_inherited_article_wrongly_is_said_at_its_own_entry(tmp_path):
    """An entry the version restates is located in the version's own index, and its hint is the plain one."""
    root = tmp_path / "policies"
    v2 = amendment(root)
    write(v2.parent.parent, "toy/2/articles.yaml", """\
        apiVersion: regcode/v1
        kind: ArticleIndex
        articles:
          - {article: 第五条, title: 费用, status: not_decidable, reason: wrongly}
        """)
    result = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES),
                                          "--format", "json", str(v2)])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert [(e["code"], e["location"]["file"].split("policies/")[-1], e["location"]["line"], e["hint"]) for e in errors] == [
        ("compile.article", "toy/2/articles.yaml", 4, "mark it `encoded`")], errors


def test_two_versions_taking_effect_on_one_day_are_a_located_error_of_validate(tmp_path):
    import shutil
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy" / "1", root / "toy" / "1")
    shutil.copytree(TEST_POLICIES / "toy" / "1", root / "toy" / "1b")
    manifest = root / "toy" / "1b" / "policy.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('version: "1"', 'version: "1b"'), encoding="utf-8")
    result = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root), "--format", "json"])
    assert result.exit_code == 1, result.output
    versions = {v["version"]: v["errors"] for v in json.loads(result.stdout)["versions"]}
    assert sorted(versions) == ["1", "1b"]
    for errors in versions.values():     # both folders are named: the issue at the later one, naming the other
        assert [(e["code"], e["location"]["file"], e["location"]["line"], e["location"]["column"]) for e in errors] == [
            ("select.same_effective_from", str(manifest), 7, 17)], errors
        assert errors[0]["message"] == (f"toy@1b and toy@1 ({root / 'toy' / '1' / 'policy.yaml'}:7:17) both take effect on "
                                        "2020-01-01: choosing by date cannot tell them apart, and takes toy@1b for its name alone")
        assert "give each version its own" in errors[0]["hint"]
    text = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root)])
    assert text.stderr.count("select.same_effective_from") == 1, text.stderr
    alone = CliRunner().invoke(regcode, ["validate", str(root / "toy" / "1")])     # a folder outside the roots: its own root
    assert alone.exit_code == 1 and f"{manifest}:7:17: select.same_effective_from" in alone.stderr, alone.output


DECISION_CHANGES = [   # (the redeclared decision, its JSON `changes`, the text line): what `diff` says of a changed declaration
    ("flags: {title: 标记, type: list, values: [major_incident, too_many_minor, uncertified, stale_inspection, late_registration, "
     "new_small, alert, night_market], combine: union, default: []}",
     [{"field": "values", "added": ["night_market"], "removed": []}],
     "  ~ decision flags: values: + night_market"),
    ("risk: {title: 风险等级, type: enum, values: [low, high, medium], combine: max, default: low}",
     [{"field": "values", "reordered": True, "old": ["low", "medium", "high"], "new": ["low", "high", "medium"]}],
     '  ~ decision risk: values reordered: ["low", "medium", "high"] -> ["low", "high", "medium"]'),
    ("fee: {title: 费用合计, type: number, combine: sum, default: 10}",
     [{"field": "default", "old": 0, "new": 10}, {"field": "title", "old": "费用", "new": "费用合计"}],
     "  ~ decision fee: default: 0 -> 10; title: 费用 -> 费用合计"),
    ("fee: {title: " + "很" * 70 + ", type: number, combine: sum, default: 0}",
     [{"field": "title", "old": "费用", "new": "很" * 70}],
     "  ~ decision fee: title: 费用 -> " + "很" * 59 + "…"),
    ("flags: {title: 标记, type: list, values: [major_incident, too_many_minor, uncertified, stale_inspection, late_registration, "
     "new_small, alert, a1, a2, a3, a4, a5, a6, a7], combine: union, default: []}",
     [{"field": "values", "added": ["a1", "a2", "a3", "a4", "a5", "a6", "a7"], "removed": []}],
     "  ~ decision flags: values: + a1 + a2 + a3 + a4 + a5 (and 2 more)"),
]


@pytest.mark.parametrize("declaration,changes,line", DECISION_CHANGES, ids=["value added", "reordered", "two fields", "long", "many"])
def test_diff_says_what_changed_in_a_decision_declaration(tmp_path, declaration, changes, line):
    """Not just `changed`: the codes added or removed, the new order, or each field's old -> new, bounded in the text."""
    root = tmp_path / "policies"
    v2 = amendment(root)
    name = declaration.split(":", 1)[0]
    (v2 / "decisions.yaml").write_text(
        "apiVersion: regcode/v1\nkind: Decisions\ndecisions:\n  night_permit: {title: 夜市许可, type: bool, combine: any, default: false}\n"
        f"  {declaration[:-1]}, override: true}}\n", encoding="utf-8")
    args = ["diff", "toy@1", "toy@2", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES)]
    text = CliRunner().invoke(regcode, args)
    data = json.loads(CliRunner().invoke(regcode, args + ["--format", "json"]).stdout)
    (entry,) = [d for d in data["static"]["decisions"] if d["name"] == name]
    assert entry == {"name": name, "status": "changed", "changes": changes}
    assert [ln for ln in text.stdout.splitlines() if f"decision {name}" in ln] == [line]


def test_a_values_change_lists_the_codes_removed_too():
    from regcode.engine.diff import changes_text, declaration_changes
    changes = declaration_changes({"type": "enum", "values": ["a", "b", "c"]}, {"type": "enum", "values": ["a", "d"], "default": "a"})
    assert changes == [{"field": "default", "old": None, "new": "a"}, {"field": "values", "added": ["d"], "removed": ["b", "c"]}]
    assert changes_text(changes) == "default: not set -> a; values: + d - b - c"


MANIFEST_DATES = [   # (what is wrong with the manifest's dates, the line put in for effective_from, the code said)
    ("a day that does not exist", "effective_from: 2021-13-01", "schema.format"),
    ("a window that ends before it starts", "effective_from: 2021-01-01\neffective_to: 2020-12-31", "schema.window"),
    ("no effective_from", "", "schema.required"),
]


@pytest.mark.parametrize("name,dates,code", MANIFEST_DATES, ids=[d[0] for d in MANIFEST_DATES])
def test_a_manifest_whose_dates_are_wrong_still_has_its_extends_and_rules_checked(tmp_path, name, dates, code):
    """Nothing compiled reads a manifest's dates (or title, or source): a mistake there is said with the version's
    other mistakes, a missing base and the rules' own, not one fix at a time."""
    root = tmp_path / "policies"
    v2 = amendment(root)
    manifest = (v2 / "policy.yaml").read_text(encoding="utf-8").replace("effective_from: 2021-01-01", dates)
    rules = (v2 / "rules.yaml").read_text(encoding="utf-8").replace("applicant.night_market", "applicant.night_markt")
    (v2 / "rules.yaml").write_text(rules, encoding="utf-8")
    said = {}
    for extends in ("toy@1", "toy@9"):
        (v2 / "policy.yaml").write_text(manifest.replace('extends: "toy@1"', f'extends: "{extends}"'), encoding="utf-8")
        result = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES),
                                              "--format", "json", str(v2)])
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        said[extends] = sorted(e["code"] for e in json.loads(result.stdout)["versions"][0]["errors"])
    assert said == {"toy@1": sorted([code, "compile.unknown_path"]), "toy@9": sorted([code, "compile.extends"])}, said


def test_a_base_version_with_a_rule_set_aside_is_no_base_to_build_on(tmp_path):
    """A base whose rule validation set aside fails the version extending it, with the base's problem: its
    rules are not silently fewer."""
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy" / "1", root / "toy" / "1")
    rules = root / "toy" / "1" / "rules" / "applicant.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("title: 持证申请人合格", "titel: 持证申请人合格"), encoding="utf-8")
    v2 = amendment(root, extends="1")
    result = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root), "--format", "json", str(v2)])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert [(e["code"], Path(e["location"]["file"]).name) for e in errors] == [("schema.additionalProperties", "applicant.yaml")]


def test_a_problem_in_an_inherited_rule_beside_a_rules_file_set_aside_says_that_file_may_remove_it(tmp_path):
    """A rules file that does not parse is set aside, and its `remove:` with it: an inherited rule it removed (that
    still claims a decision this version removes) is said with that file named, not as a mistake of its own."""
    root = tmp_path / "policies"
    v2 = amendment(root)
    _write_removals(v2, {"decisions.yaml": "remove: [inspector]"})
    write(v2, "rules/draft.yaml", """\
        apiVersion: regcode/v1
        kind: Rules
        remove: [inspector-named, inspector-default-district]
        rules:
          - id: draft
            article: 第二条
            title: t
          then: [{decide: eligible, value: true}]
        """)
    result = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES),
                                          "--format", "json", str(v2)])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert "load.syntax" in {e["code"] for e in errors}
    inherited = [e for e in errors if "toy/1/" in e["location"]["file"]]
    assert inherited and all("rules/draft.yaml`, set aside (it cannot be read), may `remove:` this inherited rule" in e["message"]
                             for e in inherited), inherited
    assert all(e["hint"].startswith("mend `") for e in inherited)


def test_an_extension_field_whose_schema_cannot_be_read_does_not_hide_the_mistakes_of_the_rules(tmp_path):
    """A field an extending version adds with a `$ref` that cannot be followed is set aside as a field of any value:
    a rule reading it is no echo (`unknown_path`), and the rule's own mistake is said in the same run."""
    root = tmp_path / "policies"
    shutil.copytree(REPO / "examples" / "amendment" / "policies", root)
    version = root / "shanghai-post-license" / "2022-illustration"
    with open(version / "facts.yaml", "a", encoding="utf-8") as fh:
        fh.write("    badge: {$ref: '#/$defs/nothing'}\n")
    with open(version / "rules.yaml", "a", encoding="utf-8") as fh:
        fh.write("  - id: badge-probe\n    article: 第二十九条\n    title: probe\n"
                 "    when: {path: enterprise.badge, op: '==', value: x}\n    then: [{decide: special_inspection_duee, value: true}]\n")
    result = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root), "--format", "json", str(version)])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert [(e["code"], Path(e["location"]["file"]).name) for e in errors] == [
        ("schema.ref", "facts.yaml"), ("compile.unknown_decision", "rules.yaml")], errors


# ---- a corpus diff says each decision once (a regression tester's summary), every value change on request ----------
def _deadline_amendment(root: Path) -> None:
    """shanghai-post-license@2023: the 2017 version with one parameter changed, which moves every new licensee's
    classification deadline by a month: as many value changes as there are issue days in the corpus."""
    write(root, "shanghai-post-license/2023/policy.yaml", """\
        apiVersion: regcode/v1
        kind: Policy
        id: shanghai-post-license
        version: "2023"
        title: one parameter changed (tests)
        source: {number: none, issuer: regcode tests, date: 2022-03-01}
        effective_from: 2022-05-01
        extends: shanghai-post-license@2017
        """)
    write(root, "shanghai-post-license/2023/parameters.yaml", """\
        apiVersion: regcode/v1
        kind: Parameters
        parameters:
          classification_deadline_months: {title: 分类期限, article: 第十条, unit: months, value: 1}
        """)


def test_a_one_parameter_change_over_a_corpus_is_one_line_per_decision(tmp_path):
    from conftest import generator as gen
    root = tmp_path / "policies"
    _deadline_amendment(root)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(gen.dumps(c) + "\n" for c in gen.generate(200, seed=7, as_of="2019-06-30")), encoding="utf-8")
    args = ["diff", "shanghai-post-license@2017", "shanghai-post-license@2023", "--policy-root", str(root), "--corpus", str(corpus)]
    text = CliRunner().invoke(regcode, args).stdout
    data = json.loads(CliRunner().invoke(regcode, args + ["--format", "json"]).stdout)["corpus"]
    ways = [c for c in data["changes"] if c["decision"] == "classification_deadline"]
    assert len(ways) > 10 and {c["decision"] for c in data["changes"]} == {"classification_deadline"}   # json: every one
    lines = [line for line in text.splitlines() if line.startswith("  classification_deadline")]
    assert len(lines) == 1, text
    cases = sum(c["cases"] for c in ways)
    assert lines[0].startswith(f"  classification_deadline: changed in {cases} of {data['compared']} cases, {len(ways)} ways, "
                               "the most frequent: ")
    assert lines[0].count(" -> ") == 3 and f"and {len(ways) - 3} more (--all-changes lists each)" in lines[0]
    assert ("[old: classification-deadline-new-license; new: classification-deadline-new-license; parameters changed: "
            "classification_deadline_months]") in lines[0]      # the one parameter the amendment changed, which the rule reads
    every = CliRunner().invoke(regcode, args + ["--all-changes"]).stdout.splitlines()
    at = every.index(lines[0].replace(" (--all-changes lists each)", ""))
    listed = every[at + 1:at + 1 + len(ways)]
    assert [line.split("  in ")[0].strip() for line in listed] == [f"{json.dumps(c['from'])} -> {json.dumps(c['to'])}" for c in ways]


DECISION_LINES = [   # (the decision's value changes as (old, new, cases), its line): one line per decision whatever its count
    ([(1, 2, 5)], "  d: 1 -> 2  in 5 of 9 cases, smallest s1  [old: r; new: r]"),
    ([(1, 2, 1), (3, 4, 5)], "  d: changed in 6 of 9 cases, 2 ways, the most frequent: 3 -> 4 in 5 (s2); 1 -> 2 in 1 (s1)  [old: r; new: r]"),
    ([(1, 2, 2), (3, 4, 2), (5, 6, 2), (7, 8, 3)], "  d: changed in 9 of 9 cases, 4 ways, the most frequent: 7 -> 8 in 3 (s4); "
                                                  "1 -> 2 in 2 (s1); 3 -> 4 in 2 (s2); and 1 more (--all-changes lists each)  [old: r; new: r]"),
]


@pytest.mark.parametrize("ways,line", DECISION_LINES, ids=["one way", "two ways", "more ways than shown"])
def test_diff_text_has_one_line_per_decision_with_its_most_frequent_changes(ways, line):
    changes = [{"decision": "d", "from": a, "to": b, "cases": n, "rules": {"old": ["r"], "new": ["r"]},
                "smallest_case": {"source": f"s{k + 1}", "facts": {}}} for k, (a, b, n) in enumerate(ways)]
    result = {"old": {"id": "p", "version": "1", "content_hash": "h"}, "new": {"id": "p", "version": "2", "content_hash": "h"},
              "static": {"rules": {"added": [], "removed": [], "changed": []}, "parameters": [], "decisions": [], "facts": [],
                         "text": []},
              "corpus": {"cases": 9, "changed_cases": 9, "compared": 9, "failed": {"old": 0, "new": 0, "both": 0},
                         "failing_cases": 0, "most_failed": False, "changes": changes, "errors_differ": [], "errors_same": [],
                         "unreadable": [], "removed_values": {}, "outside_window": {}}}
    shown = [l for l in diff_text(result).splitlines() if l.startswith("  d:")]
    assert shown == [line]
    every = diff_text(result, all_changes=True).splitlines()
    assert len([l for l in every if l.startswith("    ")]) == (len(ways) if len(ways) > 1 else 0)


# ---- each version's window as a date selects it (policies, the site) ------------------------------------------------
WINDOWS = {   # versions as (name, effective_from, effective_to) -> each one's in-force text, and the overlaps noted
    "an extending version taking over before the end":
        ([("2017", "2017-05-01", "2022-04-30"), ("2020", "2020-01-01", None)],
         {"2017": "2017-05-01 .. 2019-12-31 (then @2020)", "2020": "2020-01-01 .. open"}, [("2017", "2020")]),
    "one after the other, as declared":
        ([("2017", "2017-05-01", "2022-04-30"), ("2022", "2022-05-01", None)],
         {"2017": "2017-05-01 .. 2022-04-30", "2022": "2022-05-01 .. open"}, []),
    "a short version inside a long one splits it":
        ([("a", "2020-01-01", "2020-12-31"), ("b", "2020-03-01", "2020-03-31")],
         {"a": "2020-01-01 .. 2020-02-29 (then @b), 2020-04-01 .. 2020-12-31", "b": "2020-03-01 .. 2020-03-31"},
         [("a", "b")]),
    "the same start: the later name, and the other chosen on no day":
        ([("a", "2020-01-01", "2020-12-31"), ("b", "2020-01-01", None)],
         {"a": "chosen on no day (2020-01-01 .. 2020-12-31 declared; see the note)", "b": "2020-01-01 .. open"}, [("a", "b")]),
    "a gap between two versions":
        ([("a", "2020-01-01", "2020-06-30"), ("b", "2021-01-01", None)],
         {"a": "2020-01-01 .. 2020-06-30", "b": "2021-01-01 .. open"}, []),
}


@pytest.mark.parametrize("declared,shown,overlapping", WINDOWS.values(), ids=list(WINDOWS))
def test_each_version_is_listed_with_the_days_a_date_selects_it(tmp_path, declared, shown, overlapping):
    root = tmp_path / "policies"
    for name, start, end in declared:
        write(root, f"p/{name}/policy.yaml", f"apiVersion: regcode/v1\nkind: Policy\nid: p\nversion: '{name}'\ntitle: t\n"
              f"source: {{issuer: tests, date: 2020-01-01}}\neffective_from: {start}\n" + (f"effective_to: {end}\n" if end else ""))
    cat = Catalog([root])
    assert {name: cat.in_force_text("p", name) for name, _s, _e in declared} == shown
    assert [(a, b) for a, b, _text in cat.overlap_notes("p")] == overlapping
    for name, windows in cat.chosen_windows("p").items():     # what it lists is what choosing by date does
        for first, last, after in windows:
            assert cat.choose("p", first).version == name and (last is None or cat.choose("p", last).version == name)
            if after:
                assert cat.choose("p", (datetime.date.fromisoformat(last) + datetime.timedelta(days=1)).isoformat()).version == after
    text = CliRunner().invoke(regcode, ["policies", "--policy-root", str(root)]).stdout.splitlines()
    assert [line.split("  ")[1] for line in text if line.startswith("p@")] == [shown[name] for name, _s, _e in declared]
    assert len([line for line in text if line.startswith("note: ")]) == len(overlapping)


def test_the_site_shows_a_version_taken_over_by_an_extending_one_as_chosen(tmp_path):
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    amendment(root)     # toy@2, from 2021-01-01, extends toy@1 (to 2020-12-31): no overlap
    write(root, "toy/2/policy.yaml", (root / "toy/2/policy.yaml").read_text(encoding="utf-8")
          .replace("effective_from: 2021-01-01", "effective_from: 2020-07-01"))
    out = tmp_path / "site"
    result = CliRunner().invoke(regcode, ["site", "--policy-root", str(root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for page in ("index.html", "toy/1/index.html", "toy/versions.html"):
        html = (out / page).read_text(encoding="utf-8")
        assert "2020-01-01 .. 2020-06-30 (then @2)" in html and "overlap from 2020-07-01 to 2020-12-31" in html, page


# ---- an article reworded under an unchanged index entry: its title may state the old reading -----------------------
TENTH_ARTICLE = {   # (this version's own ArticleIndex, or None to inherit 2017's; whether diff asks to review the title)
    "the index entry inherited": (None, True),
    "the entry restated with a new title": ("  - {article: 第十条, chapter: 第二章 企业分类, title: 新申请企业一个月内分类、一般为B类, "
                                           "status: encoded}\n", False),
}


@pytest.mark.parametrize("index,noted", TENTH_ARTICLE.values(), ids=list(TENTH_ARTICLE))
def test_diff_asks_to_review_the_title_of_an_article_reworded_under_an_unchanged_index_entry(tmp_path, index, noted):
    root = tmp_path / "policies"
    _deadline_amendment(root)     # 2023: one month to classify a new licensee; its text says so
    write(root, "shanghai-post-license/2023/text.yaml", """\
        apiVersion: regcode/v1
        kind: ArticleText
        articles:
          - article: 第十条
            chapter: 第二章 企业分类
            paragraphs:
              - text: 对新申请生产许可证企业的分类工作，在企业取得生产许可证后一个月内，由企业生产地的区级市场监管局结合审查组实地核查情况，依据《实施细则》，开展企业分类有关工作。新申请生产许可证企业一般判定为B类企业。
        """)
    if index is not None:
        write(root, "shanghai-post-license/2023/articles.yaml", "apiVersion: regcode/v1\nkind: ArticleIndex\narticles:\n" + index)
    args = ["diff", "shanghai-post-license@2017", "shanghai-post-license@2023", "--policy-root", str(root)]
    result = CliRunner().invoke(regcode, args)
    assert result.exit_code == 0, result.output
    [line] = [l for l in result.stdout.splitlines() if "text 第十条" in l]
    review = "its article index entry is unchanged: review its title `新申请企业两个月内分类、一般为B类` against the new text"
    assert line == "  ~ text 第十条: reworded" + (f"; {review}" if noted else "")
    [entry] = json.loads(CliRunner().invoke(regcode, args + ["--format", "json"]).stdout)["static"]["text"]
    assert entry.get("index_unchanged") == ({"title": "新申请企业两个月内分类、一般为B类", "status": "encoded"} if noted else None)
    page = CliRunner().invoke(regcode, args + ["--format", "html"]).stdout
    assert (review.replace("`", "&#96;") in page or review in page) == noted


TWO_RULE_MISTAKES = """\
  - id: probe
    article: 第九十九条
    title: 探针
    then: [{decide: night_permt, value: true}]
"""
ONE_BAD_FILE = [   # (what is wrong, the file of version 2 it is in, its text, the code said there): never the only problem
    ("an ArticleText entry with a misspelt key", "text.yaml", "kind: ArticleText\narticles:\n  - article: 第二条\n"
     "    paragraph: [{text: 申请人应当符合下列条件}]\n", "schema.additionalProperties"),
    ("an ArticleIndex entry with a status there is not", "articles.yaml", "kind: ArticleIndex\narticles:\n"
     "  - {article: 第二条, title: 申请人, status: encodd}\n", "schema.enum"),
    ("a misspelt kind", "rules/more.yaml", "kind: Rule\nrules: []\n", "schema.kind"),
    ("a rules file whose rules are no list", "rules/more.yaml", "kind: Rules\nrules: {}\n", "schema.type"),
    ("a file that is a list", "more.yaml", None, "schema.type"),
    ("a file that is not text", "x.yaml", b"\x8b\xd9\x00\xff\xfe\x01kind\x93", "load.encoding"),
    ("a source file named outside the folder", "text.yaml", "kind: ArticleText\nsource: {file: ../x.txt}\narticles: []\n",
     "schema.not"),
    ("a source file's sha256 that is no hash", "text.yaml", "kind: ArticleText\nsource: {note: n, sha256: abc}\narticles: []\n",
     "schema.pattern"),
]


@pytest.mark.parametrize("name,file,text,code", ONE_BAD_FILE, ids=[b[0] for b in ONE_BAD_FILE])
def test_one_bad_file_of_an_amendment_does_not_hide_the_mistakes_of_its_rules(tmp_path, name, file, text, code):
    """A file bad as a whole is set aside as one that does not parse is, a misspelt kind is read as the kind it is
    nearest to, and an entry of the text or the article index that breaks the schema is set aside as a declaration
    is: the rules' mistakes are said in the same run (a rule citing an article there is not, a decision undeclared)."""
    root = tmp_path / "policies"
    v2 = amendment(root)
    with open(v2 / "rules.yaml", "a", encoding="utf-8") as fh:
        fh.write(TWO_RULE_MISTAKES)
    path = v2 / file
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text("- a\n- b\n" if text is None else "apiVersion: regcode/v1\n" + text, encoding="utf-8")
    result = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES),
                                          "--format", "json", str(v2)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert sorted((e["code"], Path(e["location"]["file"]).name) for e in errors) == sorted(
        [(code, path.name), ("compile.clause", "rules.yaml"), ("compile.unknown_decision", "rules.yaml")]), errors


MANIFEST_READINGS = [   # (what is wrong with the manifest, how policy.yaml is edited, the code said there)
    ("a misspelt extends", ('extends: "toy@1"', 'extend: "toy@1"'), "schema.additionalProperties"),
    ("a version that is not the folder's", ('version: "2"', 'version: "3"'), "schema.version"),
    ("an id that is not the folder's", ("id: toy", "id: toys"), "schema.policy_id"),
]


@pytest.mark.parametrize("name,edit,code", MANIFEST_READINGS, ids=[m[0] for m in MANIFEST_READINGS])
def test_a_manifest_read_as_meant_still_has_the_rules_checked(tmp_path, name, edit, code):
    """`extend:` is read as the `extends:` it is nearest to (as a rule's `tittle:` is read as `title:`), with no
    echo asking for a facts schema; nothing compiled reads the manifest's version or id (the folders name it): the
    rules of the version are checked beside either."""
    root = tmp_path / "policies"
    v2 = amendment(root)
    (v2 / "policy.yaml").write_text((v2 / "policy.yaml").read_text(encoding="utf-8").replace(*edit), encoding="utf-8")
    with open(v2 / "rules.yaml", "a", encoding="utf-8") as fh:
        fh.write(TWO_RULE_MISTAKES)
    result = CliRunner().invoke(regcode, ["validate", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES),
                                          "--format", "json", str(v2)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert sorted((e["code"], Path(e["location"]["file"]).name) for e in errors) == sorted(
        [(code, "policy.yaml"), ("compile.clause", "rules.yaml"), ("compile.unknown_decision", "rules.yaml")]), errors


# ---- a change to the manifest is a change: the window, the title, the identity, ... (regcode diff) -------------------
MANIFEST_EDITS = [   # (what the copy of toy@2 as toy@3 changes in its policy.yaml, the line(s) diff says, JSON static key)
    ("the window", {"effective_from": "2021-06-01", "effective_to": "2022-12-31"},
     ["  ~ window 2021-01-01 .. open -> 2021-06-01 .. 2022-12-31"], "window"),
    ("the title", {"title": "流动餐车许可 (reordered)"}, ["  ~ title: 流动餐车许可 (toy amendment) -> 流动餐车许可 (reordered)"], "manifest"),
    ("the identity", {"identity": ["applicant.name"]}, ['  + identity: ["applicant.name"]'], "manifest"),
    ("the source", {"source": {"number": "TOY-3", "issuer": "regcode tests", "date": "2020-11-01"}},
     ["  ~ source: number changed"], "manifest"),
]


def _manifest_copy(root: Path, edit: dict) -> Path:
    shutil.copytree(root / "toy" / "2", root / "toy" / "3")
    path = root / "toy" / "3" / "policy.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update({"version": "3", **edit})
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("name,edit,lines,key", MANIFEST_EDITS, ids=[e[0] for e in MANIFEST_EDITS])
def test_diff_says_what_a_versions_manifest_changes_and_fails_on_it(tmp_path, name, edit, lines, key):
    root = tmp_path / "policies"
    amendment(root)
    _manifest_copy(root, edit)
    args = ["diff", "toy@2", "toy@3", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES), "--fail-on-change"]
    result = CliRunner().invoke(regcode, args)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[1:] == lines
    data = json.loads(CliRunner().invoke(regcode, args + ["--format", "json"]).stdout)
    assert data["static"][key] and data["static"]["unattributed"] == []
    page = CliRunner().invoke(regcode, args + ["--format", "html"]).stdout
    assert "<h3>Manifest</h3>" in page and "No differences" not in page


def test_diff_never_says_no_differences_when_the_content_hashes_differ(tmp_path):
    """A renamed copy differs by its name alone, and says so; a facts schema changed beyond its fact paths (a default
    here) is not itemised, but said, and fails --fail-on-change."""
    root = tmp_path / "policies"
    amendment(root)
    _manifest_copy(root, {})
    args = ["diff", "toy@2", "toy@3", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES), "--fail-on-change"]
    result = CliRunner().invoke(regcode, args)
    assert result.exit_code == 0 and result.stdout.splitlines()[1:] == [
        "  no differences in rules, parameters, decisions, facts, text or manifest: the content hashes differ by the "
        "versions' names alone"]
    facts = root / "toy" / "3" / "facts.yaml"
    facts.write_text(facts.read_text(encoding="utf-8").replace("default: false", "default: true"), encoding="utf-8")
    result = CliRunner().invoke(regcode, args)
    assert result.exit_code == 1 and result.stdout.splitlines()[1:] == [
        "  ? facts schema differs (applicant.night_market), not itemised: the content hashes differ by it"]


def test_an_un_itemised_change_is_rendered_in_the_diff_page_and_the_site(tmp_path):
    """A change the diff hashes but does not itemise (a derived fact's title here: a `?` line) had no `same_in_effect`,
    which the pages' strict templates read: `diff --format html` and `site` were exit 3."""
    root = tmp_path / "policies"
    write(root, "toy/2/policy.yaml", """\
        apiVersion: regcode/v1
        kind: Policy
        id: toy
        version: "2"
        title: 流动餐车许可 (toy amendment)
        source: {number: TOY-2, issuer: regcode tests, date: 2020-11-01}
        effective_from: 2021-01-01
        extends: toy@1
        """)
    write(root, "toy/2/derived.yaml", """\
        apiVersion: regcode/v1
        kind: DerivedFacts
        facts:
          audit_trail: {title: 审计记录, fields: {plate: string, note: string}}
        """)
    roots = ["--policy-root", str(root), "--policy-root", str(TEST_POLICIES)]
    said = "derived facts differs (audit_trail), not itemised: the content hashes differ by it"
    text = CliRunner().invoke(regcode, ["diff", "toy@1", "toy@2", *roots])
    assert text.exit_code == 0 and f"  ? {said}" in text.stdout.splitlines(), text.output
    page = CliRunner().invoke(regcode, ["diff", "toy@1", "toy@2", *roots, "--format", "html"])
    assert page.exit_code == 0, page.output
    assert f"<li data-search>{said}</li>" in page.stdout and "No differences" not in page.stdout
    site = CliRunner().invoke(regcode, ["site", "toy", *roots, "--out", str(tmp_path / "site")])
    assert site.exit_code == 0, site.output
    assert f"<li data-search>{said}</li>" in (tmp_path / "site" / "toy" / "versions.html").read_text(encoding="utf-8")


AGAINST = [   # (--against, with the amendment's root, the expectations that no longer hold): a case expecting a selection
    # error is judged by its own version's window (2017's cases dated 2017-04-30 and 2022-05-01), as its own run does
    ("2017", False, 0),
    ("2022-illustration", True, 8),    # the 8 expecting revoke_quality_awards, which the amendment drops
]


@pytest.mark.parametrize("against,amended,failing", AGAINST, ids=[a[0] for a in AGAINST])
def test_test_against_judges_a_case_expecting_no_version_in_force_by_its_own_window(against, amended, failing):
    args = ["test", "shanghai-post-license@2017", "--against", against] + (
        ["--policy-root", str(REPO / "examples" / "amendment" / "policies")] if amended else [])
    result = CliRunner().invoke(regcode, args)
    assert result.exit_code == (1 if failing else 0), result.stdout[-2000:]
    assert f"against {against}: {failing} of 171 expectations no longer hold (2 expecting a selection error judged by " \
           "their own version's window, as its own run does)" in result.stdout
    data = json.loads(CliRunner().invoke(regcode, args + ["--format", "json"]).stdout)
    aside = [c for c in data["cases"] if c["name"].endswith("no version is in force")]
    assert len(aside) == 2 and all(c["status"] == "pass" and c["policy"] == "shanghai-post-license@2017" for c in aside)


@pytest.mark.parametrize("kind", ["an empty JSONL file", "an empty folder"])
def test_a_diff_over_a_corpus_of_no_case_compared_nothing_and_says_so(tmp_path, kind):
    """A corpus with no case (the wrong file) compares no decision: said, exit 1, with or without --fail-on-change,
    while the static comparison is still printed."""
    corpus = tmp_path / ("c.jsonl" if "JSONL" in kind else "cases")
    corpus.write_bytes(b"") if "JSONL" in kind else corpus.mkdir()
    result = CliRunner().invoke(regcode, ["diff", "shanghai-post-license@2017", "shanghai-post-license@2017", "--corpus", str(corpus)])
    assert result.exit_code == 1, result.output
    assert "no differences in rules" in result.stdout
    assert f"diff.empty_corpus: the corpus {corpus} holds no case file: no decision was compared" in result.stderr


def test_a_case_failing_inside_a_corpus_diff_is_said_as_batch_says_it_with_its_place_in_the_json(tmp_path):
    """A corpus line whose as_of is no day is input.as_of as eval and batch call it (not the facts schema's
    input.schema), and each failing case has its first problem in the text and every problem, placed, in the JSON."""
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"as_of": "2019-02-30"}\n{"as_of": "2019-06-30", "enterprise": {"name": 1}}\n', encoding="utf-8")
    args = ["diff", "shanghai-post-license@2017", "shanghai-post-license@2017", "--corpus", str(corpus)]
    text = CliRunner().invoke(regcode, args).stdout
    # each at the value's column in its line: as_of's value (11), the enterprise mapping missing two fields (39)
    assert f"? {corpus}:1:11: unreadable (input.as_of): input.as_of: as_of '2019-02-30' is not a date" in text, text
    assert f"x {corpus}:2:39: fails on both sides (input.schema): input.schema: " in text, text
    data = json.loads(CliRunner().invoke(regcode, args + ["--format", "json"]).stdout)["corpus"]
    [unreadable] = data["unreadable"]
    where = unreadable["problems"][0]["location"]
    assert unreadable["errors"] == ["input.as_of"] and (where["file"], where["line"], where["column"]) == (str(corpus), 1, 11), where
    [both] = data["errors_same"]
    assert both["errors"] == ["input.schema"] and {p["location"]["path"] for p in both["problems"]} >= {"enterprise.name"}


def test_the_values_of_an_in_list_in_another_order_are_the_same_version(tmp_path):
    """`in` and `not_in` compare with a set: the same values listed in another order change neither the content
    hash (a decision log's version stays the version) nor `diff`, which says no difference; other values do."""
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy" / "1", root / "toy" / "1")
    rules = root / "toy" / "1" / "rules" / "applicant.yaml"
    text = rules.read_text(encoding="utf-8")
    assert "value: [外地, 未知]" in text
    original = Catalog([str(TEST_POLICIES)]).by_ref("toy@1")
    rules.write_text(text.replace("value: [外地, 未知]", "value: [未知, 外地]"), encoding="utf-8")
    reordered = Catalog([str(root)]).by_ref("toy@1")
    assert reordered.content_hash == original.content_hash
    rules.write_text(text.replace("value: [外地, 未知]", "value: [未知, 外省]"), encoding="utf-8")
    assert Catalog([str(root)]).by_ref("toy@1").content_hash != original.content_hash


def test_diff_says_no_condition_changed_for_an_in_list_in_another_order(tmp_path):
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy" / "1", root / "toy" / "9")
    manifest = root / "toy" / "9" / "policy.yaml"
    manifest.write_text(re.sub(r"(?m)^version: .*$", 'version: "9"', manifest.read_text(encoding="utf-8")), encoding="utf-8")
    rules = root / "toy" / "9" / "rules" / "applicant.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("value: [外地, 未知]", "value: [未知, 外地]"), encoding="utf-8")
    result = CliRunner().invoke(regcode, ["diff", "toy@1", "toy@9", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES),
                                          "--fail-on-change"])
    assert result.exit_code == 0, result.output
    assert "condition changed" not in result.stdout and "the content hashes differ by the versions' names alone" in result.stdout


# ---- values of another JSON type are other values ---------------------------------------------------
# Python's == says False == 0, True == 1, 2 == 2.0; the output a reader gets says `false`, `0`, `2.0`.
SAME_JSON = [   # (a, b, the same JSON value?)
    (False, 0, False), (True, 1, False), (True, 1.0, False), (2, 2.0, False), (None, 0, False), (None, False, False),
    ("1", 1, False), ([1], [True], False), ([0, 1], [False, True], False), ({"a": 0}, {"a": False}, False),
    ({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2.0}]}, False), ({"a": 1}, {"b": 1}, False), ([1, 2], [1], False),
    ({}, [], False), ("", None, False),
    (2, 2, True), (2.5, 2.5, True), (0.0, -0.0, True), (False, False, True), (None, None, True), ([1, 2], (1, 2), True),
    ({"a": [1, {"b": [True, None]}]}, {"a": [1, {"b": [True, None]}]}, True), ("浦东新区", "浦东新区", True),
]


@pytest.mark.parametrize("a,b,expected", SAME_JSON, ids=[f"{json.dumps(a)} vs {json.dumps(b)}" for a, b, _ in SAME_JSON])
def test_same_compares_json_values_by_type_and_value(a, b, expected):
    from regcode.engine._json import same
    assert same(a, b) is expected and same(b, a) is expected


TYPE_EDITS = [   # (name, edits of a copy of toy@1 as (file, old text, new text), the static lines, every case changed?)
    ("a bool decision made a number",
     [("decisions.yaml", "any_major: {title: 有重大事故, type: bool, combine: any, default: false}",
       "any_major: {title: 有重大事故, type: number, combine: max, default: 0}"),
      ("rules/incidents.yaml", "{decide: any_major, value: true}", "{decide: any_major, value: 1}"),
      ("rules/incidents.yaml", "{decide: any_major, value: false}", "{decide: any_major, value: 0}")],
     ["  ~ rule major-incident (第四条): conclusion changed", "  ~ rule no-major-any (第四条): conclusion changed",
      "  ~ decision any_major: combine: any -> max; default: false -> 0; type: bool -> number"], "any_major"),
    ("an integer parameter written as a float, output as it",
     [("parameters.yaml", "unit: CNY, value: 100}", "unit: CNY, value: 100.0}")],
     ["  ~ parameter base_fee (第五条): 100 -> 100.0"], "fee"),
    ("an integer parameter written as a float, only compared with",
     [("parameters.yaml", "unit: count, value: 2}", "unit: count, value: 2.0}")],
     ["  ~ parameter max_minor_incidents (第四条): 2 -> 2.0"], None),
]


@pytest.mark.parametrize("name,edits,lines,decision", TYPE_EDITS, ids=[e[0] for e in TYPE_EDITS])
def test_diff_tells_values_of_another_json_type_apart(tmp_path, name, edits, lines, decision):
    """A copy of a version under the same names with `false` made `0` or `2` made `2.0`: the static diff says the
    change (not "differ by the versions' names alone", which is not so), and over a corpus every case whose output
    now reads otherwise is a changed case, `false -> 0` as much as `false -> true`."""
    folder = tmp_path / "toy" / "1"
    shutil.copytree(TEST_POLICIES / "toy" / "1", folder)
    for rel, old, new in edits:
        path = folder / rel
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, (rel, old)
        path.write_text(text.replace(old, new), encoding="utf-8")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(toy_case(seed), ensure_ascii=False) + "\n" for seed in range(40)), encoding="utf-8")
    args = ["diff", "toy@1", str(folder), "--policy-root", str(TEST_POLICIES), "--corpus", str(corpus)]
    result = CliRunner().invoke(regcode, args + ["--fail-on-change"])
    assert result.exit_code == 1, result.output
    text = result.stdout.splitlines()
    assert text[1:1 + len(lines)] == lines and "names alone" not in result.stdout, result.stdout
    data = json.loads(CliRunner().invoke(regcode, args + ["--format", "json"]).stdout)
    c = data["corpus"]
    assert c["cases"] == 40 and c["compared"] == 40
    if decision is None:      # 2 and 2.0 compare alike: no output changes
        assert c["changed_cases"] == 0 and c["changes"] == []
        return
    assert c["changed_cases"] == 40 and c["by_decision"] == {decision: 40}, c["by_decision"]
    for change in c["changes"]:    # the same value as Python sees it, another to whoever reads the JSON
        assert change["from"] == change["to"] and json.dumps(change["from"]) != json.dumps(change["to"]), change


def test_diff_says_the_names_alone_differ_only_when_they_do(tmp_path, monkeypatch):
    """Two versions of one name whose content hashes differ by something no line itemises get a `?` line, never
    "the content hashes differ by the versions' names alone" (which cannot be so: the names are the same)."""
    from regcode.engine import diff as diff_module
    folder = tmp_path / "toy" / "1"
    shutil.copytree(TEST_POLICIES / "toy" / "1", folder)
    rules = folder / "rules" / "applicant.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("value: [外地, 未知]", "value: [未知, 外地]"), encoding="utf-8")
    real = diff_module.hashed_form
    # a part of the hashed form no line of the diff knows of (say, one a later version adds to the hash)
    monkeypatch.setattr(diff_module, "hashed_form", lambda r: {**real(r), "later": r["rules"]})   # (as written, not as meant)
    old, new = Catalog([str(TEST_POLICIES)]).by_ref("toy@1"), Catalog([str(tmp_path)]).by_ref("toy@1")
    old.content_hash, new.content_hash = "0" * 16, "1" * 16
    result = diff(old, new)
    assert diff_module.has_changes(result)
    assert diff_text(result).splitlines()[1:] == ["  ? content differs, not itemised: the content hashes differ by it"]
    monkeypatch.setattr(diff_module, "hashed_form", real)     # the hashed form as it is: the same less the names
    assert diff_text(diff(old, new)).splitlines()[1:] == ["  no differences in rules, parameters, decisions, facts, text or manifest"]


# ---- a corpus record that cannot be read is a case left out: exit 1 ---------------------------------
GOOD = "".join(json.dumps(toy_case(seed), ensure_ascii=False) + "\n" for seed in range(3)).encode("utf-8")
UNREADABLE = [   # (name, the corpus: JSONL bytes, or {file name: bytes} for a folder; the code of its ? line)
    ("a line cut short", GOOD + json.dumps(toy_case(3)).encode()[:30] + b"\n", "input.syntax"),
    ("null", GOOD + b"null\n", "input.not_mapping"),
    ("a list", GOOD + b"[1, 2]\n", "input.not_mapping"),
    ("not UTF-8", GOOD + b'{"as_of": "2020-01-01", "applicant": {"name": "\xff"}}\n', "input.encoding"),
    ("a duplicate key", GOOD + b'{"as_of": "2020-01-01", "as_of": "2020-01-02"}\n', "input.duplicate_key"),
    ("NaN", GOOD + b'{"as_of": "2020-01-01", "applicant": {"employees": NaN}}\n', "input.number"),
    ("no date", GOOD + b'{"applicant": {"name": "x"}}\n', "input.as_of"),
    ("a YAML file that does not parse in a folder",
     {**{f"c{i}.yaml": yaml.safe_dump(toy_case(i), allow_unicode=True).encode() for i in range(3)},
      "bad.yaml": b"as_of: 2020-01-01\napplicant: [\n"}, "input.syntax"),
]


def _write_corpus(tmp_path, corpus) -> Path:
    if isinstance(corpus, bytes):
        path = tmp_path / "corpus.jsonl"
        path.write_bytes(corpus)
        return path
    folder = tmp_path / "cases"
    folder.mkdir()
    for name, data in corpus.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize("name,corpus,code", UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_a_corpus_record_that_cannot_be_read_fails_the_diff_and_the_rest_are_compared(tmp_path, name, corpus, code):
    """batch exits 1 on a bad record and replay on a damaged line: a diff that left a case out is no pass either,
    with or without --fail-on-change, in every format; the readable cases are still compared."""
    path = _write_corpus(tmp_path, corpus)
    base = ["diff", "toy@1", "toy@1", "--policy-root", str(TEST_POLICIES), "--corpus", str(path)]
    for extra in ([], ["--fail-on-change"], ["--format", "json"]):
        result = CliRunner().invoke(regcode, base + extra)
        assert result.exit_code == 1, (extra, result.output)
        assert "Traceback" not in result.output
        assert (f"{path}: diff.unreadable: 1 of the corpus's 4 records could not be read (the ? lines); only the rest "
                "are compared") in result.stderr, result.stderr
    text = CliRunner().invoke(regcode, base).stdout
    assert "corpus: 4 cases, 0 with changed decisions, 1 failing to evaluate (old only 0, new only 0, both 0, unreadable 1)" in text
    assert "warning:" not in text, text
    # its ? line gives the record's place as batch gives it (file:line:col), then the problem as batch says it
    batch = CliRunner().invoke(regcode, ["batch", str(path), "--out", str(tmp_path / "out.jsonl"), "--jobs", "1",
                                         "--policy-root", str(TEST_POLICIES), "--policy", "toy"])
    [said] = [line for line in batch.stderr.splitlines() if f": {code}: " in line]
    place, problem = said.split(f": {code}: ", 1)
    assert re.search(r"(bad\.yaml|corpus\.jsonl:4):\d+(:\d+)?$", place), said
    [line] = [line for line in text.splitlines() if line.startswith("  ? ")]
    assert line.startswith(f"  ? {place}: unreadable ({code}): {code}: {problem.split(' (')[0]}"), (line, said)
    data = json.loads(CliRunner().invoke(regcode, base + ["--format", "json"]).stdout)["corpus"]
    assert (data["cases"], data["compared"], [u["errors"] for u in data["unreadable"]]) == (4, 3, [[code]])


def test_a_corpus_of_readable_records_still_passes(tmp_path):
    path = _write_corpus(tmp_path, GOOD)
    result = CliRunner().invoke(regcode, ["diff", "toy@1", "toy@1", "--policy-root", str(TEST_POLICIES), "--corpus", str(path),
                                          "--fail-on-change"])
    assert result.exit_code == 0 and result.stderr == "", result.output


def test_a_corpus_folder_that_cannot_be_listed_fails_the_diff(tmp_path, locked_folders):
    """A folder of the corpus that cannot be listed (conftest.locked_folders) is input lost, as in batch."""
    folder = _write_corpus(tmp_path, {"a.yaml": yaml.safe_dump(toy_case(1), allow_unicode=True).encode()})
    (folder / "locked").mkdir()
    result = CliRunner().invoke(regcode, ["diff", "toy@1", "toy@1", "--policy-root", str(TEST_POLICIES), "--corpus", str(folder)])
    assert result.exit_code == 1, result.output
    assert f"{folder / 'locked'}: input.io: not read: a folder that cannot be listed (Permission denied)" in result.stderr
    assert f"{folder}: diff.unreadable: 1 folder of it could not be listed (on stderr above)" in result.stderr, result.stderr
    assert "corpus: 1 case, 0 with changed decisions" in result.stdout


def _new_dated_parameters(root: Path) -> Path:
    """The toy amendment with two new parameters dated from its first day, 2021-01-01: `night_fee`, which a new rule
    reads, and `unread_fee`, which none does."""
    v2 = amendment(root)
    (v2 / "parameters.yaml").write_text(textwrap.dedent("""\
        apiVersion: regcode/v1
        kind: Parameters
        parameters:
          base_fee: {title: 基本费用, article: 第五条, unit: CNY, value: 120}
          night_fee: {title: 夜市附加费, article: 第五条, unit: CNY, values: {2021-01-01: 30}}
          unread_fee: {title: 未用费用, article: 第五条, unit: CNY, values: {2021-01-01: 5}}
        """), encoding="utf-8")
    rules = (v2 / "rules.yaml").read_text(encoding="utf-8")
    (v2 / "rules.yaml").write_text(rules + textwrap.indent(textwrap.dedent("""\
        - id: night-market-fee
          article: 第五条
          title: 夜市经营加收附加费
          when: {path: applicant.night_market, op: '==', value: true}
          then: [{decide: fee, value: {param: night_fee}}]
        """), "  "), encoding="utf-8")
    return v2


NO_VALUE_WORDS = ("parameter `night_fee` of toy@2 has no value before 2021-01-01, its first date, and rule `night-market-fee` "
                  "reads it")


def test_test_against_a_version_whose_new_parameter_starts_after_the_cases_says_it_once(tmp_path):
    """toy@1's cases (2020) against toy@2, whose new `night_fee` starts on 2021-01-01: one problem at the parameter,
    naming the cases it stops and their dates, each case `not evaluated` (an error, not a changed expectation, whatever
    it expected), and nothing of `unread_fee`, which no rule reads (as OpenFisca and Catala ask only for what is used)."""
    root = tmp_path / "policies"
    _new_dated_parameters(root)
    args = ["test", "toy@1", "--against", "2", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES)]
    data = json.loads(CliRunner().invoke(regcode, args + ["--format", "json"]).stdout)
    stopped = [c for c in data["cases"] if c["status"] != "pass"]   # (the 2 that pass expect the select and input errors)
    assert len(stopped) == len(data["cases"]) - 2 and all(c["status"] == "error" and c["error"]["codes"] == ["eval.parameter"] and not c["diffs"]
                           for c in stopped)
    assert data["not_evaluated"] == len(stopped) and data["failed"] == len(stopped)
    (problem,) = data["problems"]
    assert problem["code"] == "eval.parameter" and problem["message"] == (
        f"{NO_VALUE_WORDS}: {len(stopped)} cases dated before it (2020-03-01 .. 2020-07-01) could not be evaluated with toy@2")
    assert problem["location"]["file"].endswith("toy/2/parameters.yaml") and problem["location"]["line"] == 5
    assert (problem["location"]["column"], problem["location"]["path"]) == (62, "parameters.night_fee.values")  # at `values`
    assert "value dated on or before 2020-03-01" in problem["hint"]
    result = CliRunner().invoke(regcode, args)
    assert result.exit_code == 1
    said = result.stdout + result.stderr      # (the problems on stderr, before the results)
    assert said.count(NO_VALUE_WORDS) == 1 and "unread_fee" not in said, said
    assert re.search(r"toy/2/parameters\.yaml:5:\d+: eval\.parameter: ", result.stderr)
    assert result.stdout.count("not evaluated: `night_fee` has no value on its date (said above)") == len(stopped)
    assert result.stdout.splitlines()[-1] == f"2 passed, {len(stopped)} failed ({len(stopped)} not evaluated)"


@pytest.mark.parametrize("verb", ["eval", "batch"])
def test_eval_and_batch_before_a_read_parameter_s_first_value_say_it_at_the_parameter(tmp_path, verb):
    """As `test` does for each case: forced on a day before `night_fee`'s first value, the case is not evaluated,
    said at the parameter with the rule that reads it; `unread_fee` is not said. From that day on, it evaluates."""
    root = tmp_path / "policies"
    _new_dated_parameters(root)
    case = write(tmp_path, "cases/early.yaml", """\
        as_of: 2020-06-30
        applicant: {name: 甲, district: 徐汇区, night_market: true}
        """)
    args = [verb, "--policy-root", str(root), "--policy-root", str(TEST_POLICIES), "--policy", "toy", "--policy-version", "2",
            str(case.parent if verb == "batch" else case)] + (["--out", str(tmp_path / "out.jsonl")] if verb == "batch" else [])
    result = CliRunner().invoke(regcode, args)
    assert result.exit_code == 1
    (line,) = [l for l in result.stderr.splitlines() if "eval.parameter" in l]
    # at the parameter's `values` (its flow mapping, column 62), where a value for that date would be written
    assert re.search(r"toy/2/parameters\.yaml:5:62: eval\.parameter: ", line) and NO_VALUE_WORDS in line, line
    assert ": on 2020-06-30 toy@2 cannot be evaluated" in line and "unread_fee" not in result.stderr
    result = CliRunner().invoke(regcode, args + ["--as-of", "2021-01-01"])
    assert result.exit_code == 0, result.output


BLOCK_PARAMETERS = """\
    apiVersion: regcode/v1
    kind: Parameters
    parameters:
      base_fee: {title: 基本费用, article: 第五条, unit: CNY, value: 120}
      night_fee:
        title: 夜市附加费
        article: 第五条
        unit: CNY
        values:
          2021-01-01: 30
    """


@pytest.mark.parametrize("dated_by", ["the case file", "the query"])
def test_a_pinned_version_s_parameter_without_a_value_on_the_date_is_said_at_its_values_over_http_as_by_the_cli(
        tmp_path, dated_by):
    """A client pinning toy@2 (`version`) on a date before `night_fee`'s first value gets the CLI's eval.parameter,
    word for word and at the same place: the parameter's `values` in its file (line 10, column 7, below the
    parameter's own line), naming the date evaluated, whether the case file's as_of or the query's; on
    /v1/evaluate (a 422) and in a batch's element alike."""
    from servekit import YAML, serving
    root = tmp_path / "policies"
    v2 = _new_dated_parameters(root)
    (v2 / "parameters.yaml").write_text(textwrap.dedent(BLOCK_PARAMETERS), encoding="utf-8")
    own = "2020-06-30" if dated_by == "the case file" else "2021-06-30"     # the query's 2020-06-30 wins over it
    case = write(tmp_path, "early.yaml", f"""\
        as_of: {own}
        applicant: {{name: 甲, district: 徐汇区, night_market: true}}
        """)
    as_of = {"as_of": "2020-06-30"} if dated_by == "the query" else {}
    said = CliRunner().invoke(regcode, ["eval", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES), "--policy",
                                        "toy", "--policy-version", "2", str(case), "--format", "json",
                                        *(["--as-of", as_of["as_of"]] if as_of else [])])
    assert said.exit_code == 1
    (issue,) = json.loads(said.stderr)["errors"]    # (--format json: the problems as JSON, on stderr)
    assert issue["code"] == "eval.parameter" and ": on 2020-06-30 toy@2 cannot be evaluated" in issue["message"]
    assert issue["location"] == {"file": str(v2 / "parameters.yaml"), "line": 10, "column": 7,
                                 "path": "parameters.night_fee.values"}, issue
    query = {"policy": "toy", "version": "2", **as_of}
    with serving(workers=1, policy_roots=[str(root), str(TEST_POLICIES)]) as client:
        answer = client.post("/v1/evaluate", params=query, content=case.read_bytes(), headers=YAML)
        assert answer.status_code == 422 and answer.json()["errors"] == [issue], answer.text
        assert answer.json()["detail"].startswith(f"{v2 / 'parameters.yaml'}:10:7: eval.parameter: ")
        record = {"as_of": own, "applicant": {"name": "甲", "district": "徐汇区", "night_market": True}}
        batch = client.post("/v1/evaluate/batch", params=query, content=json.dumps([record]).encode("utf-8"))
        assert batch.status_code == 200 and batch.json()["failed"] == 1, batch.text
        assert batch.json()["results"][0]["errors"] == [issue]


def test_batch_says_a_parameter_that_stops_many_records_once(tmp_path):
    """As `regcode test` does: 30 records dated before `night_fee`'s first value, on stderr the problem once and then
    how many more it stopped; the --errors file keeps one line a record (errors are data, each joins back)."""
    root = tmp_path / "policies"
    _new_dated_parameters(root)
    corpus = tmp_path / "many.jsonl"
    corpus.write_text("".join(json.dumps({"as_of": f"2020-06-{d:02d}", "applicant": {"name": "甲", "district": "徐汇区"}},
                                         ensure_ascii=False) + "\n" for d in range(1, 31)), encoding="utf-8")
    args = ["batch", "--policy-root", str(root), "--policy-root", str(TEST_POLICIES), "--policy", "toy", "--policy-version", "2",
            str(corpus), "--out", str(tmp_path / "out.jsonl")]
    result = CliRunner().invoke(regcode, args)
    assert result.exit_code == 1
    assert result.stderr.count(NO_VALUE_WORDS) == 1, result.stderr
    assert re.search(r"\.\.\. and 29 more records not evaluated for the same parameter \(\S+toy/2/parameters\.yaml:5:\d+, "
                     r"said above", result.stderr), result.stderr
    assert "read 30, evaluated 0, failed 30" in result.stderr
    result = CliRunner().invoke(regcode, args + ["--errors", str(tmp_path / "err.jsonl")])
    lines = (tmp_path / "err.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 30 and all(json.loads(l)["errors"][0]["code"] == "eval.parameter" for l in lines)


def test_a_change_names_the_changed_parameters_its_deciding_rules_read():
    """The amendment raises the credit mode's sampling ratio (a parameter, no rule text changed): the change of
    inspection_sampling_ratio_min says which parameter; a change no changed parameter explains names none."""
    diff_versions = diff
    cat = Catalog([REPO / "examples" / "amendment" / "policies"])
    old, new = cat.by_ref("shanghai-post-license@2017"), cat.by_ref("shanghai-post-license@2022-illustration")
    changed = {p["name"] for p in diff_versions(old, new)["static"]["parameters"]}
    assert "credit_sampling_ratio" in changed
    records = list(iter_corpus(str(REPO / "examples" / "amendment" / "corpus.jsonl")))
    changes = diff_versions(old, new, records)["corpus"]["changes"]
    by = {c["decision"]: c["parameters"] for c in changes}
    assert by["inspection_sampling_ratio_min"] == ["credit_sampling_ratio"]
    assert by["special_inspection_reasons"] == []          # a rule removed, no parameter: none named
    reads = {r.id: set(r.reads_params) for r in new.rules}
    for c in changes:      # only changed parameters that a deciding rule reads
        assert set(c["parameters"]) <= changed
        assert all(any(p in reads.get(r, ()) for r in c["rules"]["new"]) or c["rules"]["old"] for p in c["parameters"])
