"""Stage 6, render: a policy as a static offline site; one evaluation or one diff as a self-contained page (Jinja2, autoescaped)."""
from __future__ import annotations

import base64
import datetime as _dt
import difflib
import hashlib
import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any, Optional

from . import _text
from ._words import Words, param_summary, params_used
from .catalog import Catalog
from .compile import OUTPUT_KEYS, CompiledPolicy
from .coverage import report as coverage_report
from .diff import changes_text, diff as diff_versions, index_note, manifest_text, names_alone, timeline_text
from .errors import Issue, Location, PolicyError, file_name
from .evaluate import DEFAULT_BACKEND
from .explain import labelled, labels_of
from .load import format_path

HERE = Path(__file__).resolve().parent
MAX_TREE_NODES = 20000    # bound on the nodes of one case file shown in a page
MAX_TREE_DEPTH = 32       # and on their nesting
MAX_REDLINE_CHARS = 20000  # longer article texts are compared line by line, not character by character
CJK_FONTS = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif'


class RenderError(PolicyError):
    """A page cannot be rendered (the optional extra is missing, an output folder is unusable)."""

# ---- the template environment --------------------------------------------------------------
_ENV = None


def environment():
    """Jinja2 with autoescaping on for every template (policy and case text is never markup)."""
    global _ENV
    if _ENV is None:
        try:
            import jinja2
        except ImportError:
            raise RenderError([Issue("render.missing_extra", "HTML output needs Jinja2, which the optional extra `site` installs",
                                     Location(), "pip install 'regcode[site]'")]) from None
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.filters["value"] = format_value
        env.filters["json_value"] = lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True)
        env.filters["parameter_value"] = timeline_text      # a dated value as diff's text says it, not raw JSON
        env.filters["lang"] = lang_attribute
        env.globals["CJK_FONTS"] = CJK_FONTS
        _ENV = env
    return _ENV


def text_language(policy: CompiledPolicy) -> str:
    """The language the policy's own words are in (its text's `source.language`, a BCP 47 tag such as zh-Hans or en):
    the pages mark its titles, text and labels with it. A policy that declares none has them unmarked, never marked
    as another policy's language."""
    language = ((policy.text or {}).get("source") or {}).get("language")
    return language.strip() if isinstance(language, str) else ""


def lang_attribute(language: str):
    """` lang="zh-Hans"` for an element holding the policy's words, or nothing when it declares no language."""
    from markupsafe import Markup, escape
    return Markup(f' lang="{escape(language)}"') if language else ""


def asset(name: str):
    """One of our own static files (not derived from any policy or case: safe to inline)."""
    from markupsafe import Markup
    return Markup((HERE / "static" / name).read_text(encoding="utf-8"))


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def standalone(template: str, **context) -> str:
    """A page with our stylesheet and script inline, allowed by a Content-Security-Policy that names
    their hashes: any other script, inline or not, would not run even if markup got through."""
    environment()      # first: without Jinja2 (and its markupsafe) this is the clear `render.missing_extra`
    css, js = asset("regcode.css"), asset("regcode.js")
    digest = lambda text: "sha256-" + base64.b64encode(hashlib.sha256(str(text).encode("utf-8")).digest()).decode("ascii")
    return render(template, css=css, js=js, css_hash=digest(css), js_hash=digest(js), **context)


