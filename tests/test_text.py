"""The law's text as data (ArticleText): faithful to its source, every citation resolves, clause addresses, inheritance."""
from __future__ import annotations

import hashlib
import re
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from regcode.engine import Catalog, CompileError
from regcode.engine import _text
from regcode.engine.diff import static_diff

from conftest import FIXTURES, REPO

SHANGHAI = REPO / "policies" / "shanghai-post-license" / "2017"
AMENDMENT = REPO / "examples" / "amendment" / "policies"
CLAUSES = yaml.safe_load((FIXTURES / "clauses.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def shanghai():
    return Catalog().by_ref("shanghai-post-license@2017")


@pytest.fixture(scope="module")
def amendment_catalog():
    return Catalog([AMENDMENT])


def _no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_text_joined_back_is_its_source_character_for_character(shanghai):
    source = shanghai.text["source"]
    raw = (SHANGHAI / source["file"]).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == source["sha256"], "text.yaml names the source it was split from"
    original = raw.decode("utf-8-sig")
    joined = _text.joined(shanghai.text)
    assert _no_space(joined) == _no_space(original)
    assert len(_no_space(original)) > 6500   # the whole document (6,981 characters), not a stub


def test_the_source_copy_is_the_regulation_in_shared_when_that_is_beside_the_repo():
    shared = REPO.parent / "shared" / "regulation" / "shanghai-2016-post-license-supervision.zh.txt"
    copy = SHANGHAI / "source" / shared.name
    assert copy.is_file()
    if shared.is_file():   # a clone without shared/ beside it still checks the copy above
        assert copy.read_bytes() == shared.read_bytes()


def test_every_article_of_the_measures_is_split_into_its_paragraphs_items_and_subitems(shanghai):
    articles = shanghai.text["articles"]
    assert [a["article"] for a in articles] == [f"第{_text.zh_numeral(n)}条" for n in range(1, 55)]
    by = {a["article"]: a for a in articles}
    assert len(by["第八条"]["paragraphs"]) == 7
    assert [len(p.get("items", [])) for p in by["第二十九条"]["paragraphs"]] == [0, 6]
    assert [len(i.get("subitems", [])) for i in by["第三十条"]["paragraphs"][0]["items"]] == [3, 3, 3, 4]
    for a in articles:   # items keep their markers, so their positions are the law's numbers
        for p in a["paragraphs"]:
            for n, item in enumerate(p.get("items", []), 1):
                assert item["text"].startswith(f"（{_text.zh_numeral(n)}）"), (a["article"], item["text"])
                for k, sub in enumerate(item.get("subitems", []), 1):
                    assert sub["text"].startswith(f"{k}．"), (a["article"], sub["text"])


@pytest.mark.parametrize("ref,root", [("shanghai-post-license@2017", None),
                                      ("shanghai-post-license@2022-illustration", AMENDMENT)])
def test_every_rule_and_parameter_citation_resolves_to_text_in_the_policy(ref, root):
    policy = Catalog([root] if root else []).by_ref(ref)
    by = {a["article"]: a for a in policy.text["articles"]}
    cited = [("rule " + r["id"], r["article"], r.get("clause", "")) for r in policy.resolved["rules"]]
    cited += [("parameter " + n, p["article"], p.get("clause", "")) for n, p in policy.resolved["parameters"].items() if p.get("article")]
    assert len(cited) > 60          # 58 rules and 12 parameters cite an article in the 2017 version
    for what, article, clause in cited:
        assert article in by, f"{what} cites {article}, not in the text"
        units, error = _text.resolve(by[article], clause) if clause else ([()], None)
        assert error is None and units, f"{what}: {article} {clause}: {error}"
        for unit in units:
            assert (_text.unit_text(by[article], unit) if unit else _text.article_lines(by[article])), (what, unit)


@pytest.mark.parametrize("case", CLAUSES, ids=[f"{c['article']} {c['clause']}" for c in CLAUSES])
def test_clause_addresses_resolve_to_units(case, shanghai):
    article = next(a for a in shanghai.text["articles"] if a["article"] == case["article"])
    units, error = _text.resolve(article, case["clause"])
    if "error" in case:
        assert units == [] and error and case["error"] in error, error
    else:
        assert error is None, error
        assert [list(u) for u in units] == case["units"], case.get("why", "")


def test_a_range_is_bounded():
    article = {"article": "第一条", "paragraphs": [{"text": "x", "items": [{"text": "i"}] * 3}]}
    assert "spans more than" in _text.resolve(article, "第一项至第九百项")[1]
    assert "longer than" in _text.resolve(article, "第一项、" * 200)[1]


def test_chinese_numerals_round_trip():
    for n in range(1, 1000):
        assert _text.zh_number(_text.zh_numeral(n)) == n, n
    assert _text.zh_numeral(54) == "五十四" and _text.zh_numeral(10) == "十" and _text.zh_numeral(105) == "一百零五"
    assert _text.zh_number("两") == 2 and _text.zh_number("x") is None


def test_an_extending_version_inherits_the_text_and_replaces_articles(amendment_catalog):
    old = amendment_catalog.by_ref("shanghai-post-license@2017")
    new = amendment_catalog.by_ref("shanghai-post-license@2022-illustration")
    o = {a["article"]: a for a in old.text["articles"]}
    n = {a["article"]: a for a in new.text["articles"]}
    assert list(n) == list(o), "same articles, same order"
    replaced = sorted(k for k in n if n[k]["version"] != "shanghai-post-license@2017")
    assert replaced == ["第三十条", "第二十九条"]
    assert n["第三十条"]["replaces"] == "shanghai-post-license@2017"
    assert n["第八条"] == o["第八条"]
    assert new.text["preamble"] == old.text["preamble"]
    # the new rule cites a sub-item that only the replaced text has
    units, error = _text.resolve(n["第三十条"], "第三项第4目、第四项第4目")
    assert error is None and "网络销售" in _text.unit_text(n["第三十条"], units[0])
    assert "no 第4目" in _text.resolve(o["第三十条"], "第三项第4目")[1]
    changes = static_diff(old, new)["text"]
    assert [(c["article"], c["status"]) for c in changes] == [("第二十九条", "changed"), ("第三十条", "changed")]


def _extending(tmp_path: Path, text: str, rules: str = "") -> Path:
    root = tmp_path / "policies"
    version = root / "shanghai-post-license" / "2099-test"
    version.mkdir(parents=True)
    (version / "policy.yaml").write_text(textwrap.dedent("""\
        apiVersion: regcode/v1
        kind: Policy
        id: shanghai-post-license
        version: 2099-test
        title: 测试用修订
        illustration: true
        source: {issuer: regcode tests, date: 2099-01-01}
        effective_from: 2099-01-01
        extends: shanghai-post-license@2017
        """), encoding="utf-8")
    (version / "text.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    if rules:
        (version / "rules.yaml").write_text(textwrap.dedent(rules), encoding="utf-8")
    return root


def test_an_extending_version_may_add_and_remove_articles(tmp_path):
    root = _extending(tmp_path, """\
        apiVersion: regcode/v1
        kind: ArticleText
        remove: [第五十三条]
        articles:
          - {article: 第五十五条, chapter: 第六章 附则, paragraphs: [{text: 本条为测试新增。}]}
        """)
    index = yaml.safe_load((SHANGHAI / "articles.yaml").read_text(encoding="utf-8"))
    index = {"apiVersion": index["apiVersion"], "kind": index["kind"], "remove": ["第五十三条"],   # the rest is inherited
             "articles": [{"article": "第五十五条", "title": "测试", "status": "not_decidable", "reason": "a test"}]}
    (root / "shanghai-post-license" / "2099-test" / "articles.yaml").write_text(yaml.safe_dump(index, allow_unicode=True), encoding="utf-8")
    policy = Catalog([root]).by_ref("shanghai-post-license@2099-test")
    names = [a["article"] for a in policy.text["articles"]]
    assert "第五十三条" not in names and names[-2:] == ["第五十四条", "第五十五条"]
    listed = [a["article"] for a in policy.articles]
    assert "第五十三条" not in listed and listed[listed.index("第五十四条") + 1] == "第五十五条"   # where its number puts it
    assert len(listed) == len(yaml.safe_load((SHANGHAI / "articles.yaml").read_text(encoding="utf-8"))["articles"])


def test_removing_an_article_a_rule_still_cites_is_reported_at_the_rule(tmp_path):
    root = _extending(tmp_path, """\
        apiVersion: regcode/v1
        kind: ArticleText
        remove: [第四十七条, 第九十条]
        """)
    with pytest.raises(CompileError) as info:
        Catalog([root]).by_ref("shanghai-post-license@2099-test")
    messages = [str(i) for i in info.value.issues]
    assert any("cannot remove 第九十条" in m and "text.yaml:3" in m for m in messages), messages
    # compile stops after the pass that found the bad remove; fix it and the citations are checked
    root2 = _extending(tmp_path / "b", """\
        apiVersion: regcode/v1
        kind: ArticleText
        remove: [第四十七条]
        """)
    with pytest.raises(CompileError) as info:
        Catalog([root2]).by_ref("shanghai-post-license@2099-test")
    codes = {(i.code, i.message.split(":")[0]) for i in info.value.issues}
    assert ("compile.clause", "rule `sample-sent-within-seven-days` cites 第四十七条, which the text of this version does not have") in codes
    assert any(i.code == "compile.text" and "第四十七条 is in the article index" in i.message for i in info.value.issues)


def test_a_version_without_text_is_compiled_without_citation_checks(tmp_path):
    from conftest import TEST_POLICIES
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    (root / "toy" / "1" / "text.yaml").unlink()
    (root / "toy" / "1" / "rules" / "cited.yaml").write_text(textwrap.dedent("""\
        apiVersion: regcode/v1
        kind: Rules
        rules:
          - {id: cites-a-ninth-paragraph, article: 第二条, clause: 第九款, title: 无文本可查, then: [{decide: eligible, value: true}]}
        """), encoding="utf-8")
    policy = Catalog([root]).by_ref("toy@1")
    assert policy.text is None and any(r.id == "cites-a-ninth-paragraph" for r in policy.rules)


def test_the_text_is_not_part_of_the_content_hash(tmp_path):
    root = tmp_path / "policies"
    shutil.copytree(SHANGHAI.parent, root / "shanghai-post-license")
    text = root / "shanghai-post-license" / "2017" / "text.yaml"
    text.write_text(text.read_text(encoding="utf-8").replace("制定本办法。", "制定本办法（改）。"), encoding="utf-8")
    changed = Catalog([root]).by_ref("shanghai-post-license@2017")
    assert changed.content_hash == Catalog().by_ref("shanghai-post-license@2017").content_hash
    assert "（改）" in changed.text["articles"][0]["paragraphs"][0]["text"]


@pytest.mark.parametrize("article,hint", [("第29条", "did you mean `第二十九条`?"), ("第8条", "did you mean `第八条`?"),
                                          ("第99条", ""), ("附件1", "did you mean `附件一`?")])
def test_an_article_in_arabic_numerals_is_matched_by_its_number(article, hint, shanghai):
    names = [a["article"] for a in shanghai.text["articles"]] + ["附件一"]
    assert _text.near_article(article, names) == hint


@pytest.mark.parametrize("article,clause,near", [("第八条", "第八款", "第七款"), ("第二十九条", "第二款第七项", "第二款第六项"),
                                                 ("第三十条", "第四项第9目", "第四项第4目"), ("第三十三条", "第九项", "第五项"),
                                                 ("第八条", "第一项", None)])
def test_a_unit_past_the_end_is_answered_with_the_last_one_there(article, clause, near, shanghai):
    entry = next(a for a in shanghai.text["articles"] if a["article"] == article)
    assert _text.nearest(entry, clause) == near
    if near:
        assert _text.resolve(entry, near)[1] is None


# ---- text.yaml's source: the file it names, and its SHA-256 -------------------------------------
def _copy_shanghai(tmp_path: Path) -> Path:
    version = tmp_path / "policies" / "shanghai-post-license" / "2017"
    shutil.copytree(SHANGHAI, version, ignore=shutil.ignore_patterns("tests"))
    return version


def _rename_source(version, tmp_path, name):
    text = version / "text.yaml"
    text.write_text(re.sub(r"(?m)^  file: .*$", f"  file: {name}", text.read_text(encoding="utf-8")), encoding="utf-8")


def _change_source(version, tmp_path):
    source = next((version / "source").glob("*.txt"))
    source.write_bytes(source.read_bytes() + b"\n")


def _link_source_out(version, tmp_path):
    source = next((version / "source").glob("*.txt"))
    outside = tmp_path / "outside.txt"
    shutil.copy(source, outside)
    source.unlink()
    source.symlink_to(outside)


SOURCE_PROBLEMS = [   # (mode, what is done to the copy, code, line in text.yaml, fragment of the message or hint)
    ("a file that does not exist", lambda v, t: _rename_source(v, t, "source/nosuch.txt"), "schema.source", 11, "does not exist"),
    ("a name one letter off", lambda v, t: _rename_source(v, t, "source/shanghai-2016-post-license-supervision.zh.tx"),
     "schema.source", 11, "did you mean `source/shanghai-2016-post-license-supervision.zh.txt`?"),
    ("a folder", lambda v, t: _rename_source(v, t, "source"), "schema.source", 11, "is a folder, not a file"),
    ("a link leaving the version folder", _link_source_out, "schema.source", 11, "leads outside the version folder"),
    ("a file that is not the one the text was split from", _change_source, "schema.sha256", 12, "the SHA-256 of"),
]


@pytest.mark.parametrize("change,code,line,fragment", [p[1:] for p in SOURCE_PROBLEMS], ids=[p[0] for p in SOURCE_PROBLEMS])
def test_the_source_file_of_the_text_is_checked_at_its_line(tmp_path, change, code, line, fragment):
    from regcode.engine import PolicyError
    version = _copy_shanghai(tmp_path)
    Catalog([tmp_path / "policies"]).compile_dir(version)      # fine as copied (and now cached: the check must still run)
    change(version, tmp_path)
    with pytest.raises(PolicyError) as info:
        Catalog([tmp_path / "policies"]).compile_dir(version)
    [issue] = info.value.issues
    assert (issue.code, Path(issue.location.file).name, issue.location.line) == (code, "text.yaml", line), str(issue)
    assert fragment in issue.message + issue.hint, str(issue)


def test_a_changed_source_names_the_hash_it_has_and_hides_no_compile_error(tmp_path):
    from regcode.engine import PolicyError
    version = _copy_shanghai(tmp_path)
    _change_source(version, tmp_path)
    rules = version / "rules" / "ch1-general.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("path: lic.food_related,", "path: lic.food_relatd,", 1), encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        Catalog([tmp_path / "policies"]).compile_dir(version)
    digest = hashlib.sha256(next((version / "source").glob("*.txt")).read_bytes()).hexdigest()
    assert {i.code for i in info.value.issues} == {"schema.sha256", "compile.unknown_path"}
    assert any(digest in i.message for i in info.value.issues)
