"""`regcode batch --out OUT.csv`: a table for a spreadsheet, a row per record (bad ones too) and a column per decision,
read back to the same values as the JSON lines; in input order, byte-identical across --jobs, UTF-8 with a header."""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import Catalog

from conftest import REPO, generator as gen, needs_durable

EXAMPLES = REPO / "examples" / "cases"
AMENDMENT = REPO / "examples" / "amendment" / "policies"
SHANGHAI = Catalog().by_ref("shanghai-post-license@2017")
IDENTITY = ["source", "credit_code", "name", "as_of", "policy", "content_hash"]
TRAILING = ["notes", "error_code", "error"]


def run(*args, input=None):
    result = CliRunner().invoke(regcode, [str(a) for a in args], input=input)
    assert "Traceback" not in result.output
    return result


def table(path: Path) -> list:
    """The CSV's rows as dicts, read as a spreadsheet reads it (UTF-8, a header row)."""
    with open(path, encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def json_lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def decoded(cell: str, kind: str):
    """A decision's cell read back by its declared type: empty is no value, a text itself (less the `'` that keeps a
    formula a text), anything else JSON."""
    if cell == "":
        return None
    if kind in ("enum", "string", "date"):
        return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") else cell
    return json.loads(cell)


def _mixed(tmp_path) -> Path:
    """Good records around bad ones: invalid JSON, a schema error in a case with an identity, not an object."""
    good = list(gen.generate(5, seed=11))
    bad_schema = dict(good[0], licenses=[dict(good[0]["licenses"][0], risk_level="iv")])
    text = "".join([gen.dumps(good[0]) + "\n", gen.dumps(good[1]) + "\n", '{"as_of": "2019-06-30", "enterprise": \n',
                    gen.dumps(good[2]) + "\n", gen.dumps(bad_schema) + "\n", "\n", gen.dumps(good[3]) + "\n", "[1, 2]\n",
                    gen.dumps(good[4]) + "\n"])
    path = tmp_path / "mixed.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_header_names_the_identity_the_version_and_every_decision_by_name(tmp_path):
    out = tmp_path / "cases.csv"
    result = run("batch", EXAMPLES, "--out", out, "--jobs", 1)
    assert result.exit_code == 0, result.output
    head = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert head == IDENTITY + sorted(SHANGHAI.decisions) + TRAILING
    assert "wrote 5 rows (5 results, 0 bad records) to" in result.stderr


@pytest.mark.parametrize("source", ["folder", "jsonl"])
def test_each_row_reads_back_to_the_decisions_and_identity_of_the_json_lines(tmp_path, source):
    """The same input to JSON lines and to CSV: row for line, every decision cell decodes to the JSON's value (texts,
    numbers, booleans, lists and maps, no value), with the case's identity, date and version."""
    given = EXAMPLES if source == "folder" else tmp_path / "g.jsonl"
    if source == "jsonl":
        given.write_text("".join(gen.dumps(c) + "\n" for c in gen.generate(120, seed=3)), encoding="utf-8")
    assert run("batch", given, "--out", tmp_path / "o.jsonl", "--jobs", 1).exit_code == 0
    assert run("batch", given, "--out", tmp_path / "o.csv", "--jobs", 1).exit_code == 0
    results, rows = json_lines(tmp_path / "o.jsonl"), table(tmp_path / "o.csv")
    assert len(rows) == len(results) > 0
    kinds = {name: d.type for name, d in SHANGHAI.decisions.items()}
    seen = set()
    for result, row in zip(results, rows):
        assert (row["source"], row["credit_code"], row["name"]) == (result["source"], result["enterprise"]["credit_code"],
                                                                     result["enterprise"]["name"])
        assert (row["as_of"], row["policy"], row["content_hash"]) == (result["as_of"], "shanghai-post-license@2017",
                                                                       result["policy"]["content_hash"])
        for name, value in result["decisions"].items():
            assert decoded(row[name], kinds[name]) == value, (row["source"], name)
            seen.add(type(value).__name__)
        assert row["error_code"] == row["error"] == ""
    assert {"str", "bool", "list", "dict", "NoneType"} <= seen and seen & {"int", "float"}


def test_bad_records_are_rows_at_their_place_with_their_problems_and_identity(tmp_path):
    """No record is lost between the input and the table: a bad one is a row where it was read, with the codes of its
    problems and each problem as stderr says it; its identity when the record was read that far."""
    source = _mixed(tmp_path)
    out = tmp_path / "o.csv"
    result = run("batch", source, "--out", out, "--errors", tmp_path / "e.jsonl", "--jobs", 1)
    assert result.exit_code == 1, result.output
    rows = table(out)
    assert [r["source"] for r in rows] == [f"{source}:{n}" for n in (1, 2, 3, 4, 5, 7, 8, 9)]
    bad = {r["source"].rsplit(":", 1)[1]: r for r in rows if r["error_code"]}
    assert {n: r["error_code"] for n, r in bad.items()} == {"3": "input.syntax", "5": "input.schema", "8": "input.not_mapping"}
    assert bad["3"]["error"].startswith(f"{source}:3:") and ": input.syntax: invalid JSON" in bad["3"]["error"]
    assert "risk_level" in bad["5"]["error"] and bad["5"]["credit_code"] and bad["5"]["name"]
    assert bad["3"]["credit_code"] == "" and all(bad[n][d] == "" for n in bad for d in SHANGHAI.decisions)
    errors = json_lines(tmp_path / "e.jsonl")       # the errors file still has every bad record too
    assert [e["line"] for e in errors] == [3, 5, 8]
    assert "wrote 8 rows (5 results, 3 bad records) to" in result.stderr


def test_a_bad_record_with_several_problems_has_them_each_on_a_line_of_one_cell(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    shutil.copy(REPO / "examples" / "bad-case.yaml", folder / "bad-case.yaml")
    shutil.copy(EXAMPLES / "aa-clean.yaml", folder / "aa-clean.yaml")
    out = tmp_path / "o.csv"
    assert run("batch", folder, "--out", out, "--jobs", 1).exit_code == 1
    rows = table(out)
    assert [Path(r["source"]).name for r in rows] == ["aa-clean.yaml", "bad-case.yaml"]
    problems = rows[1]["error"].split("\n")
    assert rows[1]["error_code"] == "input.schema" and len(problems) == 2
    assert problems[0].startswith(f"{folder / 'bad-case.yaml'}:4:") and "浦东区" in problems[0]
    assert problems[1].startswith(f"{folder / 'bad-case.yaml'}:6:") and "risk_level" in problems[1]
    assert rows[1]["name"] == "上海示例电缆有限公司"


@pytest.mark.parametrize("source", ["folder", "jsonl", "stdin"])
def test_the_table_is_byte_identical_across_jobs_and_runs(tmp_path, source):
    cases = list(gen.generate(150, seed=21))
    text = "".join(gen.dumps(c) + "\n" for c in cases[:70]) + "{not json\n" + "".join(gen.dumps(c) + "\n" for c in cases[70:])
    if source == "folder":
        given = tmp_path / "cases"
        given.mkdir()
        for i, case in enumerate(cases[:40]):
            (given / f"{i:03d}.json").write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
        (given / "017b.yaml").write_text("as_of: [", encoding="utf-8")
    else:
        given = tmp_path / "g.jsonl"
        given.write_text(text, encoding="utf-8")
    outputs = []
    for jobs, chunk in ((1, None), (2, None), (2, 3), (1, None)):
        out = tmp_path / f"o{len(outputs)}.csv"
        args = ["batch", "-" if source == "stdin" else given, "--out", out, "--jobs", jobs] + (["--chunk", chunk] if chunk else [])
        assert run(*args, input=text if source == "stdin" else None).exit_code == 1
        outputs.append(out.read_bytes())
    assert len(set(outputs)) == 1
    rows = table(tmp_path / "o0.csv")
    assert len(rows) == (41 if source == "folder" else 151) and sum(1 for r in rows if r["error_code"]) == 1


def test_the_columns_are_every_version_s_and_a_version_s_row_leaves_the_others_empty(tmp_path):
    """Records dated in 2017's window and in the amendment's: one header, known before the first record, with the
    decision the amendment adds and the one it drops; each row fills the columns of its own version."""
    early, late = dict(next(gen.generate(1, seed=2)), as_of="2019-06-30"), dict(next(gen.generate(1, seed=3)), as_of="2022-06-30")
    source = tmp_path / "two.jsonl"
    source.write_text(gen.dumps(early) + "\n" + gen.dumps(late) + "\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    result = run("batch", source, "--out", out, "--jobs", 1, "--policy-root", AMENDMENT)
    assert result.exit_code == 0, result.output
    rows = table(out)
    assert [r["policy"] for r in rows] == ["shanghai-post-license@2017", "shanghai-post-license@2022-illustration"]
    assert {"online_monitoring_required", "revoke_quality_awards"} <= set(rows[0])
    assert rows[0]["online_monitoring_required"] == "" and rows[1]["online_monitoring_required"] in ("true", "false")
    assert rows[0]["revoke_quality_awards"] in ("true", "false") and rows[1]["revoke_quality_awards"] == ""


def test_a_text_a_spreadsheet_would_run_as_a_formula_is_kept_as_text(tmp_path):
    case = dict(next(gen.generate(1, seed=5)))
    case["enterprise"] = dict(case["enterprise"], name='=HYPERLINK("http://x","y")')
    source = tmp_path / "f.jsonl"
    source.write_text(gen.dumps(case) + "\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    assert run("batch", source, "--out", out, "--jobs", 1).exit_code == 0
    assert table(out)[0]["name"] == "'=HYPERLINK(\"http://x\",\"y\")"


def test_the_table_is_utf8_and_starts_with_a_byte_order_mark_only_when_asked(tmp_path):
    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.CSV"
    assert run("batch", EXAMPLES, "--out", plain, "--jobs", 1).exit_code == 0
    assert run("batch", EXAMPLES, "--out", marked, "--jobs", 1, "--bom").exit_code == 0
    assert not plain.read_bytes().startswith(b"\xef\xbb\xbf") and "上海浦江特种电缆有限公司" in plain.read_text(encoding="utf-8")
    assert marked.read_bytes() == b"\xef\xbb\xbf" + plain.read_bytes()


# (what, the command line after INPUT, the option at fault, the words of the refusal)
REFUSED = [
    ("--bom for JSON lines", ["--out", "{tmp}/o.jsonl", "--bom"], "--bom",
     "a byte-order mark starts a CSV table: give it with --out OUT.csv"),
    ("--bom to stdout", ["--out", "-", "--bom"], "--bom", "a byte-order mark starts a CSV table: give it with --out OUT.csv"),
    ("a why for a table", ["--out", "{tmp}/o.csv", "--explain", "full"], "--explain",
     "{tmp}/o.csv is a CSV table, which keeps each decision's value, not its why: leave out --explain, or write JSON lines "
     "(--out OUT.jsonl) to keep the why"),
    ("a bare --explain for a table", ["--out", "{tmp}/o.csv", "--explain"], "--explain",
     "{tmp}/o.csv is a CSV table, which keeps each decision's value, not its why"),
]


@pytest.mark.parametrize("args,option,said", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_what_a_table_cannot_carry_is_refused_before_any_work(tmp_path, args, option, said):
    result = run("batch", EXAMPLES, *[a.format(tmp=tmp_path) for a in args], "--jobs", 1)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"regcode batch: {option}: {said.format(tmp=tmp_path)}") and len(result.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_explain_none_is_what_a_table_keeps_anyway(tmp_path):
    assert run("batch", EXAMPLES, "--out", tmp_path / "a.csv", "--jobs", 1).exit_code == 0
    assert run("batch", EXAMPLES, "--out", tmp_path / "b.csv", "--jobs", 1, "--explain", "none").exit_code == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_a_folder_that_cannot_be_listed_is_a_row_too(tmp_path, locked_folders):
    folder = tmp_path / "cases"
    (folder / "locked").mkdir(parents=True)
    (folder / "a.yaml").write_text(yaml.safe_dump(yaml.safe_load((EXAMPLES / "aa-clean.yaml").read_text(encoding="utf-8")),
                                                  allow_unicode=True), encoding="utf-8")
    out = tmp_path / "o.csv"
    result = run("batch", folder, "--out", out, "--jobs", 1)
    assert result.exit_code == 1, result.output
    rows = table(out)
    assert [(r["source"], r["error_code"]) for r in rows] == [(str(folder / "locked"), "input.io"), (str(folder / "a.yaml"), "")]
    assert "read 2, evaluated 1, failed 1" in result.stderr and "wrote 2 rows (1 result, 1 bad record)" in result.stderr


def test_notes_of_a_result_are_in_its_row(tmp_path):
    """The C-class example with a spot check of a category no license has ('电缆' for '电线电缆'): its JSON has a
    note, and so has its row, as path: code: message (hint); the clean example's row has none."""
    from regcode.engine.load import load_case_file
    case = load_case_file(EXAMPLES / "c-class-triggers.yaml").data
    item = next(i for i, x in enumerate(case["spot_checks"]) if x["category"] == "电线电缆")
    case["spot_checks"][item]["category"] = "电缆"
    source = tmp_path / "n.jsonl"
    source.write_text(gen.dumps(case) + "\n" + gen.dumps(load_case_file(EXAMPLES / "aa-clean.yaml").data) + "\n",
                      encoding="utf-8")
    assert run("batch", source, "--out", tmp_path / "o.jsonl", "--jobs", 1).exit_code == 0
    assert run("batch", source, "--out", tmp_path / "o.csv", "--jobs", 1).exit_code == 0
    (note,) = json_lines(tmp_path / "o.jsonl")[0]["notes"]
    rows = table(tmp_path / "o.csv")
    assert rows[0]["notes"] == f"{note['path']}: {note['code']}: {note['message']} ({note['hint']})"
    assert note["path"] == f"spot_checks[{item}].category" and rows[1]["notes"] == ""


@needs_durable
def test_the_table_is_the_same_bytes_on_both_backends(tmp_path):
    source = tmp_path / "g.jsonl"
    source.write_text("".join(gen.dumps(c) + "\n" for c in gen.generate(60, seed=17)), encoding="utf-8")
    for backend in ("python", "durable"):
        assert run("batch", source, "--out", tmp_path / f"{backend}.csv", "--jobs", 1, "--backend", backend).exit_code == 0
    assert (tmp_path / "python.csv").read_bytes() == (tmp_path / "durable.csv").read_bytes()
