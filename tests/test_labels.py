"""Decisions' `labels:` (value -> how a reader names it): shown beside the values in text and pages, never in the
JSON (whose values are the contract's codes); each label checked against the values declared, every mistake at once."""
from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli import commands  # noqa: F401
from regcode.cli.main import regcode
from regcode.engine import Catalog

from conftest import FIXTURES, REPO, TEST_POLICIES

DECLARATIONS = yaml.safe_load((FIXTURES / "labels" / "declarations.yaml").read_text(encoding="utf-8"))
CASE = REPO / "examples" / "cases" / "c-class-triggers.yaml"


def _toy_with(tmp_path, labels: dict):
    """The toy policy with `labels` added to its decisions, each as a block under its decision; returns the
    version folder and the line of each labelled value (decision, value) -> line."""
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    shutil.rmtree(root / "toy" / "1" / "tests")
    file = root / "toy" / "1" / "decisions.yaml"
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    for name, given in labels.items():
        data["decisions"][name]["labels"] = given
    file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False), encoding="utf-8")
    lines = file.read_text(encoding="utf-8").splitlines()
    where, current = {}, None
    for n, line in enumerate(lines, 1):
        if re.match(r"^  [a-z_]+:$", line):
            current = line.strip()[:-1]
        elif line.strip() == "labels:":
            where[(current, None)] = n + 1        # a mistake of the whole mapping is said at its first entry
        elif (m := re.match(r"^      ['\"]?([^'\":]+)['\"]?: ", line)) and current in labels:
            where[(current, m.group(1))] = n
    return root / "toy" / "1", where


@pytest.mark.parametrize("fixture", DECLARATIONS, ids=[d["name"] for d in DECLARATIONS])
def test_each_label_is_a_declared_value(tmp_path, fixture):
    version, where = _toy_with(tmp_path, fixture["labels"])
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", str(version)])
    if not fixture["expect"]:
        assert result.exit_code == 0, result.output
        policy = Catalog([version.parent.parent]).by_ref("toy@1")
        assert {n: d.labels for n, d in policy.decisions.items() if d.labels} == fixture["labels"]
        return
    assert result.exit_code == 1, result.output
    errors = [e for e in json.loads(result.stdout)["versions"][0]["errors"] if e["location"]["file"].endswith("decisions.yaml")]
    assert len(errors) == len(fixture["expect"]), errors
    for want, err in zip(fixture["expect"], errors):
        assert err["code"] == want["code"] and want["message"] in err["message"] and want["hint"] in err["hint"], err
        decision = next(d for d in fixture["labels"] if want["key"] is None or want["key"] in fixture["labels"][d])
        assert err["location"]["line"] == where[(decision, want["key"])], (err, where)


def test_the_text_shows_each_value_with_its_label_and_the_json_keeps_the_codes():
    text = CliRunner().invoke(regcode, ["eval", str(CASE)])
    assert text.exit_code == 0
    lines = {line.split()[0]: line for line in text.stdout.splitlines()[1:]}
    assert lines["supervision_mode"].endswith("strict (加严监管)")
    assert lines["classification"].endswith("c (C类)")
    assert lines["category_classes"].endswith("电线电缆: c (C类)")
    assert "penalty (受到产品质量行政处罚)" in lines["downgrade_reasons"]
    assert lines["competent_authority"].endswith("宝山区")          # a string decision: no labels, as it was
    data = CliRunner().invoke(regcode, ["eval", str(CASE), "--format", "json"]).stdout
    decisions = json.loads(data)["decisions"]
    assert (decisions["supervision_mode"], decisions["category_classes"]) == ("strict", {"电线电缆": "c"})
    assert "strict (加严监管)" not in data and "c (C类)" not in data and '"labels"' not in data


def test_the_page_and_the_site_show_the_labels(tmp_path):
    page = CliRunner().invoke(regcode, ["eval", str(CASE), "--format", "html"]).stdout
    assert '<div class="dlabel" lang="zh-Hans">加严监管</div>' in page and '<div class="dlabel" lang="zh-Hans">电线电缆：C类</div>' in page
    assert CliRunner().invoke(regcode, ["site", "--out", str(tmp_path / "site")]).exit_code == 0
    version = (tmp_path / "site" / "shanghai-post-license" / "2017" / "index.html").read_text(encoding="utf-8")
    assert "<code>strict</code> 加严监管" in version and "<code>aa</code> AA类" in version


def test_every_label_of_the_shipped_policy_names_a_value_and_every_enum_value_has_one():
    """The shipped policy labels every value of its enum and list decisions (a value without one would show bare)."""
    policy = Catalog().select("shanghai-post-license", "2019-06-30")
    for name, decl in policy.decisions.items():
        members = decl.values if decl.type in ("enum", "list") or decl.value_type == "enum" else None
        if members:
            assert decl.labels is not None and sorted(decl.labels) == sorted(map(str, members)), name


def test_a_boolean_or_number_value_is_labelled_as_any_other_and_a_label_cannot_break_the_line():
    from regcode.engine.explain import _labelled
    from regcode.engine.html import value_label
    labels = {"True": "是", "False": "否", "3": "三级"}
    assert (_labelled(True, labels), _labelled(False, labels), _labelled(3, labels)) == ("true (是)", "false (否)", "3 (三级)")
    assert (value_label(True, labels), value_label([3, 4], labels), value_label({"甲": 3}, labels)) == ("是", "三级", "甲：三级")
    assert _labelled(None, labels) == "—" and _labelled([], labels) == "(none)" and value_label(None, labels) == ""
    assert _labelled("x", {"x": "a\nb\x1b[31m"}) == "x (a\\nb\\x1b[31m)"     # one line, escapes shown
