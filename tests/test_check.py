"""`regcode check`: each logic check on the planted fixture (output pinned), on the shipped policy (clean), and
the analyses one by one on small policies written here."""
from __future__ import annotations

import json
import shutil
import textwrap

import pytest
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import Catalog, EvaluationError, shipped_root
from regcode.engine.check import check, to_text
from regcode.engine.evaluate import evaluate

from conftest import FIXTURES, REPO, TESTS

CHECK_ROOT = FIXTURES / "check"
PLANTED = CHECK_ROOT / "planted" / "1"
GOLDEN = TESTS / "golden" / "check-planted.txt"
CODES = ["check.always_loses", "check.conflict", "check.dead_condition", "check.not_exhaustive", "check.unclaimed_decision",
         "check.underived_fact", "check.unread_derived", "check.unused_parameter"]


def run(*args):
    return CliRunner().invoke(regcode, list(args))


@pytest.fixture
def at_repo(monkeypatch):
    monkeypatch.chdir(REPO)   # locations in the report are relative to the working folder


def test_check_reports_each_planted_defect_exactly_golden(at_repo, update_golden):
    result = run("check", "planted", "--policy-root", str(CHECK_ROOT.relative_to(REPO)))
    assert result.exit_code == 1, result.output
    if update_golden:
        GOLDEN.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == GOLDEN.read_text(encoding="utf-8")


def test_check_json_has_one_finding_per_planted_kind_with_place_hint_and_witness(at_repo):
    result = run("check", "planted@1", "--policy-root", str(CHECK_ROOT), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert sorted(f["code"] for f in report["findings"]) == CODES
    for f in report["findings"]:
        assert f["location"]["file"].startswith(str(PLANTED.relative_to(REPO))) and f["location"]["line"] > 0 and f["hint"] and not f["explained"]
    assert report["space"]["exhaustive"] is True and report["space"]["evaluated"] == report["space"]["combinations"] == 24
    policy = Catalog([CHECK_ROOT]).by_ref("planted@1")
    gap = next(f for f in report["findings"] if f["code"] == "check.not_exhaustive")
    shown = evaluate(policy, gap["witness"], gap["witness"]["as_of"])   # the witness is a real case file showing the gap
    assert shown.decisions["applicable"] is True and shown.decisions["tier"] is None
    conflict = next(f for f in report["findings"] if f["code"] == "check.conflict")
    with pytest.raises(EvaluationError) as exc:
        evaluate(policy, conflict["witness"], conflict["witness"]["as_of"])
    assert exc.value.issues[0].code == "eval.conflict"


def test_the_shipped_policy_is_clean():
    result = run("check", "shanghai-post-license")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("shanghai-post-license@2017: 0 finding(s)")


def _shanghai_copy(tmp_path, required: list, drop_rule: str = ""):
    root = tmp_path / "policies"
    shutil.copytree(shipped_root() / "shanghai-post-license", root / "shanghai-post-license")
    version = root / "shanghai-post-license" / "2017"
    decisions = version / "decisions.yaml"
    text = decisions.read_text(encoding="utf-8")
    for name in required:
        head = text.index(f"\n  {name}:\n")
        end = text.index("\n", text.index("    default:", head))
        if text[end + 1:].startswith("    required_when:"):
            continue          # the shipped policy declares it already
        text = text[:end + 1] + "    required_when: {applicable: true}\n" + text[end + 1:]
    decisions.write_text(text, encoding="utf-8")
    if drop_rule:
        for rules in (version / "rules").glob("*.yaml"):
            body = rules.read_text(encoding="utf-8")
            if f"  - id: {drop_rule}\n" in body:
                start = body.index(f"  - id: {drop_rule}\n")
                stop = body.find("\n  - id: ", start + 1)
                rules.write_text(body[:start] + (body[stop + 1:] if stop > 0 else ""), encoding="utf-8")
    return Catalog([root]).by_ref("shanghai-post-license@2017"), Catalog([root])


SHANGHAI_REQUIRED = ["competent_authority", "classification", "supervision_mode", "inspections_per_year_min",
                     "inspection_sampling_ratio_min"]


def test_the_shipped_policy_is_exhaustive_for_an_applicable_enterprise(tmp_path):
    """The shipped policy declares the decisions an applicable enterprise must always get (required_when)."""
    policy, cat = _shanghai_copy(tmp_path, SHANGHAI_REQUIRED)
    report = check(cat, policy)
    assert [str(f.issue) for f in report.unexplained] == []
    assert set(report.space["checked"]) == set(SHANGHAI_REQUIRED) and report.space["evaluated"] > 1000


def test_a_mode_left_unclaimed_for_class_b_is_found_in_the_shanghai_policy(tmp_path):
    policy, cat = _shanghai_copy(tmp_path, SHANGHAI_REQUIRED, drop_rule="mode-normal-for-b")
    gaps = {f.issue.message.split("`")[1]: f for f in check(cat, policy).findings if f.issue.code == "check.not_exhaustive"}
    assert set(gaps) == {"supervision_mode", "inspections_per_year_min", "inspection_sampling_ratio_min"}
    assert 'all with classification = "b"' in gaps["supervision_mode"].issue.message
    assert evaluate(policy, gaps["supervision_mode"].witness, policy.effective_from).decisions["supervision_mode"] is None


def test_a_note_naming_the_code_explains_the_finding(tmp_path):
    root = tmp_path / "check"
    shutil.copytree(CHECK_ROOT / "planted", root / "planted")
    rules = root / "planted" / "1" / "rules" / "shop.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("note: planted defect -", "note: check.always_loses is intended -"),
                     encoding="utf-8")
    report = check(Catalog([root]), Catalog([root]).by_ref("planted@1"))
    explained = [f.issue.code for f in report.findings if f.explained]
    assert explained == ["check.always_loses"] and len(report.unexplained) == len(CODES) - 1
    assert "1 explained in notes" in to_text(report) and "explained: " in to_text(report, verbose=True)