def format_value(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ", ".join(format_value(x) for x in v) if v else "(none)"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {format_value(x)}" for k, x in v.items()) if v else "(none)"
    return str(v)


def js_data(data: Any) -> str:
    """JSON that is safe inside a JS file or a <script> element: no `<`, `>`, `&` or line separators left raw."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, esc)
    return text


# ---- the law's text, with the rules that cite each unit -------------------------------------
def _text_view(article: dict, citations: dict, prefix: str = "") -> dict:
    """An article's paragraphs, items and sub-items with their anchors and the rules citing each."""
    name = article["article"]
    paragraphs = []
    for p, para in enumerate(article["paragraphs"], 1):
        items = []
        for i, item in enumerate(para.get("items") or [], 1):
            subs = [{"anchor": prefix + _text.anchor(name, (p, i, s)), "text": sub["text"],
                     "cited_by": citations.get((p, i, s), [])} for s, sub in enumerate(item.get("subitems") or [], 1)]
            items.append({"anchor": prefix + _text.anchor(name, (p, i)), "text": item["text"], "subitems": subs,
                          "cited_by": citations.get((p, i), [])})
        paragraphs.append({"anchor": prefix + _text.anchor(name, (p,)), "text": para["text"], "items": items,
                           "cited_by": citations.get((p,), []), "first": p == 1})
    return {"article": name, "paragraphs": paragraphs, "version": article.get("version", ""),
            "replaces": article.get("replaces", ""), "note": article.get("note", "")}


def _citations(policy: CompiledPolicy) -> dict:
    """article -> {unit: [rule ids]}, and article -> [rule ids citing the whole article]."""
    units: dict = {}
    whole: dict = {}
    by_name = {a["article"]: a for a in (policy.text or {}).get("articles", [])}
    for r in policy.resolved["rules"]:
        article = by_name.get(r["article"])
        if r.get("clause") and article is not None:
            found, _err = _text.resolve(article, r["clause"])
            for unit in found:
                units.setdefault(r["article"], {}).setdefault(unit, []).append(r["id"])
        else:
            whole.setdefault(r["article"], []).append(r["id"])
    return {"units": units, "whole": whole}


def _cited_units(units: dict) -> dict:
    out: dict = {}
    for unit, ids in units.items():
        for rid in ids:
            out.setdefault(rid, []).append(unit)
    return out


def _clause_links(policy: CompiledPolicy, article: str, clause: str, href) -> list:
    """[{label, href}] for each unit a clause names (or the article itself)."""
    entry = next((a for a in (policy.text or {}).get("articles", []) if a["article"] == article), None)
    if entry is None or not clause:
        return [{"label": f"{article} {clause}".strip(), "href": href(_text.anchor(article)) if entry is not None else ""}]
    found, _err = _text.resolve(entry, clause)
    implied = len(_text._item_paragraphs(entry)) == 1
    return [{"label": article + _text.address(u, not implied or len(u) == 1), "href": href(_text.anchor(article, u))} for u in found]


# ---- a version's pages -----------------------------------------------------------------------
def _from_root(cat: Catalog, file: str) -> str:
    """A policy file's name as the pages show it: below the policy root it is in (`POLICY/VERSION/tests/x.yaml`), so
    a site reads the same from whatever folder it is built in (a file's name as loaded is relative to that folder).
    A byte of the name that is not UTF-8 is written \\xNN (file_name): a page is UTF-8."""
    if not file or not (os.path.isabs(file) or os.path.exists(file)):
        return file_name(file)
    path = os.path.abspath(file)
    for root in cat.roots:
        shown = os.path.relpath(path, os.path.abspath(root))
        if shown != ".." and not shown.startswith(".." + os.sep):
            return file_name(Path(shown).as_posix())
    return file_name(Path(path).as_posix())


def _cases(cat: Catalog, results: list) -> tuple:
    """The test cases as page data, and rule id -> [case refs] (from which rules each case made fire)."""
    cases, by_rule = [], {}
    for n, r in enumerate(results):
        loc = r.case.location
        ref = {"anchor": f"case-{n + 1}", "name": r.case.name, "status": r.status}
        cases.append({**ref, "file": _from_root(cat, loc.file), "line": loc.line, "articles": r.case.data.get("articles", []),
                      "as_of": r.case.data.get("as_of") or (r.case.data.get("facts") or {}).get("as_of"),
                      "expect": r.case.data.get("expect"), "expect_error": r.case.data.get("expect_error"),
                      "diffs": r.diffs, "fired": list(r.fired), "facts": tree(r.case.data.get("facts"), f"case-{n + 1}-")["rows"]})
        for rid in r.fired:
            by_rule.setdefault(rid, []).append(ref)
    return cases, by_rule


def _timeline(decl: dict, policy: CompiledPolicy) -> list:
    """Dated values as segments [from, to] with the value in force, marked when they fall in the version's window."""
    if "values" not in decl:
        return [{"from": policy.effective_from, "to": policy.effective_to or "open", "value": decl.get("value"), "in_window": True}]
    dates = sorted(decl["values"])
    out = []
    if dates and decl.get("value") is not None:    # the value before the first date (an extending version: the base's)
        end = (_dt.date.fromisoformat(dates[0]) - _dt.timedelta(days=1)).isoformat()
        out.append({"from": "the start", "to": end, "value": decl["value"], "in_window": end >= policy.effective_from})
    for k, start in enumerate(dates):
        end = (_dt.date.fromisoformat(dates[k + 1]) - _dt.timedelta(days=1)).isoformat() if k + 1 < len(dates) else (policy.effective_to or "open")
        in_window = (end == "open" or end >= policy.effective_from) and (policy.effective_to is None or start <= policy.effective_to)
        out.append({"from": start, "to": end, "value": decl["values"][start], "in_window": in_window})
    return out


def version_pages(cat: Catalog, policy: CompiledPolicy, backend: str = DEFAULT_BACKEND) -> dict:
    """Everything the article, parameter and case pages of one version show, as plain data."""
    from .testing import tested
    results, counted, _problems, _aside = tested(cat, policy, backend)
    coverage = coverage_report(policy, counted)   # as `regcode coverage` counts: a failing case, or one with a problem, tests nothing
    cases, cases_by_rule = _cases(cat, results)
    params = policy.resolved["parameters"]
    words = Words(params, tuple(policy.resolved.get("derived_facts") or {}))
    cites = _citations(policy)
    locations = {r.id: str(dataclasses.replace(r.location, file=_from_root(cat, r.location.file)))   # where each rule is written
                 for r in policy.rules if getattr(r, "location", None)}
    rules_by_article: dict = {}
    for r in policy.resolved["rules"]:
        used = sorted(params_used(r))
        rules_by_article.setdefault(r["article"], []).append({
            "id": r["id"], "title": r["title"], "article": r["article"], "clause": r.get("clause", ""), "note": r.get("note", ""),
            "clause_links": _clause_links(policy, r["article"], r.get("clause", ""), lambda a: "#" + a),
            "words": words.rule(r), "params": [{"name": p, "summary": param_summary(params.get(p))} for p in used],
            "cases": cases_by_rule.get(r["id"], []), "location": locations.get(r["id"], ""),
        })
    text_by_name = {a["article"]: a for a in (policy.text or {}).get("articles", [])}
    entries = list(policy.articles) or [{"article": a, "title": "", "status": "encoded"} for a in
                                        sorted(set(text_by_name) | set(rules_by_article), key=_text.article_key)]
    articles = []
    for entry in entries:
        name = entry["article"]
        order = {rid: min(units) for rid, units in _cited_units(cites["units"].get(name, {})).items()}
        rules = sorted(rules_by_article.get(name, []), key=lambda r: (order.get(r["id"], ()), r["id"]))   # in the order of the text
        untested = [r["id"] for r in rules if not r["cases"]]
        if entry.get("status") == "not_decidable":
            status, label = "not-decidable", "not decidable"
        elif rules and not untested:
            status, label = "tested", "encoded and tested"
        else:
            status, label = "untested", f"encoded, {len(untested)} of {len(rules)} rules untested"
        articles.append({
            "article": name, "anchor": _text.anchor(name), "title": entry.get("title", ""), "chapter": entry.get("chapter", ""),
            "status": status, "status_label": label, "reason": entry.get("reason", ""), "note": entry.get("note", ""),
            "text": _text_view(text_by_name[name], cites["units"].get(name, {})) if name in text_by_name else None,
            "whole": sorted(cites["whole"].get(name, [])), "rules": rules,
        })
    parameters = []
    for name, decl in sorted(params.items(), key=lambda kv: (_text.article_key(kv[1].get("article", "")), kv[0])):
        parameters.append({
            "name": name, "title": decl.get("title", ""), "unit": decl.get("unit", ""), "note": decl.get("note", ""),
            "article": decl.get("article", ""), "clause": decl.get("clause", ""),
            "clause_links": _clause_links(policy, decl.get("article", ""), decl.get("clause", ""), lambda a: "index.html#" + a)
            if decl.get("article") else [],
            "timeline": _timeline(decl, policy), "dated": "values" in decl,
            "rules": sorted(r["id"] for r in policy.resolved["rules"] if name in params_used(r)),
        })
    decisions = [{"name": n, "title": d.get("title", ""), "type": d.get("type", ""), "combine": d.get("combine", ""),
                  "article": d.get("article", ""), "default": d.get("default"),
                  "members": d.get("values") or (d.get("value") or {}).get("values") or [], "labels": policy.decisions[n].labels
                  if n in policy.decisions else None}
                 for n, d in sorted(policy.resolved["decisions"].items())]
    chapters = []
    for a in articles:
        if not chapters or chapters[-1]["chapter"] != a["chapter"]:
            chapters.append({"chapter": a["chapter"], "articles": []})
        chapters[-1]["articles"].append(a)
    return {
        "policy": _policy_meta(policy, cat), "articles": articles, "chapters": chapters, "parameters": parameters, "decisions": decisions,
        "cases": cases, "coverage": coverage["summary"], "untested_rules": coverage["untested_rules"],
        "preamble": (policy.text or {}).get("preamble", []), "closing": (policy.text or {}).get("closing", []),
        "text_source": {k: ((policy.text or {}).get("source") or {}).get(k, "") for k in ("file", "sha256", "language", "note")},
        "has_text": policy.text is not None,
    }


def _policy_meta(policy: CompiledPolicy, cat: Optional[Catalog] = None) -> dict:
    """`window` as declared; `in_force` and `overlaps` as the catalog selects by date (Catalog.in_force_text), given one
    that knows the version."""
    m = policy.manifest
    known = cat is not None and policy.version in cat.index().get(policy.id, {}) and \
        cat.index()[policy.id][policy.version].directory.resolve() == Path(policy.directory).resolve()
    in_force = cat.in_force_text(policy.id, policy.version) if known else policy.window()
    overlaps = [text for a, b, text in cat.overlap_notes(policy.id) if policy.version in (a, b)] if known else []
    return {"id": policy.id, "version": policy.version, "ref": policy.ref, "title": policy.title, "window": policy.window(),
            "in_force": in_force, "overlaps": overlaps, "lang": text_language(policy),
            "content_hash": policy.content_hash, "chain": list(policy.chain), "extends": m.get("extends", ""),
            "source": m.get("source") or {}, "illustration": bool(m.get("illustration")), "description": m.get("description", "")}


# ---- what a version changes --------------------------------------------------------------------
def redline(old: Optional[list], new: Optional[list]) -> list:
    """[(equal|insert|delete, text)] from one article text to another: lines first, then the characters
    of each pair of changed lines that stay alike (so an inserted （示例新增） shows as just that)."""
    old, new = list(old or []), list(new or [])
    out: list = []

    def add(op: str, text: str) -> None:
        if text:
            if out and out[-1][0] == op:
                out[-1] = (op, out[-1][1] + text)
            else:
                out.append((op, text))

    def lines(op: str, chunk: list) -> None:
        for line in chunk:
            add(op, line)
            add("equal" if op == "equal" else op, "\n")

    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            lines("equal", old[i1:i2])
        elif op == "delete":
            lines("delete", old[i1:i2])
        elif op == "insert":
            lines("insert", new[j1:j2])
        else:
            pairs = list(zip(old[i1:i2], new[j1:j2]))
            for a, b in pairs:
                chars = difflib.SequenceMatcher(None, a, b, autojunk=False)
                if len(a) + len(b) > MAX_REDLINE_CHARS or chars.ratio() < 0.5:
                    lines("delete", [a])
                    lines("insert", [b])
                    continue
                for cop, x1, x2, y1, y2 in chars.get_opcodes():
                    if cop == "equal":
                        add("equal", a[x1:x2])
                    else:
                        add("delete", a[x1:x2])
                        add("insert", b[y1:y2])
                add("equal", "\n")
            lines("delete", old[i1 + len(pairs):i2])
            lines("insert", new[j1 + len(pairs):j2])
    return out


def diff_view(result: dict, old: CompiledPolicy, new: CompiledPolicy) -> dict:
    """The `regcode diff` object with what a page adds: rules in words, text redlines, smallest cases as trees."""
    s = result["static"]
    ow = Words(old.resolved["parameters"], tuple(old.resolved.get("derived_facts") or {}))
    nw = Words(new.resolved["parameters"], tuple(new.resolved.get("derived_facts") or {}))
    o_rules = {r["id"]: r for r in old.resolved["rules"]}
    n_rules = {r["id"]: r for r in new.resolved["rules"]}
    changed = []
    for r in s["rules"]["changed"]:
        a, b = o_rules[r["id"]], n_rules[r["id"]]
        wording = [{"field": f, "old": a.get(f, ""), "new": b.get(f, "")} for f in ("article", "clause", "title", "note")
                   if a.get(f, "") != b.get(f, "")]
        changed.append({**r, "old_words": ow.rule(a), "new_words": nw.rule(b), "wording": wording})
    added = [{**r, "words": nw.rule(n_rules[r["id"]]), "note": n_rules[r["id"]].get("note", "")} for r in s["rules"]["added"]]
    removed = [{**r, "words": ow.rule(o_rules[r["id"]])} for r in s["rules"]["removed"]]
    text = [{**t, "redline": redline(t["old"], t["new"]),
             "index_note": index_note(t["index_unchanged"]) if t.get("index_unchanged") else ""} for t in s["text"]]
    corpus = result.get("corpus")
    if corpus is not None:
        corpus = {**corpus, "changes": [{**c, "tree": tree(c["smallest_case"]["facts"], f"chg-{k}-")["rows"]}
                                        for k, c in enumerate(corpus["changes"])]}
    return {"old": _policy_meta(old), "new": _policy_meta(new), "rules": {"added": added, "removed": removed, "changed": changed},
            "parameters": s["parameters"], "facts": s["facts"], "text": text, "corpus": corpus,
            "decisions": [{**d, "summary": changes_text(d.get("changes") or [])} for d in s["decisions"]],
            "window": s.get("window"), "manifest": [{**f, "summary": manifest_text(f)} for f in s.get("manifest") or ()],
            # an un-itemised change has no `same_in_effect` (only one stated and inherited the same does): the template's
            # undefined is strict, so each entry says it
            "unattributed": [{"same_in_effect": False, **u} for u in s.get("unattributed") or ()], "names_alone": names_alone(result),
            "same": not (s["rules"]["added"] or s["rules"]["removed"] or s["rules"]["changed"] or s["parameters"]
                         or s["decisions"] or s["facts"] or s["text"] or s.get("window") or s.get("manifest")
                         or s.get("unattributed"))}


def versions_view(cat: Catalog, versions: list) -> list:
    """For each version: its manifest, and what it changes relative to the one it extends (the static diff)."""
    out = []
    for policy in versions:
        entry = {"policy": _policy_meta(policy, cat), "diff": None}
        if len(policy.chain) > 1:
            base = cat.by_ref(policy.chain[1])
            entry["diff"] = diff_view(diff_versions(base, policy, cat=cat), base, policy)
        out.append(entry)
    return out


# ---- a case file as a tree whose nodes can be pointed at ------------------------------------------
def tree(data: Any, prefix: str) -> dict:
    """Rows {id, key, value, depth, kind, path} of a JSON-shaped value in document order, and path -> id.
    Bounded in nodes and depth; what is cut off is said, not dropped silently."""
    rows, ids = [], {}
    stack = [((), None, data, 0)]
    while stack:
        path, key, value, depth = stack.pop()
        if len(rows) >= MAX_TREE_NODES:
            rows.append({"id": "", "key": "…", "value": f"{len(stack) + 1} more nodes not shown", "depth": 0, "kind": "more", "path": ""})
            break
        node_id = f"{prefix}n{len(rows)}"
        text_path = format_path(path) if path else "$"
        ids[text_path] = node_id
        kind = "object" if isinstance(value, dict) else "list" if isinstance(value, list) else "scalar"
        shown = "" if kind != "scalar" else format_value(value) if value is not None else "null"
        if kind != "scalar" and not value:
            shown = "{}" if kind == "object" else "[]"
        if path or kind == "scalar":
            rows.append({"id": node_id, "key": "" if key is None else key, "value": shown, "depth": max(depth - 1, 0),
                         "kind": kind, "path": text_path})
        if kind == "scalar" or depth >= MAX_TREE_DEPTH:
            continue
        children = list(value.items()) if kind == "object" else list(enumerate(value))
        for k, v in reversed(children):
            stack.append((path + (k,), f"[{k}]" if kind == "list" else str(k), v, depth + 1))
    return {"rows": rows, "ids": ids}


# ---- one evaluation as a page -------------------------------------------------------------------
_DERIVED_PATH = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*\{.*?\})(\..*)?$")


