"""A map decision claimed whole into another (`value: {decision: MAP}` with no `key:`): each entry of the map
copied is a claim for its own key, combined with the other claims of that key by the decision's strategy, on
both backends alike. The policy is tests/fixtures/maps/1 (its cases in tests/cases.yaml also run under pytest);
a copy that does not fit is refused at its value, as fixtures here."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import Catalog, Document, dump_json, evaluate_case
from regcode.engine.testing import discover

from conftest import FIXTURES, needs_durable

MAPS = FIXTURES / "maps"
CASES = [c.data for c in discover(MAPS / "1")]     # read as `regcode test` reads them (dates stay text)


@needs_durable
@pytest.mark.parametrize("explain", ["none", "full"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_both_backends_write_the_same_bytes_for_a_whole_map_claim(case, explain):
    cat = Catalog([FIXTURES])
    doc = Document("case.yaml", case["facts"])
    python, durable = (dump_json(evaluate_case(cat, doc, "maps", None, None, backend, explain)) for backend in ("python", "durable"))
    assert python == durable
    out = json.loads(python)
    assert {k: out["decisions"][k] for k in case["expect"]} == case["expect"]
    if explain == "full" and case["facts"].get("shops"):     # one claim per entry copied, each naming its key
        copied = [e for e in out["why"]["labels"] if e["rule"] == "label-grades"]
        assert sorted(e["key"] for e in copied) == sorted(out["decisions"]["grades"])


REFUSED = [   # (a rule's `then`, the code, where in the rule's line it is said, a fragment of the message)
    ("{decide: wrong, value: {decision: grades}}", "compile.type",
     "`wrong` takes a number for each key, but the entries of map `grades` are one of low, mid, high"),
    ("{decide: published, value: {decision: labels}}", "compile.type",
     "`published` takes one of low, mid, high for each key, but the entries of map `labels` are a string"),
    ("{decide: grades, value: {decision: any_high}}", "compile.map_key", "`grades` is a map: say which entry with `key:`"),
    ("{decide: any_high, value: {decision: grades}}", "compile.map_key", "`grades` is a map: say which entry with `key:`"),
    ("{decide: grades, value: {decision: grades}}", "compile.cycle", "rule `extra` reads `grades`, which it claims itself"),
]


@pytest.mark.parametrize("then,code,words", REFUSED, ids=[r[0] for r in REFUSED])
def test_a_whole_map_claim_that_does_not_fit_is_refused_at_the_rule(tmp_path, then, code, words):
    version = tmp_path / "maps" / "1"
    shutil.copytree(MAPS / "1", version, ignore=shutil.ignore_patterns("tests"))
    with open(version / "rules.yaml", "a", encoding="utf-8") as out:
        out.write(f"  - id: extra\n    article: 第一条\n    title: t\n    then: [{then}]\n")
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", str(version)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    (error,) = json.loads(result.stdout)["versions"][0]["errors"]
    assert error["code"] == code and words in error["message"], error
    assert error["location"]["file"].endswith("rules.yaml") and error["location"]["line"] in (32, 35), error
