"""The bounds of one evaluation (rule firings, derived facts): they grow with the case's records, and when one
is passed the error says whose fault it is: the case's (too large for one evaluation) or the policy's (its
derivations do not end)."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import _python

from conftest import TEST_POLICIES, TESTS, needs_durable

BACKENDS = ["python", pytest.param("durable", marks=needs_durable)]


def run(*args):
    return CliRunner().invoke(regcode, list(args), catch_exceptions=False)


def _licenses_case(tmp_path, n: int):
    case = {"as_of": "2019-06-30",
            "enterprise": {"credit_code": "91310114MA1G7B2N2T", "name": "x", "production_district": "嘉定区"},
            "licenses": [{"number": "XK06-001-%05d" % i, "category": "电线电缆", "risk_level": "ii", "issuer": "provincial",
                          "issued_on": "2015-01-01"} for i in range(n)]}
    path = tmp_path / "many.json"
    path.write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_case_of_10000_licenses_within_the_input_limit_is_evaluated(tmp_path, backend):
    path = _licenses_case(tmp_path, 10000)     # 1.3 MB: 20,008 firings, past the base bound of 20,000
    result = run("eval", "--backend", backend, "--format", "json", "--explain", "none", str(path))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["rules_fired"] > _python.MAX_FIRINGS and out["decisions"]["classification"] is not None


def _toy_with(tmp_path, derived: dict, rules: list):
    """A copy of the toy policy with more derived facts and one more rules file."""
    root = tmp_path / "policies"
    target = root / "toy" / "1"
    shutil.copytree(TEST_POLICIES / "toy" / "1", target)
    doc = yaml.safe_load((target / "derived.yaml").read_text(encoding="utf-8"))
    doc["facts"].update(derived)
    (target / "derived.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    (target / "rules" / "extra.yaml").write_text(yaml.safe_dump({"apiVersion": "regcode/v1", "kind": "Rules", "rules": rules},
                                                                allow_unicode=True, sort_keys=False), encoding="utf-8")
    (target / "tests" / "cases.yaml").unlink()     # its expectations are not this policy's
    return root


def _toy_case(tmp_path, vehicles: int):
    case = {"as_of": "2020-06-30", "applicant": {"name": "甲", "district": "浦东新区"},
            "vehicles": [{"plate": f"沪A-{i}", "kind": "cart", "inspected_on": "2020-05-01", "passed": True}
                         for i in range(vehicles)]}
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    return path


def _errors(result) -> list:
    assert result.exit_code == 1, result.output
    return json.loads(result.stderr)["errors"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_case_past_its_bound_is_too_large_and_named_not_the_policy(tmp_path, backend):
    # 100 rules on each vehicle, none deriving anything: the derivations end, but 1,000 vehicles are 100,000
    # firings, past 20,000 + 64 for each of the 1,000 records
    rules = [{"id": f"vehicle-seen-{i}", "article": "第三条", "title": "车辆", "for_each": "vehicles", "as": "v",
              "then": [{"decide": "vehicle_status", "key": {"path": "v.plate"}, "value": "ok"}]} for i in range(100)]
    root = _toy_with(tmp_path, {}, rules)
    case = _toy_case(tmp_path, 1000)
    result = run("eval", "--policy-root", str(root), "--policy", "toy", "--backend", backend, "--format", "json", str(case))
    [error] = _errors(result)
    assert error["code"] == "eval.limit"
    assert error["location"]["file"] == str(case)       # the case's place, not a rule's
    assert error["message"] == ("more than 84,000 rule firings for a case of 1,000 records (20,000 and 64 for each record): "
                                "the case is too large for one evaluation")
    assert error["hint"].startswith("split the case file into cases of fewer records (the policy's derivations always end")
    text = run("eval", "--policy-root", str(root), "--policy", "toy", "--backend", backend, str(case))
    assert text.exit_code == 1 and text.stderr.startswith(f"{case}: eval.limit: more than 84,000 rule firings")
    assert "extra.yaml" not in text.output and "do not end" not in text.output


def _endless_toy(tmp_path):
    """A policy whose derivations do not end: each reminder derives the one a day later."""
    derived = {"reminder": {"title": "提醒", "fields": {"plate": "string", "on": "date"}}}
    rules = [{"id": "vehicle-reminder", "article": "第三条", "title": "提醒", "for_each": "vehicles", "as": "v",
              "when": {"present": "v.inspected_on"},
              "then": [{"derive": "reminder", "with": {"plate": {"path": "v.plate"}, "on": {"path": "v.inspected_on"}}}]},
             {"id": "reminder-next-day", "article": "第三条", "title": "次日再提醒", "for_each": "reminder", "as": "r",
              "then": [{"derive": "reminder", "with": {"plate": {"path": "r.plate"},
                                                       "on": {"date_add": {"path": "r.on"}, "days": 1}}}]}]
    return _toy_with(tmp_path, derived, rules)


def test_only_rules_deriving_facts_from_their_own_kind_are_recursive(tmp_path, catalog):
    from regcode.engine import Catalog
    policy = Catalog([_endless_toy(tmp_path)]).by_ref("toy@1")
    assert {policy.rules[i].id for i in _python.recursive_rules(policy)} == {"reminder-next-day"}
    assert _python.recursive_rules(catalog.by_ref("toy@1")) == frozenset()    # a chain of derived facts ends


@pytest.mark.parametrize("backend", BACKENDS)
def test_derivations_that_do_not_end_name_the_rule_for_the_drafter(tmp_path, backend):
    root = _endless_toy(tmp_path)
    case = _toy_case(tmp_path, 1)
    result = run("eval", "--policy-root", str(root), "--policy", "toy", "--backend", backend, "--format", "json", str(case))
    [error] = _errors(result)
    assert error["code"] == "eval.limit"
    assert error["location"]["file"].endswith("rules/extra.yaml") and error["location"]["line"] > 1   # the rule's place
    assert error["message"] == ("more than 5,016 derived facts for a case of 1 record (5,000 and 16 for each record), most "
                                "rule firings on facts derived from facts of their own kind: the derivations of "
                                "`reminder-next-day` do not end")
    assert error["hint"].startswith("for the policy's drafter:")


def test_the_limit_errors_are_byte_identical_across_backends(tmp_path):
    if not _durable_ok():
        pytest.skip("durable-rules is not installed")
    root = _endless_toy(tmp_path)
    case = _toy_case(tmp_path, 3)
    outs = {run("eval", "--policy-root", str(root), "--policy", "toy", "--backend", b, "--format", "json", str(case)).stderr
            for b in ("python", "durable")}
    assert len(outs) == 1


def _durable_ok() -> bool:
    from regcode.engine import _durable
    return _durable.available()


def test_a_batch_record_past_its_bound_is_named_by_its_line(tmp_path):
    rules = [{"id": f"vehicle-seen-{i}", "article": "第三条", "title": "车辆", "for_each": "vehicles", "as": "v",
              "then": [{"decide": "vehicle_status", "key": {"path": "v.plate"}, "value": "ok"}]} for i in range(100)]
    root = _toy_with(tmp_path, {}, rules)
    small = json.loads(_toy_case(tmp_path, 2).read_text(encoding="utf-8"))
    large = json.loads(_toy_case(tmp_path, 1000).read_text(encoding="utf-8"))
    corpus = tmp_path / "cases.jsonl"
    corpus.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in (small, large, small)), encoding="utf-8")
    result = run("batch", "--policy-root", str(root), "--policy", "toy", str(corpus), "--out", str(tmp_path / "out.jsonl"),
                 "--errors", str(tmp_path / "errors.jsonl"))
    assert result.exit_code == 1, result.output
    [record] = [json.loads(line) for line in (tmp_path / "errors.jsonl").read_text(encoding="utf-8").splitlines()]
    [error] = record["errors"]
    assert error["code"] == "eval.limit" and (error["location"]["file"], error["location"]["line"]) == (str(corpus), 2)
    assert error["message"].startswith("more than 84,000 rule firings for a case of 1,000 records")
    assert len((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()) == 2


def test_the_service_evaluates_a_large_case_rather_than_blame_its_policy(tmp_path):
    from servekit import serving
    body = _licenses_case(tmp_path, 10000).read_bytes()
    with serving() as client:
        response = client.post("/v1/evaluate", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text[:500]
    assert response.json()["rules_fired"] > _python.MAX_FIRINGS


@pytest.mark.parametrize("backend", BACKENDS)
def test_endless_derivations_are_named_whichever_rule_crosses_the_bound(tmp_path, backend):
    """Seven rules deriving reminders from reminders and one plain rule on each reminder: the bound may be crossed
    by the plain rule, and the count of recursive firings is still the one the decision reads (it was 0 there)."""
    derived = {"reminder": {"title": "提醒", "fields": {"plate": "string", "on": "date"}}}
    rules = [{"id": "vehicle-reminder", "article": "第三条", "title": "提醒", "for_each": "vehicles", "as": "v",
              "when": {"present": "v.inspected_on"},
              "then": [{"derive": "reminder", "with": {"plate": {"path": "v.plate"}, "on": {"path": "v.inspected_on"}}}]}]
    rules += [{"id": f"reminder-after-{n}-days", "article": "第三条", "title": "再提醒", "for_each": "reminder", "as": "r",
               "then": [{"derive": "reminder", "with": {"plate": {"path": "r.plate"},
                                                        "on": {"date_add": {"path": "r.on"}, "days": n}}}]} for n in range(1, 8)]
    rules.append({"id": "reminder-noted", "article": "第三条", "title": "记录", "for_each": "reminder", "as": "r",
                  "then": [{"decide": "any_major", "value": False}]})
    root = _toy_with(tmp_path, derived, rules)
    result = run("eval", "--policy-root", str(root), "--policy", "toy", "--backend", backend, "--format", "json",
                 str(_toy_case(tmp_path, 1)))
    [error] = _errors(result)
    assert error["code"] == "eval.limit" and "do not end" in error["message"], error
    assert error["location"]["file"].endswith("rules/extra.yaml")


# ---- a date moved out of the calendar: the case file's error, placed at the case file's field -----------------------
NEW_LICENSEE = (TESTS.parent / "examples" / "cases" / "new-licensee.yaml").read_text(encoding="utf-8")
OUT_OF_CALENDAR = [  # (what, the new-licensee case file as changed, its line and column, its path, the rule said)
    ("a license issued on the calendar's first day", NEW_LICENSEE.replace("issued_on: 2019-05-20", "issued_on: 0001-01-01"),
     19, 16, "licenses[0].issued_on",
     "rule `category-start-new-licensee-b` (ch2-classification.yaml:158): `date_add` moves 0001-01-01 by -1 days, before "
     "0001-01-01, where the calendar begins (the date is the case file's `licenses[0].issued_on`)"),
    # found by value: two fields hold the date, and which one the rule read is not known here: both named, at the file
    ("a spot check on the same first day", NEW_LICENSEE.replace("issued_on: 2019-05-20", "issued_on: 0001-01-01").replace(
        "spot_checks: []", "spot_checks:\n  - {date: 0001-01-01, level: district, result: pass, category: 建筑防水卷材}"),
     0, 0, "",
     "rule `category-start-new-licensee-b` (ch2-classification.yaml:158): `date_add` moves 0001-01-01 by -1 days, before "
     "0001-01-01, where the calendar begins (the case file holds that date at `licenses[0].issued_on`, `spot_checks[0].date`)"),
]


def _out_of_calendar(tmp_path, text: str):
    (tmp_path / "cases").mkdir(exist_ok=True)
    bad = tmp_path / "cases" / "nl-typo.yaml"
    bad.write_text(text, encoding="utf-8")
    return bad


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("text,line,column,path,message", [o[1:] for o in OUT_OF_CALENDAR], ids=[o[0] for o in OUT_OF_CALENDAR])
def test_a_date_moved_out_of_the_calendar_names_the_case_file_and_its_field(tmp_path, monkeypatch, backend, text, line,
                                                                            column, path, message):
    """With several case files, the rule's place alone (ch2-classification.yaml:158:5) did not say which one was wrong."""
    monkeypatch.chdir(tmp_path)
    _out_of_calendar(tmp_path, text)
    good = str(TESTS.parent / "examples" / "cases" / "aa-clean.yaml")
    result = run("eval", "--backend", backend, "cases/nl-typo.yaml", good)
    assert result.exit_code == 1
    place = f"cases/nl-typo.yaml:{line}:{column}" if line else "cases/nl-typo.yaml"
    assert result.stderr.startswith(f"{place}: eval.date_range: {message}"), result.stderr
    [error] = _errors(run("eval", "--backend", backend, "--format", "json", "cases/nl-typo.yaml"))
    assert error["location"] == {"file": "cases/nl-typo.yaml", "line": line, "column": column, "path": path}, error
    assert error["message"] == message and "check `" in error["hint"], error