def test_past_the_budget_the_space_is_sampled_and_the_report_says_so(at_repo):
    once = run("check", "planted", "--policy-root", str(CHECK_ROOT), "--budget", "10")
    again = run("check", "planted", "--policy-root", str(CHECK_ROOT), "--budget", "10")
    assert once.stdout == again.stdout, "the same seed samples the same cases"
    assert "a sample (seed 0) of 24 combinations" in once.stdout and "on 10 synthetic cases" in once.stdout
    other = run("check", "planted", "--policy-root", str(CHECK_ROOT), "--budget", "10", "--seed", "7")
    assert "a sample (seed 7)" in other.stdout


def test_check_refuses_an_unknown_policy_in_one_paragraph():
    result = run("check", "plantd@1", "--policy-root", str(CHECK_ROOT))
    assert result.exit_code == 1 and "select.unknown_policy" in result.stderr and "did you mean `planted`?" in result.stderr


# ---- the analyses on small policies ------------------------------------------------------
FACTS = """\
apiVersion: regcode/v1
kind: FactsSchema
schema:
  type: object
  additionalProperties: false
  required: [shop]
  properties:
    as_of: {type: string, format: date}
    shop:
      type: object
      additionalProperties: false
      required: [name]
      properties:
        name: {type: string}
        code: {type: string, pattern: '^S[0-9]{4}$'}
        kind: {enum: [stall, kiosk]}
        size: {type: integer, minimum: 0}
        licensed: {type: boolean}
    items:
      type: array
      items: {type: object, additionalProperties: false, required: [kind], properties: {kind: {enum: [a, b, c]}}}
"""
DECISIONS = """\
apiVersion: regcode/v1
kind: Decisions
decisions:
  tier: {type: enum, values: [gold, silver, bronze], combine: max, default: null}
  fine: {type: number, combine: min, default: null}
  ok: {type: bool, combine: all, default: false}
  hits: {type: list, combine: union, default: []}
  by_kind: {type: map, value: {type: enum, values: [low, high]}, combine: max, default: {}}
"""


def small_policy(tmp_path, rules: str, facts: str = FACTS, decisions: str = DECISIONS, derived: str = ""):
    write_small(tmp_path, rules, facts, decisions, derived)
    cat = Catalog([tmp_path])
    return cat, cat.by_ref("small@1")


def write_small(tmp_path, rules: str, facts: str = FACTS, decisions: str = DECISIONS, derived: str = ""):
    version = tmp_path / "small" / "1"
    (version / "rules").mkdir(parents=True)
    if derived:
        (version / "derived.yaml").write_text(derived, encoding="utf-8")
    (version / "policy.yaml").write_text("apiVersion: regcode/v1\nkind: Policy\nid: small\nversion: '1'\ntitle: t\n"
                                         "source: {issuer: tests, date: 2020-01-01}\neffective_from: 2020-01-01\n", encoding="utf-8")
    (version / "facts.schema.yaml").write_text(facts, encoding="utf-8")
    (version / "decisions.yaml").write_text(decisions, encoding="utf-8")
    (version / "rules" / "r.yaml").write_text("apiVersion: regcode/v1\nkind: Rules\nrules:\n" + textwrap.indent(rules, "  "),
                                              encoding="utf-8")
    return version