def _site_href(site_url: Optional[str], policy: CompiledPolicy, anchor: str) -> str:
    return f"{site_url.rstrip('/')}/{policy.id}/{policy.version}/index.html#{anchor}"


def check_site_url(site_url: Optional[str]) -> Optional[str]:
    """A link base for article text: relative, or http(s)/file. Other schemes (javascript:, data:) are refused."""
    if site_url is None:
        return None
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", site_url)
    if m and m.group(1).lower() not in ("http", "https", "file"):
        raise RenderError([Issue("input.site_url", f"--site-url {site_url!r}: only http, https, file or a relative path may be linked",
                                 Location(), "give the folder `regcode site --out` wrote, e.g. ../site")])
    return site_url


def _eval_case(k: int, result: dict, case: Any, policy: CompiledPolicy, site_url: Optional[str], article_prefix: str) -> dict:
    prefix = f"c{k}-"
    view = tree(case, prefix + "f-")
    decls = policy.resolved["decisions"]
    derived_ids = {d["fact"]: f"{prefix}d{n}" for n, d in enumerate(result.get("derived") or [])}
    cited = set()

    def target(path: str) -> tuple:
        """(id to highlight, what it is) for a matched path."""
        if path in view["ids"]:
            return view["ids"][path], "case"
        if path.startswith("decisions."):
            name = path.split(".", 1)[1].split("[", 1)[0]
            return (f"{prefix}dec-{name}", "decision") if name in decls else ("", "")
        m = _DERIVED_PATH.match(path)
        if m and m.group(1) in derived_ids:
            return derived_ids[m.group(1)], "derived"
        return "", "default"

    def href(anchor: str) -> str:
        return _site_href(site_url, policy, anchor) if site_url else f"#{article_prefix}{anchor}"

    decisions = []
    labels = labels_of(policy)
    why = result.get("why") or {}
    for name, value in result["decisions"].items():
        claims = []
        for e in why.get(name, []):
            matched = []
            for m in e.get("matched", []):
                tid, kind = target(m["path"])
                matched.append({"path": m["path"], "value": m["value"], "target": tid, "kind": kind})
            fid, fkind = target(e["fact"]) if e.get("fact") else ("", "")
            cited.add(e["article"])
            claims.append({**e, "fact": e.get("fact", ""), "clause": e.get("clause", ""), "has_key": "key" in e, "key": e.get("key"),
                           "matched": matched, "fact_target": fid, "fact_kind": fkind,
                           "links": _clause_links(policy, e["article"], e.get("clause", ""), href),
                           "targets": " ".join(sorted({x["target"] for x in matched if x["target"]} | ({fid} if fid else set())))})
        claims.sort(key=lambda c: (not c["decisive"], c["rule"]))
        decisions.append({"name": name, "anchor": f"{prefix}dec-{name}", "title": decls.get(name, {}).get("title", ""),
                          "label": value_label(value, labels.get(name)),
                          "value": value, "claims": claims, "winning": [c for c in claims if c["decisive"]],
                          "losing": [c for c in claims if not c["decisive"]]})
    derived = [{"anchor": derived_ids[d["fact"]], **d} for d in result.get("derived") or []]
    identity = {k: v for k, v in result.items() if k not in OUTPUT_KEYS}
    notes = [{**n, "target": view["ids"].get(n["path"], "")} for n in result.get("notes") or []]
    return {"prefix": prefix, "result": result, "policy": _policy_meta(policy), "decisions": decisions, "derived": derived,
            "case_rows": view["rows"], "identity": _flatten(identity), "cited": cited, "notes": notes}


