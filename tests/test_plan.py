"""`regcode plan`: the year's regular inspection plan is deterministic, meets the shares of 第三十条, and says why."""
from __future__ import annotations

import csv
import io
import json
import math
import random
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import load_case_file
from regcode.engine.plan import build_plan, required, sample_key

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "cases"


from conftest import generator as gen  # noqa: E402


def run(*args, input=None):
    return CliRunner().invoke(regcode, [str(a) for a in args], input=input)


def write_jsonl(path: Path, cases) -> Path:
    path.write_text("".join(gen.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cases() -> list:
    return list(gen.generate(400, seed=23))


@pytest.fixture(scope="module")
def plan_json(cases, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("plan")
    result = run("plan", "--year", 2020, write_jsonl(folder / "cases.jsonl", cases), "--out", folder / "plan.json", "--jobs", 1)
    assert result.exit_code == 0, result.output
    return json.loads((folder / "plan.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def decisions(cases, tmp_path_factory) -> dict:
    """credit code -> decisions, from `regcode batch` (the plan must agree with the evaluations)."""
    folder = tmp_path_factory.mktemp("batch")
    out = folder / "out.jsonl"
    result = run("batch", write_jsonl(folder / "cases.jsonl", cases), "--out", out, "--jobs", 2)
    assert result.exit_code == 0, result.output
    by_code = {}
    for case, line in zip(cases, out.read_text(encoding="utf-8").splitlines()):
        by_code[case["enterprise"]["credit_code"]] = json.loads(line)["decisions"]
    return by_code


# ---- determinism -------------------------------------------------------------------------
def test_the_plan_does_not_depend_on_the_input_order(cases, tmp_path):
    shuffled = list(cases)
    random.Random(4).shuffle(shuffled)
    outputs = {}
    for name, order, jobs in (("a", cases, 1), ("b", shuffled, 2), ("c", list(reversed(cases)), 1)):
        source = write_jsonl(tmp_path / f"{name}.jsonl", order)
        for suffix in ("csv", "json"):
            out = tmp_path / f"{name}.{suffix}"
            result = run("plan", "--year", 2020, source, "--out", out, "--jobs", jobs)
            assert result.exit_code == 0, result.output
            outputs[name, suffix] = out.read_bytes()
    for suffix in ("csv", "json"):
        assert outputs["a", suffix] == outputs["b", suffix] == outputs["c", suffix]


def test_the_sample_changes_with_the_year(plan_json, cases, tmp_path):
    result = run("plan", "--year", 2021, write_jsonl(tmp_path / "c.jsonl", cases), "--out", tmp_path / "p.json", "--jobs", 1)
    assert result.exit_code == 0, result.output
    other = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))

    def sampled(plan):
        return {r["credit_code"] for r in plan["rows"] if r["item"] == "regular" and r["supervision_mode"] in ("credit", "responsibility")}
    assert sampled(plan_json) != sampled(other)
    assert len(sampled(plan_json)) == len(sampled(other))


# ---- the shares of 第三十条 ------------------------------------------------------------------
def test_every_strict_enterprise_twice_and_every_normal_once(plan_json, decisions):
    regular = {r["credit_code"]: r for r in plan_json["rows"] if r["item"] == "regular"}
    for code, d in decisions.items():
        if d["supervision_mode"] == "strict":
            assert regular[code]["visits"] == 2, code
        elif d["supervision_mode"] == "normal":
            assert regular[code]["visits"] == 1, code
        elif d["supervision_mode"] is None:
            assert code not in regular
    for row in regular.values():
        assert "第三十条" in row["articles"] and "第二十三条" in row["articles"]
        assert row["rules"] and row["supervision_mode"] in row["reason"]


def test_sampled_modes_meet_the_share_per_district_rounded_up(plan_json, decisions):
    groups = defaultdict(list)
    for code, d in decisions.items():
        if d["supervision_mode"] in ("credit", "responsibility"):
            groups[d["competent_authority"], d["supervision_mode"]].append(code)
    planned = Counter((r["district"], r["supervision_mode"]) for r in plan_json["rows"]
                      if r["item"] == "regular" and r["supervision_mode"] in ("credit", "responsibility"))
    assert groups, "the corpus has credit and responsibility enterprises"
    for (district, mode), codes in groups.items():
        share = {"credit": 0.2, "responsibility": 0.5}[mode]
        want = math.ceil(round(share * len(codes), 9))
        assert planned[district, mode] == want, (district, mode, len(codes))
        info = plan_json["districts"][district]["modes"][mode]
        assert (info["enterprises"], info["inspected"], info["ratio"]) == (len(codes), want, share)
        # the first `want` by the published draw order
        order = sorted(codes, key=lambda c: (sample_key(2020, district, c), c))
        chosen = {r["credit_code"] for r in plan_json["rows"] if r["item"] == "regular"
                  and (r["district"], r["supervision_mode"]) == (district, mode)}
        assert chosen == set(order[:want])


@pytest.mark.parametrize("ratio,n,want", [(0.2, 15, 3), (0.2, 16, 4), (0.2, 1, 1), (0.2, 0, 0), (0.5, 7, 4),
                                          (0.5, 10, 5), (0.3, 10, 3), (1.0, 9, 9), (0.1, 30, 3)])
def test_required_share_is_an_exact_ceiling(ratio, n, want):
    assert required(ratio, n) == want


def test_special_inspections_due_are_listed(plan_json, decisions):
    special = {r["credit_code"]: r for r in plan_json["rows"] if r["item"] == "special"}
    due = {c for c, d in decisions.items() if d["special_inspection_reasons"]}
    assert due and set(special) == due
    for code in due:
        assert special[code]["reason"] == ", ".join(decisions[code]["special_inspection_reasons"])
        assert special[code]["articles"] == ["第二十九条"]


# ---- deadlines, dates and the district filter ------------------------------------------------
def _deadline_cases() -> list:
    new = load_case_file(EXAMPLES / "new-licensee.yaml").data          # classification due 2019-07-20
    barred = load_case_file(EXAMPLES / "aa-clean.yaml").data
    barred = dict(barred, enterprise=dict(barred["enterprise"], credit_code="91310114MA1G7B2N3U"),
                  commitment_breaches=[{"date": "2015-02-10", "kind": "not_fulfilled"}])
    return [new, barred]


def test_deadlines_falling_in_the_year_are_listed(tmp_path):
    source = write_jsonl(tmp_path / "c.jsonl", _deadline_cases())
    rows = {}
    for year in (2019, 2020):
        out = tmp_path / f"{year}.csv"
        result = run("plan", "--year", year, source, "--out", out, "--jobs", 1)
        assert result.exit_code == 0, result.output
        rows[year] = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    by_item = {year: {r["item"]: r for r in rs if r["item"] != "regular"} for year, rs in rows.items()}
    assert by_item[2019]["classification_due"]["due"] == "2019-07-20"
    assert "第十条" in by_item[2019]["classification_due"]["articles"]
    assert by_item[2020]["aa_bar_ends"]["due"] == "2020-02-10"
    assert "classification_due" not in by_item[2020] and "aa_bar_ends" not in by_item[2019]


def test_cases_without_as_of_are_evaluated_on_the_first_day_in_force(tmp_path):
    case = {k: v for k, v in load_case_file(EXAMPLES / "aa-clean.yaml").data.items() if k != "as_of"}
    source = write_jsonl(tmp_path / "c.jsonl", [case])
    for year, day in ((2019, "2019-01-01"), (2017, "2017-05-01")):   # the 2017 version is in force from 2017-05-01
        out = tmp_path / f"{year}.json"
        result = run("plan", "--year", year, source, "--out", out, "--jobs", 1)
        assert result.exit_code == 0, result.output
        assert json.loads(out.read_text(encoding="utf-8"))["as_of"] == {day: 1}


def test_district_filter_and_text_summary(cases, tmp_path):
    source = write_jsonl(tmp_path / "c.jsonl", cases[:120])
    result = run("plan", "--year", 2020, source, "--district", "嘉定区", "--jobs", 1)
    assert result.exit_code == 0, result.output
    assert "Regular inspection plan 2020" in result.stdout and "嘉定区" in result.stdout
    assert "浦东新区" not in result.stdout
    typo = run("plan", "--year", 2020, source, "--district", "嘉定", "--jobs", 1)
    assert typo.exit_code == 1 and "did you mean `嘉定区`" in typo.output and "Traceback" not in typo.output


def test_a_district_of_the_policy_with_no_enterprise_in_the_input_has_an_empty_plan(cases, tmp_path):
    """A district the rules can assign (the facts schema's enum) but none of INPUT is in: an empty plan, exit 0;
    a name the policy does not have stays a usage error, with the policy's nearest district."""
    from regcode.engine import Catalog
    from regcode.engine.check import decision_values
    districts = decision_values(Catalog().by_ref("shanghai-post-license@2017"), "competent_authority")
    assert "嘉定区" in districts and len(districts) == 16
    chosen = cases[:40]
    empty = next(d for d in districts if all(c["enterprise"].get("production_district") != d for c in chosen))
    source = write_jsonl(tmp_path / "c.jsonl", chosen)
    out = tmp_path / "plan.json"
    result = run("plan", "--year", 2020, source, "--district", empty, "--out", out, "--jobs", 1)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["rows"] == []
    assert f"0 rows for {empty}" in result.stderr and "(0 of 40 case files" in result.stderr
    text = run("plan", "--year", 2020, source, "--district", empty, "--jobs", 1)
    assert text.exit_code == 0 and f"): no case file of {empty} in INPUT" in text.stdout.splitlines()[0]
    typo = run("plan", "--year", 2020, source, "--district", empty[0] + "x" + empty[1:], "--jobs", 1)
    assert typo.exit_code == 1 and "shanghai-post-license has no district" in typo.output and f"did you mean `{empty}`" in typo.output
    # said before any case is read (nothing evaluated, no record reported), the policy's districts in their own order
    assert "evaluated" not in typo.output and "its districts: 浦东新区, 黄浦区, 静安区," in typo.output


def test_plan_is_built_from_entries_in_any_order():
    """The engine function itself: duplicates of one case resolve to the same entry whatever comes first."""
    from regcode.engine.plan import Entry
    from regcode.engine.reports import Group, PlanSpec
    spec = PlanSpec(article="第一条", based_on=(), group=Group("zone", "zones", "office"), mode="regime",
                    modes=("close", "normal", "sampled"), visits="visits", share="share", key=("firm", "id"),
                    identity=(("id", ("firm", "id")), ("name", ("firm", "name"))))

    def entry(key, name, as_of, mode, visits, ratio):
        return Entry(key, (("id", key), ("name", name)), "北区", as_of, "p@1", True, mode, visits, ratio, spec=spec)
    a = entry("X1", "甲", "2019-06-30", "normal", 1, 1.0)
    b = entry("X1", "甲", "2019-12-31", "close", 2, 1.0)
    c = entry("X2", "乙", "2019-06-30", "sampled", 0, 0.2)
    first, second = build_plan([a, b, c], 2020), build_plan([c, b, a], 2020)
    assert first.as_dict() == second.as_dict()
    assert first.duplicates == ["X1"]
    assert [(r["id"], r["name"], r["zone"], r["visits"]) for r in first.rows] == [("X1", "甲", "北区", 2), ("X2", "乙", "北区", 1)]


# ---- usage errors ----------------------------------------------------------------------------
USAGE = [
    ("missing input", ["plan", "--year", "2020", "no/such.jsonl"], "does not exist"),
    ("year not a number", ["plan", "--year", "twenty", "{src}"], "--year"),
    ("year out of range", ["plan", "--year", "20201", "{src}"], "--year"),
    ("no version in force that year", ["plan", "--year", "2010", "{src}"], "no version of shanghai-post-license is in force in 2010"),
    ("bad output suffix", ["plan", "--year", "2020", "{src}", "--out", "{tmp}/plan.txt"], ".csv or .json"),
    ("missing year", ["plan", "{src}"], "--year"),
    ("a byte-order mark for no CSV", ["plan", "--year", "2020", "{src}", "--out", "{tmp}/plan.json", "--bom"],
     "a byte-order mark starts a CSV file: give it with --out PLAN.csv"),
    ("a byte-order mark for the summary", ["plan", "--year", "2020", "{src}", "--bom"], "--bom"),
]


@pytest.mark.parametrize("args,fragment", [u[1:] for u in USAGE], ids=[u[0] for u in USAGE])
def test_usage_errors_are_clear(args, fragment, cases, tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", cases[:3])
    result = run(*[a.format(tmp=tmp_path, src=src) for a in args])
    assert result.exit_code == 1, result.output   # bad input, usage errors included: one paragraph, exit 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert fragment in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "plan.txt").exists()


@pytest.mark.parametrize("out", [None, "plan.csv", "plan.json"])
@pytest.mark.parametrize("twice", [1, 2])
def test_enterprises_met_more_than_once_are_counted_in_the_summary_and_under_out(cases, tmp_path, twice, out):
    """With --out the notes the summary ends with are said too, on stderr under the line naming the file."""
    source = write_jsonl(tmp_path / "c.jsonl", cases[:20] + cases[:twice])
    result = run("plan", "--year", 2020, source, "--jobs", 1, *(["--out", tmp_path / out] if out else []))
    assert result.exit_code == 0, result.output
    said = {1: "1 credit code met more than once", 2: "2 credit codes met more than once"}[twice]
    note = [line for line in (result.stderr if out else result.stdout).splitlines() if said in line]
    assert len(note) == 1 and "(one planned: the latest as_of, and of equal as_of the last by content" in note[0]
    if out:
        assert result.stdout == "" and result.stderr.splitlines()[-1] == note[0]


def test_out_says_the_cases_outside_the_policy_and_without_a_group_as_the_summary_does(tmp_path):
    """The notes under the summary (here the kiosk policy's: a closed kiosk has no regime, one has no zone, one permit
    met twice) are said with --out too, the same line."""
    from conftest import TEST_POLICIES
    kiosk = ["--policy-root", TEST_POLICIES, "--policy", "kiosk"]
    cases = [{"as_of": "2020-06-30", "kiosk": {"permit_no": "K0001", "name": "报亭1", "zone": "北区", "closed": True}},
             {"as_of": "2020-06-30", "kiosk": {"permit_no": "K0002", "name": "报亭2"}},
             {"as_of": "2020-06-30", "kiosk": {"permit_no": "K0003", "name": "报亭3", "zone": "北区"}},
             {"as_of": "2020-06-30", "kiosk": {"permit_no": "K0003", "name": "报亭3", "zone": "北区"}}]
    source = tmp_path / "k.jsonl"
    source.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
    summary = run("plan", "--year", 2020, source, "--jobs", 1, *kiosk)
    assert summary.exit_code == 0, summary.output
    last = summary.stdout.splitlines()[-1]
    assert last.startswith("1 outside the policy (no regime); 1 without a zone; 1 permit no met more than once"), last
    for out in ("p.csv", "p.json"):
        written = run("plan", "--year", 2020, source, "--jobs", 1, "--out", tmp_path / out, *kiosk)
        assert written.exit_code == 0 and written.stdout == "", written.output
        assert written.stderr.splitlines()[-1] == last


def test_which_record_of_a_credit_code_is_planned_does_not_depend_on_the_input_order(tmp_path):
    """Three records of one enterprise on one as_of, named differently: the same one is planned in every order (the
    last by content: here the name that sorts last), and the plan's bytes are the same."""
    import itertools
    base = load_case_file(EXAMPLES / "c-class-triggers.yaml").data
    records = [json.loads(json.dumps(dict(base, enterprise=dict(base["enterprise"], name=name)))) for name in ("乙公司", "甲公司", "丙公司")]
    plans, names = set(), set()
    for i, order in enumerate(itertools.permutations(records)):
        out = tmp_path / f"p{i}.json"
        result = run("plan", "--year", 2020, write_jsonl(tmp_path / f"c{i}.jsonl", order), "--out", out, "--jobs", 1 + i % 2)
        assert result.exit_code == 0, result.output
        assert "1 credit code met more than once" in result.stderr
        plans.add(out.read_bytes())
        names |= {row["name"] for row in json.loads(out.read_bytes())["rows"]}
    assert len(plans) == 1 and names == {max(r["enterprise"]["name"] for r in records)}


@pytest.mark.parametrize("name,cell", [("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"), ("+1", "'+1"),
                                       ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"), ("上海=公司", "上海=公司")])
def test_a_name_a_spreadsheet_would_run_as_a_formula_is_kept_as_text_in_the_csv(cases, tmp_path, name, cell):
    """CSV injection: a case file's name written as a formula is not run by whoever opens plan.csv."""
    import csv as csvlib
    mine = json.loads(json.dumps([c for c in cases if c["enterprise"]["production_district"] == "嘉定区"][:30]))
    for case in mine:
        case["enterprise"]["name"] = name
    out = tmp_path / "plan.csv"
    result = run("plan", "--year", 2020, write_jsonl(tmp_path / "c.jsonl", mine), "--out", out, "--jobs", 1)
    assert result.exit_code == 0, result.output
    rows = list(csvlib.DictReader(out.open(encoding="utf-8")))
    assert rows and {r["name"] for r in rows} == {cell}
    assert all(not r["visits"].startswith("'") for r in rows)


def test_the_rows_go_by_district_in_the_policy_s_order_and_bom_starts_the_csv_for_excel(cases, tmp_path):
    """The plan's rows, and its districts, in the policy's order (the districts' enum in the facts schema, as the
    summary tables list them), not in code-point order (嘉定区 before 浦东新区); `--bom` puts a UTF-8 byte-order
    mark first, which Excel needs to read the Chinese as UTF-8, and nothing else changes."""
    from regcode.engine import Catalog
    policy = Catalog().compiled(Catalog().choose("shanghai-post-license", "2020-01-01"))
    enum = policy.facts_schema["properties"]["enterprise"]["properties"]["production_district"]["enum"]
    source = write_jsonl(tmp_path / "c.jsonl", cases)
    plain, marked = tmp_path / "plan.csv", tmp_path / "plan-bom.csv"
    assert run("plan", "--year", 2020, source, "--out", plain, "--jobs", 1).exit_code == 0
    assert run("plan", "--year", 2020, source, "--out", marked, "--bom", "--jobs", 1).exit_code == 0
    assert marked.read_bytes() == b"\xef\xbb\xbf" + plain.read_bytes() and not plain.read_bytes().startswith(b"\xef")
    seen = list(dict.fromkeys(r["district"] for r in csv.DictReader(plain.open(encoding="utf-8"))))
    assert len(seen) > 3 and seen == sorted(seen, key=enum.index), seen
    assert seen != sorted(seen)        # (code-point order differs for these districts)
    json_out = tmp_path / "plan.json"          # (its `districts` mapping has sorted keys, as all JSON here; its rows the order)
    assert run("plan", "--year", 2020, source, "--out", json_out, "--jobs", 1).exit_code == 0
    assert list(dict.fromkeys(r["district"] for r in json.loads(json_out.read_text(encoding="utf-8"))["rows"])) == seen