def rule(rid, when=None, then="[{decide: hits, value: [x]}]", extra=""):
    body = f"- id: {rid}\n  article: 第一条\n  title: t\n{extra}"
    if when is not None:
        body += f"  when: {when}\n"
    return body + f"  then: {then}\n"


def codes_by_rule(report, code):
    return sorted(f.issue.message.split("`")[1] for f in report.findings if f.issue.code == code)


def test_dead_conditions_are_found_and_live_ones_are_not(tmp_path):
    rules = "".join([
        rule("dead-range", "{all: [{path: shop.size, op: '>=', value: 10}, {path: shop.size, op: '<', value: 5}]}"),
        rule("dead-two-values", "{all: [{path: shop.kind, op: '==', value: stall}, {path: shop.kind, op: '==', value: kiosk}]}"),
        rule("dead-present-absent", "{all: [{present: shop.size}, {absent: shop.size}]}"),
        rule("dead-not-and-is", "{all: [{not: {path: shop.kind, op: in, value: [stall]}}, {path: shop.kind, op: '==', value: stall}]}"),
        rule("dead-enum-exhausted", "{all: [{path: shop.kind, op: '!=', value: stall}, {path: shop.kind, op: '!=', value: kiosk}]}"),
        rule("dead-every-branch", "{any: [{all: [{path: shop.size, op: '>', value: 3}, {path: shop.size, op: '<', value: 2}]}, "
                                  "{all: [{present: shop.kind}, {absent: shop.kind}]}]}"),
        rule("dead-some-item", "{some: items, as: it, where: {all: [{path: it.kind, op: '==', value: a}, {path: it.kind, op: '==', value: b}]}}"),
        rule("dead-not-any", "{all: [{not: {any: [{path: shop.kind, op: '==', value: stall}, {absent: shop.kind}]}}, "
                             "{path: shop.kind, op: '==', value: stall}]}"),
        rule("live-range", "{all: [{path: shop.size, op: '>=', value: 5}, {path: shop.size, op: '<=', value: 5}]}"),
        rule("live-two-negations", "{all: [{not: {path: shop.kind, op: '==', value: stall}}, {not: {path: shop.kind, op: '==', value: kiosk}}]}"),
        rule("live-one-branch", "{any: [{all: [{path: shop.size, op: '>', value: 3}, {path: shop.size, op: '<', value: 2}]}, {present: shop.kind}]}"),
        rule("live-other-subjects", "{all: [{path: shop.kind, op: '==', value: stall}, {path: shop.name, op: '==', value: kiosk}]}"),
    ])
    cat, policy = small_policy(tmp_path, rules)
    report = check(cat, policy)
    dead = codes_by_rule(report, "check.dead_condition")
    # (a boolean compared with text is refused before this: compile.type, tests/fixtures/invalid/policy-errors.yaml)
    assert dead == sorted(r for r in dead if r.startswith("dead-")) and len(dead) == 8, dead


DEAD_MESSAGES = [   # (condition, what the finding says after "can never fire: ")
    ("{all: [{path: shop.licensed, op: '==', value: true}, {path: shop.licensed, op: '==', value: false}]}",
     "`shop.licensed` cannot be both true and false"),
    ("{all: [{path: shop.kind, op: in, value: [stall]}, {path: shop.kind, op: '==', value: kiosk}]}",
     '`shop.kind` cannot be both "stall" and "kiosk"'),
    ("{all: [{path: shop.name, op: '==', value: a}, {path: shop.name, op: '==', value: b}, {path: shop.name, op: '==', value: c}]}",
     '`shop.name` cannot be "a", "b" and "c" at once'),
    ("{all: [{path: shop.name, op: in, value: [a, b]}, {path: shop.name, op: in, value: [c]}]}",
     '`shop.name` cannot be "a" or "b" and also "c": no value is in every list'),
    ("{path: shop.name, op: in, value: []}", "`shop.name` is never in an empty list"),
    ("{all: [{path: shop.size, op: '>=', value: 10}, {path: shop.size, op: '<', value: 5}]}",
     "no value of `shop.size` satisfies >= 10 and < 5"),
    ("{all: [{path: shop.licensed, op: '!=', value: true}, {path: shop.licensed, op: '!=', value: false}]}",
     "no value of `shop.licensed` satisfies != true and != false"),
    ("{all: [{present: shop.size}, {absent: shop.size}]}", "`shop.size` would have to be both present and absent"),
]


