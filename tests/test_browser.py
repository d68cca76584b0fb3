"""The pages in a real headless Chromium (Debian's chromium, driven through its chromedriver), opened from file://:
every article and rule is where it belongs, a why unfolds to its matched facts, search works, markup never runs."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import Catalog

from browser import CHROMEDRIVER, CHROMIUM, chromium, open_file, screenshot_full
from conftest import REPO, TEST_POLICIES

AMENDMENT = REPO / "examples" / "amendment" / "policies"
CASE = REPO / "examples" / "cases" / "c-class-triggers.yaml"
CANARY = "window.__pwned"


def _require_browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    assert not missing, (f"{', '.join(missing)} missing: the browser tests need Debian's chromium and chromium-driver "
                         "(scripts/bootstrap installs them as root: apt-get install chromium chromium-driver fonts-noto-cjk)")


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    result = CliRunner().invoke(regcode, ["site", "--policy-root", str(AMENDMENT), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _errors(driver) -> list:
    """Console errors since the last call (a CSP refusal of our own code would show here)."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _click(driver, element) -> None:
    """Click as a person would: with the element scrolled clear of the sticky header."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def _eventually(driver, script: str, want=True):
    """The value of `script` once it equals `want`: a details element's toggle event is dispatched
    after the click returns, so the page is polled (bounded) instead of read at once."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        return WebDriverWait(driver, 10, poll_frequency=0.05).until(lambda d: d.execute_script(script) == want or None) and want
    except TimeoutException:
        return driver.execute_script(script)


def _no_script_ran(driver) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    assert driver.execute_script(f"return typeof {CANARY}") == "undefined", "injected markup ran"
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text   # no dialog was opened


def test_the_site_opens_from_the_file_system_with_every_article_and_rule_in_place(browser, site, tmp_path):
    open_file(browser, site / "index.html")
    assert browser.title.startswith("Policies")
    browser.find_element("link text", "@2017").click()
    assert browser.current_url.endswith("shanghai-post-license/2017/index.html")
    policy = Catalog().by_ref("shanghai-post-license@2017")
    found = browser.execute_script("""
        return Array.from(document.querySelectorAll('article.art')).map(a => ({
          article: a.dataset.article, title: a.querySelector('h3').textContent, visible: a.offsetHeight > 0,
          status: a.dataset.status, text: (a.querySelector('.law') || {}).textContent || '',
          rules: Array.from(a.querySelectorAll('.rule')).map(r => r.dataset.rule)}))""")
    assert [a["article"] for a in found] == [a["article"] for a in policy.articles]
    for entry, shown in zip(policy.articles, found):
        assert entry["title"] in shown["title"] and shown["visible"]
        expected = "not-decidable" if entry["status"] == "not_decidable" else "tested"
        assert shown["status"] == expected, entry["article"]
    by_article = {}
    for rule in policy.rules:
        by_article.setdefault(rule.article, set()).add(rule.id)
    for shown in found:
        assert set(shown["rules"]) == by_article.get(shown["article"], set()), shown["article"]
    art8 = next(a for a in found if a["article"] == "第八条")
    assert "C类企业：是指履行产品质量主体责任保障能力较差的企业" in art8["text"]
    # the cited paragraph carries the rules that cite it, linked to their cards
    marks = browser.execute_script("return Array.from(document.querySelectorAll('#art-8-p5 .cite-marks a')).map(a => a.textContent)")
    assert "category-c-two-provincial-fails" in marks
    assert _errors(browser) == []
    shot = screenshot_full(browser, tmp_path / "site-articles.png", 3000)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50000


def test_the_chinese_text_is_set_in_the_pinned_cjk_font(browser, site):
    open_file(browser, site / "shanghai-post-license" / "2017" / "index.html")
    family = browser.execute_script("return getComputedStyle(document.querySelector('.law')).fontFamily")
    assert family.startswith('"Noto Sans CJK SC"') and family.rstrip().endswith("sans-serif"), family
    assert browser.execute_script("return document.fonts.check('16px \"Noto Sans CJK SC\"', '专项检查')"), \
        "the pinned CJK font is not installed (fonts-noto-cjk)"


def test_search_filters_the_page_and_lists_hits_from_the_whole_site(browser, site):
    open_file(browser, site / "shanghai-post-license" / "2017" / "index.html")
    box = browser.find_element("id", "q")
    box.send_keys("制假售假")
    shown = browser.execute_script("return Array.from(document.querySelectorAll('article.art')).filter(a => a.offsetHeight > 0).map(a => a.dataset.article)")
    assert shown == ["第二十九条"]
    assert "2 of" in browser.find_element("id", "search-status").text    # the article, and the decision labelled 涉嫌制假售假
    rows = browser.execute_script("return Array.from(document.querySelectorAll('tr[data-search]')).filter(r => r.offsetHeight > 0).map(r => r.querySelector('code').textContent)")
    assert rows == ["special_inspection_reasons"]
    hits = browser.execute_script("return Array.from(document.querySelectorAll('#search-results a')).map(a => [a.textContent, a.getAttribute('href')])")
    assert any("special-inspection-counterfeit-suspicion" in t for t, _ in hits)
    assert any(h.endswith("2022-illustration/index.html#rule-special-inspection-counterfeit-suspicion") for _, h in hits)
    target = next(h for t, h in hits if "special-inspection-counterfeit-suspicion" in t and "2017" in h)
    browser.find_element("css selector", f'#search-results a[href="{target}"]').click()
    assert browser.current_url.endswith("#rule-special-inspection-counterfeit-suspicion")
    box = browser.find_element("id", "q")
    box.clear()
    box.send_keys(" ")
    box.send_keys("\ue00c")   # Escape clears the filter
    assert len(browser.execute_script("return Array.from(document.querySelectorAll('article.art')).filter(a => a.offsetHeight > 0)")) == 57