def value_label(value: Any, labels: Optional[dict]) -> str:
    """How a reader names a decision's value by its declared labels (`加严监管`; a list's, a map's each), or ""."""
    return ("；" if isinstance(value, dict) else "、").join(
        f"{k}：{label}" if k is not None else label for k, _, label in labelled(value, labels) if label)


def _flatten(data: Any, path: str = "") -> list:
    if isinstance(data, dict):
        out = []
        for k, v in data.items():
            out.extend(_flatten(v, f"{path}.{k}" if path else str(k)))
        return out
    return [{"path": path, "value": data}]


def eval_page(cat: Catalog, outcomes: list, site_url: Optional[str] = None, explain: str = "full") -> str:
    """outcomes: [(the `eval --format json` object, the case file's data)]. A self-contained HTML page:
    styles and script inline, article text inline unless `site_url` names a built site to link to.
    `explain` is the level the objects were made with (none, decisive, full): the page says what is left out."""
    site_url = check_site_url(site_url)
    cases, texts, seen = [], [], {}
    for k, (result, case) in enumerate(outcomes):
        policy = cat.by_ref(f"{result['policy']['id']}@{result['policy']['version']}")
        if policy.ref not in seen:
            seen[policy.ref] = f"p{len(seen)}-"
        view = _eval_case(k, result, case, policy, site_url, seen[policy.ref])
        cases.append(view)
        if not site_url and policy.text is not None:
            texts.append((policy, seen[policy.ref], view["cited"]))
    articles = []
    for policy, prefix, cited in texts:
        by_name = {a["article"]: a for a in policy.text["articles"]}
        for name in sorted(set().union(*[c["cited"] for c in cases if c["policy"]["ref"] == policy.ref]) & set(by_name), key=_text.article_key):
            articles.append({"policy": policy.ref, "lang": text_language(policy), "anchor": prefix + _text.anchor(name), "article": name,
                             "text": _text_view(by_name[name], {}, prefix)})
    title = " · ".join(str(c["identity"][-1]["value"]) if c["identity"] else c["result"].get("source") or "case" for c in cases)
    return standalone("eval.html.j2", cases=cases, articles=articles, site_url=site_url, title=title, explain=explain)