@pytest.mark.parametrize("when,reason", DEAD_MESSAGES, ids=[r for _, r in DEAD_MESSAGES])
def test_a_dead_condition_says_why_in_a_whole_sentence(when, reason, tmp_path):
    cat, policy = small_policy(tmp_path, rule("dead", when))
    [finding] = [f for f in check(cat, policy).findings if f.issue.code == "check.dead_condition"]
    assert finding.issue.message == f"rule `dead` can never fire: {reason}"


def test_a_derived_field_no_rule_sets_is_never_present(tmp_path):
    derived = "apiVersion: regcode/v1\nkind: DerivedFacts\nfacts:\n  issue: {fields: {kind: string, why: string}}\n"
    rules = "".join([
        rule("make-issue", None, "[{derive: issue, with: {kind: {path: it.kind}}}]", "  for_each: items\n  as: it\n"),
        rule("dead-why", "{present: i.why}", extra="  for_each: issue\n  as: i\n"),
    ])
    cat, policy = small_policy(tmp_path, rules, derived=derived)
    messages = [f.issue.message for f in check(cat, policy).findings if f.issue.code == "check.dead_condition"]
    assert messages == ["rule `dead-why` can never fire: `i.why` is never present: no rule or schema ever gives it a value"]


def test_a_derived_field_compared_with_a_value_no_rule_derives_is_dead(tmp_path):
    decisions = DECISIONS
    derived = "apiVersion: regcode/v1\nkind: DerivedFacts\nfacts:\n  issue: {fields: {kind: string, why: string}}\n"
    rules = "".join([
        rule("make-issue", None, "[{derive: issue, with: {kind: {path: it.kind}, why: late}}]", "  for_each: items\n  as: it\n"),
        rule("dead-why", "{path: i.why, op: '==', value: early}", extra="  for_each: issue\n  as: i\n"),
        rule("dead-kind", "{path: i.kind, op: in, value: [d, e]}", extra="  for_each: issue\n  as: i\n"),
        rule("live-kind", "{path: i.kind, op: '==', value: c}", extra="  for_each: issue\n  as: i\n"),
    ])
    cat, policy = small_policy(tmp_path, rules, decisions=decisions, derived=derived)
    report = check(cat, policy)
    assert codes_by_rule(report, "check.dead_condition") == ["dead-kind", "dead-why"]
    message = next(f.issue.message for f in report.findings if "dead-why" in f.issue.message)
    assert '`i.why` is never "early": it takes "late"' in message


def test_claims_that_always_lose_under_their_combine(tmp_path):
    rules = "".join([
        rule("max-base", None, "[{decide: tier, value: bronze}]"),
        rule("max-loser", "{path: shop.kind, op: '==', value: stall}", "[{decide: tier, value: gold}]"),
        rule("min-base", "{path: shop.kind, op: '==', value: stall}", "[{decide: fine, value: 10}]"),
        rule("min-loser", "{all: [{path: shop.kind, op: '==', value: stall}, {present: shop.size}]}", "[{decide: fine, value: 50}]"),
        rule("min-winner", "{present: shop.size}", "[{decide: fine, value: 5}]"),
        rule("all-base", None, "[{decide: ok, value: false}]"),
        rule("all-loser", "{present: shop.name}", "[{decide: ok, value: true}]"),
        rule("map-base", None, "[{decide: by_kind, key: {path: it.kind}, value: high}]", "  for_each: items\n  as: it\n"),
        rule("map-loser", "{path: it.kind, op: '==', value: a}", "[{decide: by_kind, key: {path: it.kind}, value: low}]",
             "  for_each: items\n  as: it\n"),
        rule("map-other-key", None, "[{decide: by_kind, key: fixed, value: low}]", "  for_each: items\n  as: it\n"),
    ])
    cat, policy = small_policy(tmp_path, rules)
    report = check(cat, policy)
    assert codes_by_rule(report, "check.always_loses") == ["all-loser", "map-loser", "max-loser", "min-loser"]


def test_a_field_with_a_pattern_and_no_example_is_said_not_guessed(tmp_path):
    facts = FACTS.replace("required: [name]", "required: [name, code]")
    decisions = DECISIONS.replace("tier: {type: enum", "tier: {required: true, type: enum")
    cat, policy = small_policy(tmp_path, rule("tier-stall", "{path: shop.kind, op: '==', value: stall}", "[{decide: tier, value: gold}]"),
                               facts=facts, decisions=decisions)
    report = check(cat, policy)
    assert "cannot make a valid value for `shop.code`" in report.space["note"]
    assert "exhaustiveness not checked" in to_text(report)
    withexample = facts.replace("pattern: '^S[0-9]{4}$'", "pattern: '^S[0-9]{4}$', examples: [S0001]")
    cat, policy = small_policy(tmp_path / "again", rule("tier-stall", "{path: shop.kind, op: '==', value: stall}",
                                                         "[{decide: tier, value: gold}]"), facts=withexample, decisions=decisions)
    gap = next(f for f in check(cat, policy).findings if f.issue.code == "check.not_exhaustive")
    assert gap.witness["shop"]["code"] == "S0001" and gap.witness["shop"].get("kind") != "stall"


