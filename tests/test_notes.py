"""FactsSchema `references:` (LIST.FIELD: LIST.FIELD): an item of a case file that names, by a declared field, no item
of the list it refers to is noted in its evaluation's output (`notes`), at every explain level, in every format,
on both backends; the declaration itself is checked, every mistake at once. The shipped policy declares its
categories this way: a class decision, assessment or spot check of a category no license has."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli import commands  # noqa: F401
from regcode.cli.main import regcode
from regcode.engine import Catalog, Document, dump_json, evaluate_case
from regcode.engine.evaluate import MAX_NOTES

from conftest import FIXTURES, REPO, TEST_POLICIES, needs_durable



class _DatesAsText(yaml.SafeLoader):
    """The safe loader with dates left as text, as regcode reads a case file."""


_DatesAsText.yaml_implicit_resolvers = {k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
                                        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _yaml(path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_DatesAsText)


CASES = _yaml(FIXTURES / "references" / "cases.yaml")
DECLARATIONS = _yaml(FIXTURES / "references" / "declarations.yaml")
SHANGHAI = "shanghai-post-license"


def _toy_with(tmp_path, references: dict):
    """A copy of the toy policy whose facts schema declares `references` (written from line 3 on)."""
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    shutil.rmtree(root / "toy" / "1" / "tests")
    schema = root / "toy" / "1" / "facts.schema.yaml"
    head, rest = schema.read_text(encoding="utf-8").split("\n", 2)[:2], schema.read_text(encoding="utf-8").split("\n", 2)[2]
    block = "references:\n" + "".join(f"  {k}: {v}\n" for k, v in references.items())
    schema.write_text("\n".join(head) + "\n" + block + rest, encoding="utf-8")
    return root


def _result(cat, case: dict, explain: str = "full", backend: str = "python", policy: str = "toy") -> dict:
    return evaluate_case(cat, Document("case.yaml", case), policy, "2020-06-01", None, backend, explain)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return Catalog([_toy_with(tmp_path_factory.mktemp("refs"), {"incidents.plate": "vehicles.plate"})])


@pytest.mark.parametrize("fixture", CASES, ids=[c["name"] for c in CASES])
def test_an_item_naming_nothing_it_refers_to_is_noted(toy, fixture):
    result = _result(toy, fixture["case"])
    notes = result.get("notes", [])
    assert [n["path"] for n in notes] == fixture["notes"]
    assert ("notes" in result) == bool(fixture["notes"])      # no empty key: outputs without notes are as they were
    for note in notes:
        item, field = note["path"].split(".")
        index = int(item.split("[")[1].rstrip("]"))
        assert note["value"] == fixture["case"]["incidents"][index][field]
        assert note["code"] == "case.reference" and f"`{note['value']}`" in note["message"]
    if "hint" in fixture:
        assert fixture["hint"] in notes[0]["hint"]
    for explain in ("none", "decisive"):      # about the case, not the why: kept at every level
        assert _result(toy, fixture["case"], explain).get("notes", []) == notes


@needs_durable
@pytest.mark.parametrize("fixture", CASES, ids=[c["name"] for c in CASES])
def test_both_backends_give_the_same_notes(toy, fixture):
    assert dump_json(_result(toy, fixture["case"], backend="durable")) == dump_json(_result(toy, fixture["case"]))


def test_notes_are_bounded_and_the_rest_counted(toy):
    case = {"applicant": {"name": "甲", "district": "浦东新区"},
            "incidents": [{"date": "2020-01-01", "severity": "minor", "plate": f"P{i}"} for i in range(MAX_NOTES + 7)]}
    notes = _result(toy, case)["notes"]
    assert len(notes) == MAX_NOTES + 1
    assert [n["path"] for n in notes[:MAX_NOTES]] == [f"incidents[{i}].plate" for i in range(MAX_NOTES)]
    assert notes[-1]["path"] == "" and notes[-1]["message"].startswith("7 more records")


@pytest.mark.parametrize("fixture", DECLARATIONS, ids=[d["name"] for d in DECLARATIONS])
def test_a_wrong_declaration_is_said_where_it_is_written(tmp_path, fixture):
    root = _toy_with(tmp_path, fixture["references"])
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", str(root / "toy" / "1")])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    got = [(e["code"], e["location"]["line"]) for e in errors if e["location"]["file"].endswith("facts.schema.yaml")]
    assert got == [(w["code"], w["line"]) for w in fixture["expect"]], errors
    for want, err in zip(fixture["expect"], [e for e in errors if e["location"]["file"].endswith("facts.schema.yaml")]):
        assert want["message"] in err["message"] and want.get("hint", "") in (err.get("hint") or ""), err


# ---- the shipped policy ------------------------------------------------------------------------
def _misspelt(where: str) -> dict:
    """The C-class example with one category misspelt in `where` ('电缆' for '电线电缆')."""
    case = _yaml(REPO / "examples" / "cases" / "c-class-triggers.yaml")
    item = next(i for i, x in enumerate(case[where]) if x["category"] == "电线电缆")
    case[where][item]["category"] = "电缆"
    return case, f"{where}[{item}].category"


@pytest.mark.parametrize("where", ["spot_checks", "assessments", "classification_history"])
def test_the_shipped_policy_notes_a_category_no_license_has(where):
    case, path = _misspelt(where)
    cat = Catalog()
    (note,) = evaluate_case(cat, Document("c.yaml", case), SHANGHAI, None, None, "python", "none")["notes"]
    assert (note["path"], note["value"]) == (path, "电缆") and "did you mean `电线电缆`?" == note["hint"]
    clean = _yaml(REPO / "examples" / "cases" / "c-class-triggers.yaml")
    assert "notes" not in evaluate_case(cat, Document("c.yaml", clean), SHANGHAI, None, None, "python", "full")


def test_the_note_is_in_the_text_the_page_and_the_batch_summary(tmp_path):
    case, path = _misspelt("spot_checks")
    file = tmp_path / "typo.yaml"
    file.write_text(yaml.safe_dump(case, allow_unicode=True), encoding="utf-8")
    runner = CliRunner()
    text = runner.invoke(regcode, ["eval", str(file)])
    assert text.exit_code == 0
    assert text.stdout.splitlines()[1].startswith(f"  note: {path}: `电缆` is the category of no item of licenses")
    page = runner.invoke(regcode, ["eval", str(file), "--format", "html"])
    assert page.exit_code == 0 and f"<code>{path}</code></a>: " in page.stdout
    shutil.copy(REPO / "examples" / "cases" / "aa-clean.yaml", tmp_path / "clean.yaml")
    out = tmp_path / "out.jsonl"
    batch = runner.invoke(regcode, ["batch", str(tmp_path), "--out", str(out), "--jobs", "1"])
    assert batch.exit_code == 0, batch.output
    assert "note: 1 result has `notes`" in batch.stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted("notes" in line for line in lines) == [False, True]
    summary = runner.invoke(regcode, ["batch", str(tmp_path), "--out", str(out), "--format", "json", "--jobs", "2"])
    assert json.loads(summary.stdout)["noted"] == 1


def test_the_service_answers_the_notes_as_eval_does(tmp_path):
    """Over HTTP the evaluation carries the same notes, and the answer is checked against the OpenAPI document
    (servekit), which declares them."""
    from servekit import YAML, serving, without_decision_id
    case, path = _misspelt("assessments")
    file = tmp_path / "typo.yaml"
    file.write_text(yaml.safe_dump(case, allow_unicode=True), encoding="utf-8")
    expected = CliRunner().invoke(regcode, ["eval", str(file), "--format", "json", "--explain", "none"])
    assert expected.exit_code == 0 and json.loads(expected.stdout)["notes"][0]["path"] == path
    with serving(workers=1) as client:
        answer = client.post("/v1/evaluate", params={"source": str(file), "explain": "none", "pretty": "true"},
                             content=file.read_bytes(), headers=YAML)
        assert answer.status_code == 200, answer.text
        assert without_decision_id(answer.text) == expected.stdout


# ---- a version named outside its window ---------------------------------------------------------
def test_a_version_named_outside_its_window_is_noted_in_every_output():
    """--policy-version (or `version` over HTTP) forces a version on any date: the result itself says so, so that
    a reader of the output alone (a batch's line, a page, the service's answer) knows; inside the window, nothing."""
    case = REPO / "examples" / "cases" / "aa-clean.yaml"
    runner = CliRunner()
    data = json.loads(runner.invoke(regcode, ["eval", str(case), "--policy-version", "2017", "--as-of", "2023-01-01",
                                              "--format", "json", "--explain", "none"]).stdout)
    (note,) = data["notes"]
    assert (note["code"], note["path"], note["value"]) == ("select.outside_window", "", "2023-01-01")
    assert "2017-05-01 .. 2022-04-30" in note["message"]
    inside = json.loads(runner.invoke(regcode, ["eval", str(case), "--policy-version", "2017", "--format", "json"]).stdout)
    assert "notes" not in inside
    text = runner.invoke(regcode, ["eval", str(case), "--policy-version", "2017", "--as-of", "2023-01-01"])
    assert text.exit_code == 0 and text.stdout.splitlines()[1].startswith("  note: 2023-01-01 is outside shanghai-post-license@2017")
    assert "outside" not in text.stderr        # said once, in the output
    from_case = evaluate_case(Catalog(), Document("c.yaml", {**_yaml(case), "as_of": "2023-01-01"}), SHANGHAI, None, "2017",
                              "python", "none")
    assert from_case["notes"][0]["path"] == "as_of"     # the date the case file gives


def test_the_service_notes_a_version_named_outside_its_window(tmp_path):
    """A client pinning a version (`version`) outside the case's date window gets, in its answer, the note `regcode
    eval --policy-version` gives, word for word: on /v1/evaluate and in a batch's element, the date the query's
    `as_of` or the case file's own (its note then at `as_of`); inside the window, or with no version pinned, none."""
    from servekit import YAML, serving
    body = (REPO / "examples" / "cases" / "aa-clean.yaml").read_bytes()
    early = tmp_path / "early.yaml"      # the case file's own date, before the window
    early.write_text(yaml.safe_dump({**yaml.safe_load(body), "as_of": "2016-01-01"}, allow_unicode=True), encoding="utf-8")
    asks = [(REPO / "examples" / "cases" / "aa-clean.yaml", "2023-01-01"), (early, None)]
    with serving(workers=1) as client:
        for case, as_of in asks:
            flags = ["--as-of", as_of] if as_of else []
            said = CliRunner().invoke(regcode, ["eval", str(case), "--policy-version", "2017", "--format", "json",
                                                "--explain", "none", *flags])
            expected = json.loads(said.stdout)["notes"]
            assert [(n["code"], n["path"]) for n in expected] == [("select.outside_window", "" if as_of else "as_of")]
            query = {"version": "2017", "explain": "none", **({"as_of": as_of} if as_of else {})}
            answer = client.post("/v1/evaluate", params=query, content=case.read_bytes(), headers=YAML)
            assert answer.status_code == 200, answer.text
            assert answer.json()["notes"] == expected
            record = json.dumps(yaml.safe_load(case.read_text(encoding="utf-8")), default=str, ensure_ascii=False)
            batch = client.post("/v1/evaluate/batch", params=query, content=record.encode("utf-8"))
            assert batch.status_code == 200 and batch.json()["evaluated"] == 1, batch.text
            assert batch.json()["results"][0]["notes"] == expected
        assert "notes" not in client.post("/v1/evaluate", params={"explain": "none", "version": "2017"}, content=body,
                                          headers=YAML).json()
        assert "notes" not in client.post("/v1/evaluate", params={"explain": "none"}, content=body, headers=YAML).json()