@pytest.mark.parametrize("text,line,column,path,message", [o[1:] for o in OUT_OF_CALENDAR], ids=[o[0] for o in OUT_OF_CALENDAR])
def test_the_date_errors_are_byte_identical_across_backends(tmp_path, text, line, column, path, message):
    """durable added the fact it matched (`on licensed_category{first_issued_on=...}`), the generated code none: an
    errors file of `batch --backend durable` differed from python's on such records."""
    if not _durable_ok():
        pytest.skip("durable-rules is not installed")
    bad = _out_of_calendar(tmp_path, text)
    good = (TESTS.parent / "examples" / "cases" / "aa-clean.yaml")
    corpus = tmp_path / "cases.jsonl"
    corpus.write_text("".join(json.dumps(yaml.safe_load(p.read_text(encoding="utf-8")), ensure_ascii=False, default=str) + "\n"
                              for p in (good, bad, good)), encoding="utf-8")
    said, written = set(), set()
    for backend in ("python", "durable"):
        said.add(run("eval", "--backend", backend, "--format", "json", str(bad)).stderr)
        for jobs in ("1", "2"):
            errors = tmp_path / f"errors-{backend}-{jobs}.jsonl"
            result = run("batch", "--backend", backend, "--jobs", jobs, str(corpus), "--out", str(tmp_path / "out.jsonl"),
                         "--errors", str(errors))
            assert result.exit_code == 1, result.output
            written.add(errors.read_bytes())
    assert len(said) == 1 and len(written) == 1, (said, written)
    [record] = [json.loads(line) for line in written.pop().decode("utf-8").splitlines()]
    [error] = record["errors"]
    assert (error["location"]["file"], error["location"]["line"], error["location"]["path"]) == (str(corpus), 2, path)
    assert error["message"] == message


@pytest.mark.parametrize("text,line,column,path,message", [o[1:] for o in OUT_OF_CALENDAR], ids=[o[0] for o in OUT_OF_CALENDAR])
def test_the_service_places_a_date_out_of_the_calendar_at_the_case_files_field(text, line, column, path, message):
    from servekit import serving
    with serving(workers=1) as client:
        response = client.post("/v1/evaluate?source=nl-typo.yaml", content=text.encode("utf-8"),
                               headers={"Content-Type": "application/yaml"})
    assert response.status_code == 422, response.text[:500]
    [error] = response.json()["errors"]
    assert error["code"] == "eval.date_range" and error["message"] == message, error
    assert (error["location"]["file"], error["location"]["path"]) == ("nl-typo.yaml", path)
    assert error["location"]["line"] == line or not path