def test_numbers_and_text_compared_with_constants_take_those_values(tmp_path):
    decisions = DECISIONS.replace("tier: {type: enum", "tier: {required: true, type: enum")
    rules = "".join([rule("big", "{path: shop.size, op: '>=', value: 10}", "[{decide: tier, value: gold}]"),
                     rule("small", "{path: shop.size, op: '<', value: 9}", "[{decide: tier, value: silver}]"),
                     rule("named", "{path: shop.name, op: '==', value: 老店}", "[{decide: tier, value: bronze}]")])
    cat, policy = small_policy(tmp_path, rules, decisions=decisions)
    report = check(cat, policy)
    gap = next(f for f in report.findings if f.issue.code == "check.not_exhaustive")
    assert gap.witness["shop"].get("size") in (None, 9) and gap.witness["shop"]["name"] != "老店"
    # size: 8, 9, 10, 11 or absent; name: 老店 or another: the gap is size 9 or absent, under another name
    assert report.space["combinations"] == 10 and "in 2 of 10 combinations" in gap.issue.message


def test_required_when_names_are_checked_when_the_policy_compiles(tmp_path):
    decisions = DECISIONS.replace("tier: {type: enum", "tier: {required_when: {okk: true, fine: [1], ok: [maybe]}, type: enum")
    version = write_small(tmp_path, rule("r", None), decisions=decisions)
    result = run("validate", str(version))
    assert result.exit_code == 1
    assert ("compile.unknown_decision: decision `tier`: `required_when` names `okk`, which is not a decision "
            "(did you mean `ok`?)") in result.stderr
    assert "compile.value: decision `tier`: `required_when` expects `ok` = 'maybe', which `ok` never takes; it takes true or false" \
        in result.stderr


def test_the_synthetic_cases_are_evaluated_on_each_day_a_dated_parameter_changes():
    """toy@1's high_risk_surcharge changes on 2020-07-01, inside its window: the rules read another value
    from then on, so the exhaustiveness check runs on that day too, not only on the first day."""
    cat = Catalog([TESTS / "policies"])
    policy = cat.by_ref("toy@1")
    both = check(cat, policy)
    one = check(cat, policy, as_of="2020-01-01")
    assert both.space["dates"] == ["2020-01-01", "2020-07-01"] and "dates" not in one.space
    assert both.space["evaluated"] == 2 * one.space["evaluated"]
    assert "as of 2020-01-01 and 2020-07-01" in to_text(both)
    assert [f.issue.message for f in both.findings] == [f.issue.message for f in one.findings]   # the same gap once


@pytest.mark.parametrize("as_of", ["0001-01-01", "9999-12-31"])
def test_check_on_the_calendars_first_and_last_days_finishes(as_of):
    """A date field the synthetic cases do not vary holds the day before --as-of: on 0001-01-01 there is none
    (OverflowError, exit 3). What the policy's own date arithmetic cannot do there is a finding, as on any day."""
    checked = run("check", "shanghai-post-license", "--as-of", as_of, "--budget", "50", "--format", "json")
    assert checked.exit_code in (0, 1) and "internal error" not in checked.output, checked.output
    report = json.loads(checked.stdout)
    assert report["as_of"] == as_of and {f["code"] for f in report["findings"]} <= {"check.evaluation"}


@pytest.mark.parametrize("as_of, noted", [("2030-01-01", True), ("2019-06-30", False)])
def test_check_on_a_date_outside_the_versions_window_says_so_on_stderr_as_eval_does(as_of, noted):
    checked = run("check", "shanghai-post-license", "--as-of", as_of, "--budget", "50", "--format", "json")
    evaluated = run("eval", str(REPO / "examples" / "cases" / "aa-clean.yaml"), "--policy-version", "2017", "--as-of", as_of,
                    "--format", "json")         # (the text says it in the output itself, under its first line)
    window = f"{as_of} is outside shanghai-post-license@2017's window (2017-05-01 .. 2022-04-30); "
    assert checked.exit_code == 0 and json.loads(checked.stdout)["as_of"] == as_of     # stdout is the report, unchanged
    assert (f"note: --as-of: {window}" in checked.stderr) == noted
    assert (window in evaluated.stderr) == noted          # the same note, from the same helper