def diff_page(result: dict, old: CompiledPolicy, new: CompiledPolicy) -> str:
    """`regcode diff --format html`: the diff (and the corpus diff when run) as one self-contained page."""
    return standalone("diff.html.j2", d=diff_view(result, old, new))


# ---- the site ------------------------------------------------------------------------------------
def _search_entries(policy: CompiledPolicy, page: dict, base: str) -> list:
    out = []
    for a in page["articles"]:
        words = " ".join(_text.article_lines({"article": a["article"], "paragraphs": _raw_paragraphs(a["text"])})) if a["text"] else ""
        out.append({"k": "article", "t": f"{a['article']} {a['title']}", "x": f"{words} {a['reason']}", "u": f"{base}index.html#{a['anchor']}",
                    "v": policy.ref})
        for r in a["rules"]:
            out.append({"k": "rule", "t": f"{r['id']} {r['title']}", "x": f"{r['article']} {r['clause']} {r['note']}",
                        "u": f"{base}index.html#rule-{r['id']}", "v": policy.ref})
    for p in page["parameters"]:
        out.append({"k": "parameter", "t": f"{p['name']} {p['title']}", "x": f"{p['article']} {p['clause']} {p['note']}",
                    "u": f"{base}parameters.html#param-{p['name']}", "v": policy.ref})
    for c in page["cases"]:
        out.append({"k": "case", "t": c["name"], "x": f"{c['file']} {' '.join(c['articles'])}", "u": f"{base}cases.html#{c['anchor']}",
                    "v": policy.ref})
    return out


