"""The batch summary and the plan come from the policy's `reports:` declaration, and results name their case.

A second policy (tests/policies/kiosk) declares other names, another mode order and another seed;
its summary and plan are checked against its own evaluations. Error records carry the identity.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import random
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import Catalog, CompileError
from regcode.engine.reports import reports_of

from conftest import REPO, TEST_POLICIES, generator as gen

KIOSK = ["--policy-root", str(TEST_POLICIES), "--policy", "kiosk"]
ZONES = ["中区", "北区", "南区", "东区"]


def run(*args, input=None):
    return CliRunner().invoke(regcode, [str(a) for a in args], input=input)


def kiosk_cases(n: int, seed: int) -> list:
    """Deterministic newsstand case files: some without complaints, some with several, a few closed."""
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        kiosk = {"permit_no": f"K{i:04d}", "name": f"报亭{i}"}
        if rng.random() < 0.95:
            kiosk["zone"] = rng.choice(ZONES)
        if rng.random() < 0.3:
            kiosk["permit_expires"] = f"{rng.choice([2020, 2021])}-{rng.randint(1, 12):02d}-15"
        if rng.random() < 0.05:
            kiosk["closed"] = True
        complaints = [{"date": f"2020-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}"}
                      for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3]))]
        cases.append({"as_of": "2020-06-30", "kiosk": kiosk, "complaints": complaints})
    return cases


def jsonl(path: Path, cases) -> Path:
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
    return path


def lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def kiosks(tmp_path_factory) -> tuple:
    """(case file, the batch's JSON summary, its text table, every output line)."""
    folder = tmp_path_factory.mktemp("kiosk")
    source = jsonl(folder / "kiosks.jsonl", kiosk_cases(160, seed=8))
    out = folder / "out.jsonl"
    as_json = run("batch", source, "--out", out, "--jobs", 2, "--format", "json", *KIOSK)
    assert as_json.exit_code == 0, as_json.output
    as_text = run("batch", source, "--out", folder / "out2.jsonl", "--jobs", 1, *KIOSK)
    assert as_text.exit_code == 0, as_text.output
    return source, json.loads(as_json.stdout), as_text.stderr, lines(out)


# ---- the batch summary ------------------------------------------------------------------------
def test_a_second_policy_gets_its_batch_summary_from_its_own_declaration(kiosks):
    _, summary, _, results = kiosks
    cases = kiosk_cases(160, seed=8)
    assert "districts" not in summary
    expected: dict = {}
    for case, r in zip(cases, results):
        d = r["decisions"]
        # the declared group: the decision zone_office, else the case file's kiosk.zone, else "(no zone)"
        zone = d["zone_office"] or case["kiosk"].get("zone") or "(no zone)"
        row = expected.setdefault(zone, {"kiosks": 0, "rating": {}, "regime": {}})
        row["kiosks"] += 1
        for name in ("rating", "regime"):
            value = d[name] or "n/a"
            row[name][value] = row[name].get(value, 0) + 1
    assert summary["zones"] == expected
    assert any(not r["decisions"]["in_scope"] for r in results), "the corpus has closed kiosks (grouped by the fallback)"
    assert "(no zone)" in expected, "the corpus has kiosks without a zone"


def test_the_summary_table_uses_the_declared_labels_and_enum_order(kiosks):
    _, summary, table, _ = kiosks
    header = next(line for line in table.splitlines() if line.startswith("zone"))
    columns = header.split()
    # rating: declared [gold, silver, red] with the prefix "rated", then the column of closed kiosks
    # ("unrated"); regime: declared [light, standard, close], no prefix, "n/a" for the closed ones
    assert columns[:2] == ["zone", "kiosks"]
    assert columns[2:] == ["rated", "gold", "rated", "silver", "rated", "red", "unrated", "light", "standard", "close", "n/a"]
    total = next(line for line in table.splitlines() if line.startswith("total")).split()
    assert int(total[1]) == 160
    assert "class" not in table and "district" not in table


def test_a_policy_that_declares_no_summary_gets_the_counts_only(tmp_path):
    cases = [{"as_of": "2020-06-30", "applicant": {"name": f"车{i}", "district": "浦东新区", "certified": True}} for i in range(5)]
    result = run("batch", jsonl(tmp_path / "toy.jsonl", cases), "--out", tmp_path / "out.jsonl", "--jobs", 1,
                 "--policy-root", TEST_POLICIES, "--policy", "toy", "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["read"], summary["evaluated"]) == (5, 5) and "districts" not in summary and "groups" not in summary


# ---- the plan ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kiosk_plan(kiosks, tmp_path_factory) -> dict:
    source = kiosks[0]
    out = tmp_path_factory.mktemp("kplan") / "plan.json"
    result = run("plan", "--year", 2020, source, "--out", out, "--jobs", 1, *KIOSK)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text(encoding="utf-8"))


def test_a_second_policy_gets_its_plan_from_its_own_declaration(kiosks, kiosk_plan):
    _, _, _, results = kiosks
    plan = kiosk_plan
    assert plan["article"] == ["第五条", "第六条"] and "zones" in plan and "districts" not in plan
    by_permit = {r["kiosk"]["permit_no"]: r for r in results}
    regular = defaultdict(dict)
    for row in plan["rows"]:
        assert set(row) == {"zone", "item", "permit_no", "name", "rating", "visits", "due", "reason", "articles",
                            "rules", "as_of", "policy"}
        # each row names its kiosk by the policy's identity, as the evaluation does
        assert row["name"] == by_permit[row["permit_no"]]["kiosk"]["name"]
        if row["item"] == "regular":
            regular[row["zone"], by_permit[row["permit_no"]]["decisions"]["regime"]][row["permit_no"]] = row
    groups = defaultdict(list)
    for permit, r in by_permit.items():
        d = r["decisions"]
        if d["in_scope"] and d["zone_office"]:
            groups[d["zone_office"], d["regime"]].append(permit)
    assert {m for _, m in groups} == {"light", "standard", "close"}
    for (zone, regime), permits in groups.items():
        planned = regular[zone, regime]
        if regime == "light":        # share 0.25: drawn by sha256("PERMIT:YEAR"), the declared seed order
            want = math.ceil(len(permits) / 4)
            order = sorted(permits, key=lambda p: (hashlib.sha256(f"{p}:2020".encode()).hexdigest(), p))
            assert set(planned) == set(order[:want])
            assert all(row["visits"] == 1 for row in planned.values())
        else:                        # share 1: every kiosk, visits_per_year visits
            assert set(planned) == set(permits)
            assert all(row["visits"] == {"standard": 1, "close": 3}[regime] for row in planned.values())
        assert all(row["articles"][0] == "第五条" for row in planned.values())


def test_a_second_policy_lists_its_own_special_and_deadline_items(kiosks, kiosk_plan):
    _, _, _, results = kiosks
    rows = kiosk_plan["rows"]
    follow = {r["permit_no"] for r in rows if r["item"] == "follow_up"}
    want = {r["kiosk"]["permit_no"] for r in results if r["decisions"]["follow_up_reasons"] and r["decisions"]["zone_office"]}
    assert follow and follow == want
    renewals = {r["permit_no"]: r for r in rows if r["item"] == "renewal"}
    want = {r["kiosk"]["permit_no"] for r in results
            if (r["decisions"]["renewal_due"] or "").startswith("2020") and r["decisions"]["zone_office"]}
    assert renewals and set(renewals) == want
    assert {r["reason"] for r in renewals.values()} == {"remind the kiosk to renew its permit"}
    assert {r["item"] for r in rows} == {"regular", "follow_up", "renewal"}


def test_the_plan_summary_text_speaks_the_policy_s_names(kiosks):
    result = run("plan", "--year", 2020, kiosks[0], "--jobs", 1, *KIOSK)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("Regular inspection plan 2020 (第五条, 第六条): kiosk@1")
    header = next(line for line in text.splitlines() if line.startswith("zone"))
    assert header.split() == ["zone", "light", "(sampled/all)", "standard", "close", "visits", "follow_up", "deadlines"]
    assert "share to inspect per mode and zone: close 1, light 0.25, standard 1 (standard once a year, close 3 times)" in text
    assert "outside the policy (no regime)" in text


def test_the_plan_csv_columns_follow_the_declaration(kiosks, tmp_path):
    out = tmp_path / "plan.csv"
    result = run("plan", "--year", 2020, kiosks[0], "--out", out, "--jobs", 1, *KIOSK)
    assert result.exit_code == 0, result.output
    reader = csv.reader(io.StringIO(out.read_text(encoding="utf-8")))
    assert next(reader) == ["zone", "item", "permit_no", "name", "rating", "visits", "due", "reason", "articles",
                            "rules", "as_of", "policy"]


def test_a_policy_that_declares_no_plan_is_refused_once_before_any_record_with_the_fix(tmp_path):
    cases = [{"as_of": "2020-06-30", "applicant": {"name": "车", "district": "浦东新区"}}] * 3
    result = run("plan", "--year", 2020, jsonl(tmp_path / "toy.jsonl", cases), "--jobs", 1,
                 "--policy-root", TEST_POLICIES, "--policy", "toy")
    assert result.exit_code == 1
    assert result.stderr.count("compile.reports: toy@1 declares no plan") == 1 and "reports: plan:" in result.stderr
    assert "evaluated" not in result.stderr and "Traceback" not in result.output


def test_shanghai_plan_rows_carry_the_identity_of_the_evaluation(tmp_path):
    cases = list(gen.generate(40, seed=31))
    source = jsonl(tmp_path / "c.jsonl", cases)
    out, plan = tmp_path / "out.jsonl", tmp_path / "plan.json"
    assert run("batch", source, "--out", out, "--jobs", 1).exit_code == 0
    assert run("plan", "--year", 2019, source, "--out", plan, "--jobs", 1).exit_code == 0
    names = {r["enterprise"]["credit_code"]: r["enterprise"]["name"] for r in lines(out)}
    rows = json.loads(plan.read_text(encoding="utf-8"))["rows"]
    assert rows and all(names[r["credit_code"]] == r["name"] for r in rows)


# ---- error records name their case -------------------------------------------------------------
def test_error_records_carry_the_enterprise_identity_when_the_record_has_one(tmp_path):
    good = list(gen.generate(3, seed=12))
    bad_schema = dict(good[0], licenses=[dict(good[0]["licenses"][0], risk_level="iv")])
    no_as_of = {k: v for k, v in good[1].items() if k != "as_of"}
    out_of_window = dict(good[2], as_of="2010-01-01")
    text = "".join([json.dumps(bad_schema, ensure_ascii=False) + "\n", "{not json\n", json.dumps(no_as_of, ensure_ascii=False) + "\n",
                    "[1, 2]\n", json.dumps(out_of_window, ensure_ascii=False) + "\n",
                    json.dumps({"as_of": "2019-06-30", "licenses": []}) + "\n"])
    path = tmp_path / "mixed.jsonl"
    path.write_text(text, encoding="utf-8")
    err = tmp_path / "err.jsonl"
    result = run("batch", path, "--out", tmp_path / "out.jsonl", "--errors", err, "--jobs", 1)
    assert result.exit_code == 1, result.output
    records = lines(err)
    assert [r["line"] for r in records] == [1, 2, 3, 4, 5, 6]
    ident = lambda case: {"credit_code": case["enterprise"]["credit_code"], "name": case["enterprise"]["name"]}  # noqa: E731
    assert records[0]["enterprise"] == ident(bad_schema) and records[0]["errors"][0]["code"] == "input.schema"
    assert "enterprise" not in records[1] and records[1]["errors"][0]["code"] == "input.syntax"
    assert records[2]["enterprise"] == ident(no_as_of) and records[2]["errors"][0]["code"] == "input.as_of"
    assert "enterprise" not in records[3]
    assert records[4]["enterprise"] == ident(out_of_window) and records[4]["errors"][0]["code"] == "select.no_version_in_force"
    assert "enterprise" not in records[5]          # a mapping without the identity fields
    # the plan's errors file too (a plan evaluates a case without as_of on the year's first day)
    err2 = tmp_path / "err2.jsonl"
    planned = run("plan", "--year", 2019, path, "--errors", err2, "--jobs", 2)
    assert planned.exit_code == 1
    assert [(r["line"], r.get("enterprise")) for r in lines(err2)] == [(r["line"], r.get("enterprise")) for r in records if r["line"] != 3]


# ---- declarations are checked, inherited, and free to rename -------------------------------------
def _kiosk_copy(tmp_path, edit) -> Path:
    root = tmp_path / "root"
    shutil.copytree(TEST_POLICIES / "kiosk", root / "kiosk")
    manifest = root / "kiosk" / "1" / "policy.yaml"
    manifest.write_text(edit(manifest.read_text(encoding="utf-8")), encoding="utf-8")
    return root


MISTAKES = [
    ("a counted decision with a typo", lambda t: t.replace("decision: rating, label", "decision: ratng, label"),
     "compile.reports", "decision `ratng` is not declared in kiosk@1", "did you mean `rating`?", "reports.summary.count[0].decision"),
    ("a share that is not a number", lambda t: t.replace("share: visit_share", "share: rating"),
     "compile.reports", "decision `rating` is an enum; here it must be a number", "", "reports.plan.share"),
    ("a plan key outside the identity", lambda t: t.replace("key: kiosk.permit_no", "key: kiosk.zone"),
     "compile.reports", "plan key `kiosk.zone` is not one of the policy's identity paths", "", "reports.plan.key"),
    ("a fallback that is no field", lambda t: t.replace("fallback: kiosk.zone", "fallback: kiosk.zon"),
     "compile.reports", "`kiosk.zon` is not a scalar field of the case file", "", "reports.group.fallback"),
    ("an unknown key", lambda t: t.replace("show: [rating]", "shwo: [rating]"),
     "schema.additionalProperties", "unknown key `shwo`", "did you mean `show`?", "reports.plan"),
    ("a mode that is no enum", lambda t: t.replace("mode: {decision: regime}", "mode: {decision: zone_office}"),
     "compile.reports", "decision `zone_office` is a string; here it must be an enum", "", "reports.plan.mode.decision"),
]


@pytest.mark.parametrize("edit,code,message,hint,path", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_a_mistake_in_the_reports_declaration_is_reported_at_its_place(tmp_path, edit, code, message, hint, path):
    root = _kiosk_copy(tmp_path, edit)
    result = run("validate", root / "kiosk" / "1", "--format", "json")
    assert result.exit_code == 1, result.output
    [issue] = [i for v in json.loads(result.stdout)["versions"] for i in v.get("errors", [])]
    assert issue["code"] == code and message in issue["message"] and hint in issue["hint"]
    loc = issue["location"]
    assert loc["file"].endswith("policy.yaml") and loc["line"] > 0 and loc["path"].startswith(path)
    text = run("validate", root / "kiosk" / "1")
    assert f"policy.yaml:{loc['line']}:{loc['column']}: {code}" in text.output and "Traceback" not in text.output


def test_a_version_that_renames_a_mode_needs_no_code_change(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(TEST_POLICIES / "kiosk", root / "kiosk")
    for path in (root / "kiosk" / "1").rglob("*.yaml"):
        path.write_text(path.read_text(encoding="utf-8").replace("standard", "usual"), encoding="utf-8")
    source = jsonl(tmp_path / "k.jsonl", kiosk_cases(40, seed=3))
    args = ["--policy-root", root, "--policy", "kiosk"]
    batch = run("batch", source, "--out", tmp_path / "out.jsonl", "--jobs", 1, *args)
    assert batch.exit_code == 0, batch.output
    header = next(line for line in batch.stderr.splitlines() if line.startswith("zone")).split()
    assert header[-4:] == ["light", "usual", "close", "n/a"] and "standard" not in batch.stderr
    plan = run("plan", "--year", 2020, source, "--jobs", 1, *args)
    assert plan.exit_code == 0, plan.output
    assert "usual once a year" in plan.stdout and "standard" not in plan.stdout


def test_an_extending_version_inherits_the_reports_declaration():
    cat = Catalog([REPO / "examples" / "amendment" / "policies"])
    base, amended = cat.by_ref("shanghai-post-license@2017"), cat.by_ref("shanghai-post-license@2022-illustration")
    assert "reports" not in amended.manifest
    inherited, own = reports_of(amended, cat), reports_of(base, cat)
    assert inherited.policy == "shanghai-post-license@2022-illustration"
    assert (inherited.summary, inherited.plan) == (own.summary, own.plan)


def test_every_shipped_and_test_policy_declaration_resolves():
    for root in (None, TEST_POLICIES):
        cat = Catalog([root] if root else [])
        for policy_id in cat.policy_ids():
            for info in cat.versions(policy_id):
                reports = reports_of(cat.compiled(info), cat)
                assert reports.policy == f"{policy_id}@{info.version}"
    shanghai = reports_of(Catalog().by_ref("shanghai-post-license@2017"))
    assert shanghai.plan.modes == ("strict", "normal", "responsibility", "credit")
    assert [c.values for c in shanghai.summary.counts] == [("aa", "a", "b", "c"), ("credit", "responsibility", "normal", "strict")]


def test_a_broken_declaration_fails_the_batch_records_with_a_clear_issue(tmp_path):
    root = _kiosk_copy(tmp_path, lambda t: t.replace("decision: rating, label", "decision: ratng, label"))
    result = run("batch", jsonl(tmp_path / "k.jsonl", kiosk_cases(3, seed=1)), "--out", tmp_path / "o.jsonl", "--jobs", 1,
                 "--policy-root", root, "--policy", "kiosk")
    assert result.exit_code == 1
    assert "compile.reports: decision `ratng` is not declared in kiosk@1" in result.stderr
    assert "Traceback" not in result.output
    with pytest.raises(CompileError):
        cat = Catalog([root])
        reports_of(cat.by_ref("kiosk@1"), cat)


def test_the_summary_table_lists_groups_in_the_order_the_facts_schema_declares_them(tmp_path):
    """Shanghai's districts in the facts schema's order (浦东新区 first), not in code-point order."""
    import yaml
    policy = Catalog().select("shanghai-post-license", "2019-06-30")
    group = reports_of(policy).summary.group
    schema = yaml.safe_load((REPO / "policies" / "shanghai-post-license" / "2017" / "facts.schema.yaml").read_text(encoding="utf-8"))
    declared = schema["schema"]["properties"]["enterprise"]["properties"]["production_district"]["enum"]
    assert list(group.order) == declared and declared != sorted(declared)
    assert group.ordered(["(unknown)", "崇明区", "某新区", "浦东新区"]) == ["浦东新区", "崇明区", "某新区", "(unknown)"]
    cases = list(gen.generate(200, seed=4))
    source = tmp_path / "c.jsonl"
    source.write_text("".join(gen.dumps(c) + "\n" for c in cases), encoding="utf-8")
    result = CliRunner().invoke(regcode, ["batch", str(source), "--out", str(tmp_path / "o.jsonl"), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    rows = [line.split()[0] for line in result.output.splitlines() if line.split() and line.split()[0] in declared]
    assert rows == [d for d in declared if d in rows] and len(rows) > 3
    plan = CliRunner().invoke(regcode, ["plan", "--year", "2020", str(source), "--jobs", "1"])
    assert plan.exit_code == 0, plan.output
    assert [line.split()[0] for line in plan.output.splitlines() if line.split() and line.split()[0] in declared] == rows


def test_a_decision_set_aside_for_its_own_mistake_is_no_echo_in_reports_and_the_rest_is_checked(tmp_path):
    """`rating`'s declaration has a misspelt value: it is set aside and said there; `reports:` counting and showing
    it is no mistake of its own (no echo), and a real mistake of `reports:` is still said in the same run."""
    root = _kiosk_copy(tmp_path, lambda t: t.replace("key: kiosk.permit_no", "key: kiosk.zone"))
    decisions = root / "kiosk" / "1" / "decisions.yaml"
    decisions.write_text(decisions.read_text(encoding="utf-8").replace("red], combine: max,", "red], combine: maxx,"),
                         encoding="utf-8")
    result = run("validate", root / "kiosk" / "1", "--format", "json")
    assert result.exit_code == 1, result.output
    issues = [i for v in json.loads(result.stdout)["versions"] for i in v.get("errors", [])]
    assert sorted((i["code"], i["location"]["file"].rsplit("/", 1)[-1], i["location"]["path"]) for i in issues) == [
        ("compile.reports", "policy.yaml", "reports.plan.key"), ("schema.enum", "decisions.yaml", "decisions.rating.combine")], issues


# ---- labels in the text tables ------------------------------------------------------------------
def _width(text: str) -> int:
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _right_ends(line: str) -> dict:
    """Each word of a table line -> the display column its last character ends at."""
    import re
    return {m.group(): _width(line[:m.end()]) for m in re.finditer(r"\S+", line)}


def test_the_batch_table_shows_each_counted_value_s_declared_label_under_it_and_json_keeps_the_value(tmp_path):
    """Shanghai labels classification and supervision_mode (labels: in decisions.yaml): the text table names each
    counted value's label under its code, right-aligned as the counts are; the JSON summary is keyed by the codes."""
    examples = REPO / "examples" / "cases"
    text = run("batch", examples, "--out", tmp_path / "a.jsonl", "--jobs", 1)
    assert text.exit_code == 0, text.output
    lines = text.stderr.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("district"))
    header, labels = lines[at], lines[at + 1]
    assert labels.split() == ["AA类", "A类", "B类", "C类", "信用监管", "责任监管", "常态监管", "加严监管"]
    ends = _right_ends(header)
    under = {"AA类": "aa", "A类": "a", "B类": "b", "C类": "c", "信用监管": "credit", "责任监管": "responsibility",
             "常态监管": "normal", "加严监管": "strict"}
    assert {label: end for label, end in _right_ends(labels).items()} == {label: ends[code] for label, code in under.items()}
    assert lines[at + 2].split()[0] == "宝山区"     # the rows follow the two header lines
    as_json = run("batch", examples, "--out", tmp_path / "b.jsonl", "--jobs", 1, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    summary = json.loads(as_json.stdout)
    assert {v for d in summary["districts"].values() for v in d["classification"]} <= {"aa", "a", "b", "c", "n/a"}
    assert {v for d in summary["districts"].values() for v in d["supervision_mode"]} <= {"credit", "responsibility",
                                                                                           "normal", "strict", "n/a"}
    assert "类" not in as_json.stdout and "监管" not in as_json.stdout


def test_the_plan_summary_shows_each_mode_s_label_under_it():
    result = run("plan", "--year", 2020, REPO / "examples" / "cases", "--jobs", 1)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("district"))
    header, labels = lines[at], lines[at + 1]
    assert labels.split() == ["加严监管", "常态监管", "责任监管", "信用监管"]
    ends, under = _right_ends(header), _right_ends(labels)
    assert [under[label] for label in labels.split()] == [ends[m] for m in ("strict", "normal", "responsibility", "(sampled/all)")]


def _labelled_kiosks(tmp_path) -> Path:
    """The kiosk policy with labels for some values only: rating's gold and red, regime's close, and the group
    decision made an enum of the zones, with a label for one of them."""
    root = _kiosk_copy(tmp_path, lambda t: t)
    version = root / "kiosk" / "1"
    decisions = version / "decisions.yaml"
    text = decisions.read_text(encoding="utf-8")
    for old, new in [
            ("values: [gold, silver, red], combine: max,", "values: [gold, silver, red], labels: {gold: 金牌, red: 红牌}, combine: max,"),
            ("values: [light, standard, close], combine: max,", "values: [light, standard, close], labels: {close: 重点检查}, combine: max,"),
            ("zone_office: {title: 片区管理所, type: string,",
             f"zone_office: {{title: 片区管理所, type: enum, values: [{', '.join(ZONES)}], labels: {{北区: 北区管理所}},")]:
        assert old in text
        text = text.replace(old, new)
    decisions.write_text(text, encoding="utf-8")
    schema = version / "facts.schema.yaml"
    schema.write_text(schema.read_text(encoding="utf-8").replace("zone: {type: string}", f"zone: {{enum: [{', '.join(ZONES)}]}}"),
                      encoding="utf-8")
    return root


def test_labels_show_where_a_value_has_one_and_the_value_alone_where_it_has_none(tmp_path):
    root = _labelled_kiosks(tmp_path)
    kiosk = ["--policy-root", root, "--policy", "kiosk"]
    source = jsonl(tmp_path / "k.jsonl", kiosk_cases(60, seed=8))
    text = run("batch", source, "--out", tmp_path / "o.jsonl", "--jobs", 1, *kiosk)
    assert text.exit_code == 0, text.output
    lines = text.stderr.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("zone"))
    header, labels = lines[at], lines[at + 1]
    ends = _right_ends(header)
    assert header.split()[2:] == ["rated", "gold", "rated", "silver", "rated", "red", "unrated", "light", "standard", "close", "n/a"]
    # gold's and red's labels under them, none under silver, light, standard or the columns of no value
    assert _right_ends(labels) == {"金牌": ends["gold"], "红牌": ends["red"], "重点检查": ends["close"]}
    rows = [line.split("  ")[0] for line in lines[at + 2:]]     # a group's name, its label beside it when declared
    assert rows == ["中区", "北区 (北区管理所)", "南区", "东区", "(no zone)", "total"]
    plan = run("plan", "--year", 2020, source, "--jobs", 1, *kiosk)
    assert plan.exit_code == 0, plan.output
    plan_lines = plan.stdout.splitlines()
    at = next(i for i, line in enumerate(plan_lines) if line.startswith("zone"))
    assert _right_ends(plan_lines[at + 1]) == {"重点检查": _right_ends(plan_lines[at])["close"]}
    assert any(line.startswith("北区 (北区管理所)") for line in plan_lines)
    as_json = run("batch", source, "--out", tmp_path / "j.jsonl", "--jobs", 1, "--format", "json", *kiosk)
    assert as_json.exit_code == 0, as_json.output
    zones = json.loads(as_json.stdout)["zones"]
    assert "北区" in zones and not any("管理所" in z or "牌" in json.dumps(zones[z], ensure_ascii=False) for z in zones)
