"""The HTML outputs without a browser: the site's links all resolve inside it, nothing is fetched from elsewhere,
output is deterministic, policy and case text is escaped, and the self-contained pages allow only their own code."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import Catalog
from regcode.engine import html as render

from conftest import REPO, TEST_POLICIES

AMENDMENT = REPO / "examples" / "amendment" / "policies"
CASE = REPO / "examples" / "cases" / "c-class-triggers.yaml"
MARKUP = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


class Page(HTMLParser):
    """The ids, links, resources and inline scripts of one HTML file."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links, self.resources, self.scripts, self.styles = set(), [], [], [], []
        self._in = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        for attr in ("src", "srcset", "poster", "data"):
            if attr in a:
                self.resources.append(a[attr])
        if tag == "link" and "href" in a:
            self.resources.append(a["href"])
        if tag in ("script", "style") and "src" not in a:
            self._in = tag
            (self.scripts if tag == "script" else self.styles).append("")
        for name in a:
            assert not name.startswith("on"), f"an inline event handler <{tag} {name}> in our own markup"

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in == "style":
            self.styles[-1] += data


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    result = CliRunner().invoke(regcode, ["site", "--policy-root", str(AMENDMENT), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 8 pages and 3 assets" in result.stdout
    return out


def test_every_link_of_the_site_resolves_inside_it_and_nothing_comes_from_elsewhere(site):
    pages = {p: parse(p) for p in site.rglob("*.html")}
    assert len(pages) == 8
    checked = 0
    for path, page in pages.items():
        for ref in page.resources:
            assert not urlsplit(ref).scheme and not ref.startswith("//"), f"{path}: {ref} is not in the site"
            target = (path.parent / ref).resolve()
            assert target.is_file() and site.resolve() in target.parents, f"{path}: {ref} is missing"
        for href in page.links:
            parts = urlsplit(href)
            assert not parts.scheme, f"{path}: a link out of the site: {href}"
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path.resolve()
            assert target.is_file() and site.resolve() in target.parents, f"{path}: {href} goes nowhere"
            if parts.fragment:
                assert unquote(parts.fragment) in pages[Path(target)].ids, f"{path}: {href}: no such anchor"
            checked += 1
    assert checked > 1000
    css = (site / "assets" / "regcode.css").read_text(encoding="utf-8")
    assert "url(" not in css and "@import" not in css
    js = (site / "assets" / "regcode.js").read_text(encoding="utf-8")
    assert "fetch(" not in js and "XMLHttpRequest" not in js and "innerHTML" not in js


def test_the_search_index_is_a_script_file_with_every_article_and_rule(site):
    text = (site / "assets" / "search-index.js").read_text(encoding="utf-8")
    assert text.startswith("window.REGCODE_SEARCH = ") and text.rstrip().endswith(";")
    entries = json.loads(text[len("window.REGCODE_SEARCH = "):].rstrip().rstrip(";"))
    policy = Catalog().by_ref("shanghai-post-license@2017")
    mine = [e for e in entries if e["v"] == policy.ref]
    assert {e["t"].split(" ")[0] for e in mine if e["k"] == "rule"} == {r.id for r in policy.rules}
    assert len([e for e in mine if e["k"] == "article"]) == len(policy.articles)
    assert any("专项检查" in e["x"] for e in mine if e["k"] == "article")


def test_building_the_site_twice_gives_byte_identical_files(site, tmp_path):
    again = tmp_path / "again"
    assert CliRunner().invoke(regcode, ["site", "--policy-root", str(AMENDMENT), "--out", str(again)]).exit_code == 0
    first = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first == second


def test_each_version_page_lists_every_article_and_every_rule_under_its_article(site):
    for ref in ("shanghai-post-license@2017", "shanghai-post-license@2022-illustration"):
        policy = Catalog([AMENDMENT]).by_ref(ref)
        html = (site / policy.id / policy.version / "index.html").read_text(encoding="utf-8")
        blocks = re.findall(r'<article class="art [^"]*" id="([^"]+)" data-status="[^"]+" data-article="([^"]+)"(.*?)</article>', html, re.S)
        assert [b[1] for b in blocks] == [a["article"] for a in policy.articles]
        for rule in policy.rules:
            homes = [b[1] for b in blocks if f'id="rule-{rule.id}"' in b[2]]
            assert homes == [rule.article], (rule.id, homes)


def test_the_versions_page_shows_what_regcode_diff_shows(site):
    html = (site / "shanghai-post-license" / "versions.html").read_text(encoding="utf-8")
    for fragment in ("online-sales-monitoring", "c-revoke-quality-awards", "special-inspection-complaint", "complaint_window_years",
                     "credit_sampling_ratio", "online_monitoring_required", "enterprise.online_sales", "changed: 第三十条"):
        assert fragment in html, fragment
    assert re.search(r"<ins>[^<]*（示例新增）[^<]*</ins>", html) and re.search(r"<del>[^<]*</del>", html)   # the amended text as a redline


def test_the_parameters_page_shows_dated_values_as_a_timeline(tmp_path):
    out = tmp_path / "toy-site"
    result = CliRunner().invoke(regcode, ["site", "toy@1", "--policy-root", str(TEST_POLICIES), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "toy" / "1" / "parameters.html").read_text(encoding="utf-8")
    entry = html.split('id="param-high_risk_surcharge"', 1)[1].split("</section>", 1)[0]
    assert re.search(r"<b>200</b> from 2020-01-01 to 2020-06-30", entry)
    assert re.search(r"<b>250</b> from 2020-07-01 to 2020-12-31", entry)
    assert "high-risk-surcharge" in entry   # the rule that reads it


def _policy_with_markup(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    rules = root / "toy" / "1" / "rules" / "fees.yaml"
    data = yaml.safe_load(rules.read_text(encoding="utf-8"))
    data["rules"][0]["note"] = "A note with markup: " + MARKUP
    data["rules"][0]["title"] = "基本费用 <b>bold?</b>"
    rules.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    text = root / "toy" / "1" / "text.yaml"
    text.write_text(text.read_text(encoding="utf-8").replace("基本费用为一百元。", "基本费用为一百元。" + MARKUP.replace('"', "'")), encoding="utf-8")
    return root


def test_markup_in_a_policy_is_escaped_in_the_site(tmp_path):
    root = _policy_with_markup(tmp_path)
    out = tmp_path / "site"
    assert CliRunner().invoke(regcode, ["site", "toy@1", "--policy-root", str(root), "--out", str(out)]).exit_code == 0
    for path in out.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        assert "__pwned" not in "".join(parse(path).scripts), path
        assert "<script>window.__pwned" not in html and "<img src=x" not in html and "<b>bold?</b>" not in html, path
    page = (out / "toy" / "1" / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page and "&lt;b&gt;bold?&lt;/b&gt;" in page
    index = (out / "assets" / "search-index.js").read_text(encoding="utf-8")
    assert "<" not in index and "\\u003cscript\\u003e" in index   # no way out of the script, even as a file


def test_no_template_marks_anything_safe():
    for template in (Path(render.__file__).parent / "templates").glob("*.j2"):
        text = template.read_text(encoding="utf-8")
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text, template
    env = render.environment()
    assert env.autoescape is True


def _eval_html(*args, **kw):
    return CliRunner().invoke(regcode, ["eval", "--format", "html", *map(str, args)], **kw)


def _csp_allows_exactly_the_inline_code(path: Path) -> None:
    html = path.read_text(encoding="utf-8")
    page = parse(path)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    digest = lambda s: "sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode()
    assert len(page.scripts) == 1 and len(page.styles) == 1
    assert f"script-src '{digest(page.scripts[0])}'" in csp and f"style-src '{digest(page.styles[0])}'" in csp
    assert "default-src 'none'" in csp


def test_an_eval_page_is_one_self_contained_file(tmp_path):
    result = _eval_html(CASE)
    assert result.exit_code == 0, result.output
    path = tmp_path / "eval.html"
    path.write_text(result.stdout, encoding="utf-8")
    page = parse(path)
    assert page.resources == []
    assert all(h.startswith("#") for h in page.links), [h for h in page.links if not h.startswith("#")][:3]
    assert all(h[1:] in page.ids for h in page.links), "every link points at something on the page"
    _csp_allows_exactly_the_inline_code(path)
    html = result.stdout
    assert "上海联鑫线缆有限公司" in html and 'id="p0-art-8-p5"' in html   # the article text is inline
    assert "C类企业：是指履行产品质量主体责任保障能力较差的企业" in html


def test_an_eval_page_links_to_a_site_when_asked(tmp_path):
    result = _eval_html(CASE, "--site-url", "../site")
    assert result.exit_code == 0, result.output
    assert 'href="../site/shanghai-post-license/2017/index.html#art-8-p5"' in result.stdout
    assert 'id="p0-art-8' not in result.stdout   # no inline text then


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "JAVASCRIPT:alert(1)"])
def test_a_site_url_that_would_run_code_is_refused(url):
    result = _eval_html(CASE, "--site-url", url)
    assert result.exit_code == 1 and "input.site_url" in result.stderr and "Traceback" not in result.output


def test_a_case_holding_markup_is_escaped_in_the_eval_page(tmp_path):
    case = yaml.safe_load(CASE.read_text(encoding="utf-8"))
    case["enterprise"]["name"] = MARKUP
    case["licenses"][0]["category"] = "<script>window.__pwned = 3</script>"
    case["licenses"][0]["product"] = "</textarea></style></script><svg onload=window.__pwned=4>"
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(case, allow_unicode=True), encoding="utf-8")
    result = _eval_html(path)
    assert result.exit_code == 0, result.output
    html = result.stdout
    assert "<script>window" not in html and "<svg" not in html and "<img" not in html
    assert "&lt;script&gt;window.__pwned = 3&lt;/script&gt;" in html
    out = tmp_path / "hostile.html"
    out.write_text(html, encoding="utf-8")
    assert "__pwned" not in "".join(parse(out).scripts)


def test_a_diff_page_is_self_contained_and_shows_the_corpus_changes(tmp_path):
    result = CliRunner().invoke(regcode, ["diff", "shanghai-post-license@2017", "shanghai-post-license@2022-illustration",
                                          "--policy-root", str(AMENDMENT), "--corpus", str(REPO / "examples" / "amendment" / "corpus.jsonl"),
                                          "--format", "html"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "diff.html"
    path.write_text(result.stdout, encoding="utf-8")
    assert parse(path).resources == []
    _csp_allows_exactly_the_inline_code(path)
    for fragment in ("308 cases, 42 with changed decisions", "inspection_sampling_ratio_min", "corpus.jsonl:220", "第三十条"):
        assert fragment in result.stdout, fragment


def test_html_output_without_jinja2_is_a_clear_error(monkeypatch):
    """As in a plain `pip install .`: neither Jinja2 nor its markupsafe is there."""
    monkeypatch.setattr(render, "_ENV", None)
    monkeypatch.setitem(sys.modules, "jinja2", None)   # import jinja2 now fails
    monkeypatch.setitem(sys.modules, "markupsafe", None)
    result = _eval_html(CASE)
    assert result.exit_code == 1, result.output
    assert "render.missing_extra" in result.stderr and "regcode[site]" in result.stderr and "Traceback" not in result.output


def test_an_out_path_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "taken"
    target.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(regcode, ["site", "--out", str(target)])
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_the_words_of_a_rule_say_its_condition_with_parameter_values():
    from regcode.engine._words import Words
    policy = Catalog().by_ref("shanghai-post-license@2017")
    words = Words(policy.resolved["parameters"], tuple(policy.resolved["derived_facts"]))
    rule = next(r for r in policy.resolved["rules"] if r["id"] == "category-c-two-provincial-fails")
    out = words.rule(rule)
    flat = json.dumps(out, ensure_ascii=False)
    assert ["param", "c_provincial_fail_count", "2 spot checks"] in out["when"]["parts"]
    assert ["param", "c_window_years", "3 years"] in [p for c in out["when"]["children"][0]["children"] for p in c["parts"]]
    assert "derived fact" in json.dumps(out["for_each"]) and "is at least" in flat and "is one of" in flat
    negated = words.cond({"not": {"path": "x.y", "op": "==", "value": 1}})
    assert negated["parts"][0] == ["t", "not:"], "a negated comparison is not turned into != (absent facts differ)"


def test_an_eval_page_says_what_the_explain_level_left_out():
    none = _eval_html(CASE, "--explain=none")
    assert none.exit_code == 0 and "--explain none</code>): only the decisions" in none.stdout
    assert 'class="claim' not in none.stdout and "no rule concluded it" not in none.stdout
    decisive = _eval_html(CASE, "--explain=decisive")
    assert "the claims that lost are left out" in decisive.stdout and 'class="claim lost"' not in decisive.stdout
    full = _eval_html(CASE)
    assert 'class="claim lost"' in full.stdout and "banner" not in full.stdout.split("<main>", 1)[1].split("<section", 1)[0]


def test_an_eval_page_of_several_files_keeps_the_good_ones_when_one_is_bad(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("as_of: 2019-06-30\nenterprise: {name: x}\n", encoding="utf-8")
    result = _eval_html(CASE, bad, REPO / "examples" / "cases" / "aa-clean.yaml")
    assert result.exit_code == 1 and "input.schema" in result.stderr and "Traceback" not in result.output
    assert "上海联鑫线缆有限公司" in result.stdout and 'id="c1-top"' in result.stdout and 'id="c2-top"' not in result.stdout


def test_a_bad_case_file_gives_an_error_and_no_page():
    result = CliRunner().invoke(regcode, ["eval", "--format", "html", "-"], input="as_of: [unclosed\n")
    assert result.exit_code == 1 and result.stdout == "" and "input.syntax" in result.stderr


# ---- the site owns its folder: a manifest of what it wrote -----------------------------------
def _files(folder: Path) -> set:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_a_rebuild_removes_what_the_previous_build_wrote_and_this_one_does_not(site, tmp_path):
    out = tmp_path / "site"
    shutil.copytree(site, out)             # the amendment's site: two versions of shanghai-post-license
    gone = out / "shanghai-post-license" / "2022-illustration"
    assert (gone / "index.html").is_file()
    (out / "notes.txt").write_text("mine", encoding="utf-8")           # not the site's: never removed
    (gone / "cases.html").write_text("edited by hand", encoding="utf-8")  # the site's, but changed since: kept
    result = CliRunner().invoke(regcode, ["site", "--out", str(out)])   # the shipped version alone
    assert result.exit_code == 0, result.output
    assert "removed 2 files the previous build wrote and this one does not" in result.stdout
    assert not (gone / "index.html").exists() and not (gone / "parameters.html").exists()
    assert (gone / "cases.html").read_text(encoding="utf-8") == "edited by hand"
    assert f"{gone / 'cases.html'}: output.kept" in result.stderr
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    manifest = json.loads((out / ".regcode-site.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) == _files(out) - {".regcode-site.json", "notes.txt", str(gone.relative_to(out) / "cases.html")}
    fresh = tmp_path / "fresh"
    assert CliRunner().invoke(regcode, ["site", "--out", str(fresh)]).exit_code == 0
    assert {f: (fresh / f).read_bytes() for f in _files(fresh)} == {f: (out / f).read_bytes() for f in _files(fresh)}


def test_a_folder_that_is_not_a_site_is_refused_unless_force(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.txt").write_text("two years of work", encoding="utf-8")
    refused = CliRunner().invoke(regcode, ["site", "--out", str(out)])
    assert refused.exit_code == 1 and len(refused.stderr.splitlines()) == 1
    assert refused.stderr.startswith(f"{out}: output.not_ours: ") and "--force" in refused.stderr
    assert _files(out) == {"thesis.txt"}
    forced = CliRunner().invoke(regcode, ["site", "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "thesis.txt" in _files(out) and (out / "index.html").is_file()
    again = CliRunner().invoke(regcode, ["site", "--out", str(out)])   # now a site: no --force needed, nothing of the user's removed
    assert again.exit_code == 0 and (out / "thesis.txt").read_text(encoding="utf-8") == "two years of work"


def test_a_site_never_overwrites_a_file_its_previous_build_did_not_write(tmp_path):
    out = tmp_path / "site"
    assert CliRunner().invoke(regcode, ["site", "--out", str(out)]).exit_code == 0
    (out / "shanghai-post-license" / "versions.html").unlink()
    (out / "shanghai-post-license" / "versions.html").write_text("mine now", encoding="utf-8")
    manifest = json.loads((out / ".regcode-site.json").read_text(encoding="utf-8"))
    del manifest["files"]["shanghai-post-license/versions.html"]
    (out / ".regcode-site.json").write_text(json.dumps(manifest), encoding="utf-8")
    refused = CliRunner().invoke(regcode, ["site", "--out", str(out)])
    assert refused.exit_code == 1 and "output.not_ours" in refused.stderr and "versions.html" in refused.stderr
    assert (out / "shanghai-post-license" / "versions.html").read_text(encoding="utf-8") == "mine now"


def test_a_manifest_naming_files_outside_the_folder_removes_nothing_there(tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep", encoding="utf-8")
    out = tmp_path / "site"
    assert CliRunner().invoke(regcode, ["site", "--out", str(out)]).exit_code == 0
    manifest = json.loads((out / ".regcode-site.json").read_text(encoding="utf-8"))
    digest = hashlib.sha256(b"keep").hexdigest()
    manifest["files"].update({"../precious.txt": digest, str(outside): digest, "sub/../../precious.txt": digest})
    (out / ".regcode-site.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert CliRunner().invoke(regcode, ["site", "--out", str(out)]).exit_code == 0
    assert outside.read_text(encoding="utf-8") == "keep"


def test_a_link_inside_the_site_folder_is_refused_not_written_through(tmp_path):
    """A folder of the site replaced by a link to somewhere else: writing its pages would write there."""
    out, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    assert CliRunner().invoke(regcode, ["site", "--out", str(out)]).exit_code == 0
    elsewhere.mkdir()
    (elsewhere / "regcode.css").write_text("precious", encoding="utf-8")
    shutil.rmtree(out / "assets")
    (out / "assets").symlink_to(elsewhere, target_is_directory=True)
    for extra in ([], ["--force"]):
        result = CliRunner().invoke(regcode, ["site", "--out", str(out), *extra])
        assert result.exit_code == 1 and "output.link" in result.stderr and "`assets`" in result.stderr, result.output
        assert sorted(p.name for p in elsewhere.iterdir()) == ["regcode.css"]
        assert (elsewhere / "regcode.css").read_text(encoding="utf-8") == "precious"


def test_a_build_stopped_half_way_leaves_its_files_owned_by_the_next_build(tmp_path, monkeypatch):
    from regcode.engine import outdir
    out = tmp_path / "site"
    real, calls = outdir._replace, []

    def failing(path, data):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt       # Ctrl-C after two pages
        real(path, data)
    monkeypatch.setattr(outdir, "_replace", failing)
    with pytest.raises(KeyboardInterrupt):
        outdir.write_owned(out, ".regcode-site.json", "regcode-site", {"a.html": "a", "b.html": "b", "c.html": "c"}, {}, "site")
    monkeypatch.setattr(outdir, "_replace", real)
    listed = json.loads((out / ".regcode-site.json").read_text(encoding="utf-8"))["files"]
    assert sorted(listed) == ["a.html", "b.html"]
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    result = CliRunner().invoke(regcode, ["site", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not (out / "a.html").exists() and "removed 2 files" in result.stdout


def test_a_manifest_naming_a_file_with_a_control_character_is_passed_over_not_a_crash(tmp_path):
    out = tmp_path / "site"
    assert CliRunner().invoke(regcode, ["site", "--out", str(out)]).exit_code == 0
    manifest = json.loads((out / ".regcode-site.json").read_text(encoding="utf-8"))
    manifest["files"].update({"a\u0000b": "0" * 64, "c\nd.html": "0" * 64})
    (out / ".regcode-site.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = CliRunner().invoke(regcode, ["site", "--out", str(out)])
    assert result.exit_code == 0 and "internal error" not in result.output, result.output


def test_a_dated_change_after_the_versions_start_shows_the_inherited_value_before_it(tmp_path):
    """The timeline of an extending version's dated parameter starts with the base's value, in force in
    the version's window until the first date; the versions page says it in words, not as raw JSON."""
    root = tmp_path / "policies"
    shutil.copytree(REPO / "examples" / "amendment" / "policies", root)
    params = root / "shanghai-post-license" / "2022-illustration" / "parameters.yaml"
    params.write_text(params.read_text(encoding="utf-8").replace("values: {2022-05-01: 0.3}", "values: {2022-07-01: 0.3}"),
                      encoding="utf-8")
    out = tmp_path / "site"
    result = CliRunner().invoke(regcode, ["site", "--out", str(out), "--policy-root", str(root)])
    assert result.exit_code == 0, result.output
    page = (out / "shanghai-post-license" / "2022-illustration" / "parameters.html").read_text(encoding="utf-8")
    assert '<li class="inside"><b>0.2</b> from the start to 2022-06-30</li>' in page
    assert '<li class="inside"><b>0.3</b> from 2022-07-01 to open</li>' in page
    versions = (out / "shanghai-post-license" / "versions.html").read_text(encoding="utf-8")
    assert "0.2 before 2022-07-01, 0.3 from 2022-07-01" in versions and "&#34;before&#34;" not in versions