def _raw_paragraphs(view: dict) -> list:
    return [{"text": p["text"], "items": [{"text": i["text"], "subitems": [{"text": s["text"]} for s in i["subitems"]]}
                                          for i in p["items"]]} for p in view["paragraphs"]]


SITE_MANIFEST = ".regcode-site.json"


def build_site(cat: Catalog, policies: list, out: Path, backend: str = DEFAULT_BACKEND, force: bool = False) -> list:
    """Write the site for `policies` (compiled versions) under `out`; returns the files written, sorted
    (engine/outdir.Written: also those of the previous build removed, or kept because changed since).
    Every page links relatively and every asset is in `out`, so it opens from the file system. The site
    owns `out` through its manifest: a rebuild removes the pages it no longer writes (a version gone),
    and a folder that is not empty and not a site is refused unless `force`."""
    from .outdir import claim, write_owned
    out = Path(out)
    claim(out, SITE_MANIFEST, "regcode-site", {}, force, "site")   # before the work: a wrong folder is said at once
    written = {}
    by_policy: dict = {}
    for p in policies:
        by_policy.setdefault(p.id, {})[p.version] = p
    search, listing = [], []
    for pid in sorted(by_policy):
        versions = sorted(by_policy[pid].values(), key=lambda p: (p.effective_from, p.version))
        entries = []
        for policy in versions:
            page = version_pages(cat, policy, backend)
            base = f"{pid}/{policy.version}/"
            ctx = {"page": page, "root": "../../", "here": base, "nav": _nav(pid, policy.version, versions)}
            for name in ("index", "parameters", "cases"):
                written[f"{base}{name}.html"] = render(f"{name if name != 'index' else 'version'}.html.j2", current=name,
                                                       param_href="parameters.html", **ctx)
            search.extend(_search_entries(policy, page, base))
            entries.append({"policy": page["policy"], "coverage": page["coverage"], "href": f"{base}index.html",
                            "articles": len(page["articles"])})
        written[f"{pid}/versions.html"] = render("versions.html.j2", root="../", here=f"{pid}/", policy_id=pid,
                                                 versions=versions_view(cat, versions), current="versions",
                                                 nav=_nav(pid, None, versions))
        listing.append({"id": pid, "versions": entries, "href": f"{pid}/versions.html"})
    written["index.html"] = render("site_index.html.j2", root="", here="", policies=listing, current="home", nav=None)
    written["assets/regcode.css"] = str(asset("regcode.css"))
    written["assets/regcode.js"] = str(asset("regcode.js"))
    written["assets/search-index.js"] = "window.REGCODE_SEARCH = " + js_data(search) + ";\n"
    previous = claim(out, SITE_MANIFEST, "regcode-site", written, force, "site")
    return write_owned(out, SITE_MANIFEST, "regcode-site", written, previous, "site")


def _nav(pid: str, version: Optional[str], versions: list) -> dict:
    return {"policy": pid, "version": version, "versions": [v.version for v in versions]}