def test_the_status_filter_shows_only_untested_articles(browser, site):
    open_file(browser, site / "shanghai-post-license" / "2022-illustration" / "index.html")
    browser.find_element("css selector", 'button[data-filter="untested"]').click()
    shown = browser.execute_script("return Array.from(document.querySelectorAll('article.art')).filter(a => a.offsetHeight > 0).map(a => a.dataset.status)")
    assert shown and set(shown) == {"untested"}   # the illustration has no test cases of its own


def _eval_page(tmp_path: Path, case_file: Path, name: str) -> Path:
    result = CliRunner().invoke(regcode, ["eval", "--format", "html", str(case_file)])
    assert result.exit_code == 0, result.output
    page = tmp_path / name
    page.write_text(result.stdout, encoding="utf-8")
    return page


def test_unfolding_a_why_shows_the_rules_and_lights_up_the_matched_facts(browser, tmp_path):
    page = _eval_page(tmp_path, CASE, "eval.html")
    open_file(browser, page)
    assert _errors(browser) == [], "the page's own style and script are allowed by its CSP"
    decision = browser.find_element("id", "c0-dec-special_inspection_reasons")
    claim = decision.find_element("css selector", ".claim")
    assert not claim.is_displayed(), "folded at first"
    _click(browser, decision.find_element("tag name", "summary"))
    assert claim.is_displayed()
    text = decision.find_element("css selector", "details.why").text
    assert "special-inspection-complaint" in text and "complaints[0].date = 2019-04-02" in text
    lit = "return Array.from(document.querySelectorAll('.case-view .row.hl')).map(r => r.title).includes('complaints[0].date')"
    assert _eventually(browser, lit) is True
    # a link from a matched fact goes to its place in the case file
    _click(browser, decision.find_element("link text", "complaints[0].date"))
    assert browser.execute_script("return document.querySelector(':target').title") == "complaints[0].date"
    # and the article link goes to the article's text on the page
    _click(browser, decision.find_element("partial link text", "第二十九条"))
    target = browser.execute_script("return document.querySelector(':target').textContent")
    assert "企业在生产经营过程中被举报的" in target
    # folding again puts the lights out
    _click(browser, decision.find_element("tag name", "summary"))
    assert _eventually(browser, "return document.querySelectorAll('.case-view .row.hl').length", 0) == 0
    _click(browser, browser.find_element("id", "unfold-all"))
    assert all(d.get_attribute("open") for d in browser.find_elements("css selector", "details.why"))
    shot = screenshot_full(browser, tmp_path / "eval.png", 2500)
    assert shot.stat().st_size > 50000


def test_a_case_file_holding_script_shows_it_as_text_and_runs_nothing(browser, tmp_path):
    case = yaml.safe_load(CASE.read_text(encoding="utf-8"))
    case["enterprise"]["name"] = f'<script>{CANARY} = 1; alert(1)</script><img src=x onerror="{CANARY} = 2; alert(2)">'
    case["licenses"][0]["category"] = f"<script>{CANARY} = 3</script>"          # becomes a key of category_classes
    case["licenses"][0]["product"] = f"</script><svg onload=\"{CANARY} = 4\">"   # a value
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(yaml.safe_dump(case, allow_unicode=True), encoding="utf-8")
    page = _eval_page(tmp_path, hostile, "hostile.html")
    open_file(browser, page)
    browser.find_element("id", "unfold-all").click()
    _no_script_ran(browser)
    assert browser.find_element("css selector", "h1").text == case["enterprise"]["name"]
    value = browser.find_element("css selector", "#c0-dec-category_classes .value").text
    assert value == f"<script>{CANARY} = 3</script>: c"
    rows = browser.execute_script("return Array.from(document.querySelectorAll('.case-view .row')).map(r => r.textContent)")
    assert any(f"</script><svg onload=\"{CANARY} = 4\">" in r for r in rows)
    assert browser.execute_script("return document.querySelectorAll('main script, main img, main svg').length") == 0
    screenshot_full(browser, tmp_path / "hostile.png", 1500)


def test_a_policy_note_holding_markup_shows_it_as_text_in_the_site(browser, tmp_path):
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    rules = root / "toy" / "1" / "rules" / "fees.yaml"
    data = yaml.safe_load(rules.read_text(encoding="utf-8"))
    note = f'<script>{CANARY} = 5</script><img src=x onerror="{CANARY} = 6">'
    data["rules"][0]["note"] = note
    rules.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "site"
    assert CliRunner().invoke(regcode, ["site", "toy@1", "--policy-root", str(root), "--out", str(out)]).exit_code == 0
    open_file(browser, out / "toy" / "1" / "index.html")
    _no_script_ran(browser)
    shown = browser.find_element("css selector", f"#rule-{data['rules'][0]['id']} .note").text
    assert shown == "Reading: " + note
    browser.find_element("id", "q").send_keys("onerror")   # search prints hits with textContent, never as markup
    _no_script_ran(browser)
    assert browser.find_elements("css selector", "#search-results a")
    screenshot_full(browser, tmp_path / "toy-site.png", 2000)


def test_the_versions_and_parameters_pages_render_without_errors(browser, site, tmp_path):
    for rel in ("shanghai-post-license/versions.html", "shanghai-post-license/2017/parameters.html",
                "shanghai-post-license/2017/cases.html"):
        open_file(browser, site / rel)
        assert _errors(browser) == [], rel
    open_file(browser, site / "shanghai-post-license" / "versions.html")
    assert browser.find_elements("css selector", ".redline ins") and browser.find_elements("css selector", ".redline del")
    screenshot_full(browser, tmp_path / "versions.png", 2500)
