"""Regression between two policy versions: what the rules say differently, and what decisions change on a corpus."""
from __future__ import annotations

import functools
import json
from typing import Optional

from . import _text
from .compile import CompiledPolicy, as_meant, hashed_form
from .errors import PolicyError
from .evaluate import DEFAULT_BACKEND, check_case, evaluate
from .explain import to_dict
from .case import case_as_of
from ._json import ValueTally, same, tally_text
from .load import dump_json

MAX_EXAMPLES = 1   # the smallest case per change is kept
MAX_LISTED = 100   # cases failing the same way on both sides listed by name (all are counted)


def _ref(p: CompiledPolicy) -> dict:
    return {"id": p.id, "version": p.version, "content_hash": p.content_hash}


# the manifest's fields a diff leaves to its header (the versions' names) or does not hash (`extends`: what it brings in
# is compared itself); the window is said as one line
_NAMED, _WINDOW = ("id", "version", "extends"), ("effective_from", "effective_to")


def _stated(policy: CompiledPolicy, cat=None) -> dict:
    """A version's manifest as it holds: its own fields, with `identity:` and `reports:` as inherited when it does
    not restate them (the compiled identity; the nearest base's `reports:`, found with `cat`)."""
    out = {k: v for k, v in (policy.manifest or {}).items() if k not in _NAMED + _WINDOW}
    if policy.identity:
        out["identity"] = [".".join(path) for path in policy.identity]
    if "reports" not in out and cat is not None:
        from .reports import _declaration
        declared, _ = _declaration(policy, cat)
        if declared is not None:
            out["reports"] = declared
    return out


def manifest_diff(old: CompiledPolicy, new: CompiledPolicy, cat=None) -> tuple:
    """(the window change or None, the other manifest fields changed as {field, old, new}, sorted by field)."""
    window = None
    if (old.effective_from, old.effective_to) != (new.effective_from, new.effective_to):
        window = {"old": {"effective_from": old.effective_from, "effective_to": old.effective_to, "window": old.window()},
                  "new": {"effective_from": new.effective_from, "effective_to": new.effective_to, "window": new.window()}}
    a, b = _stated(old, cat), _stated(new, cat)
    fields = [{"field": f, "old": a.get(f), "new": b.get(f)} for f in sorted(set(a) | set(b)) if not same(a.get(f), b.get(f))]
    return window, fields


def unattributed(old: CompiledPolicy, new: CompiledPolicy, static: dict) -> list:
    """What the content hash covers that differs between the versions and that the static diff says nothing of, as
    {part, names}: so that a diff never reads as no difference when the hashes say otherwise."""
    o, n = old.resolved, new.resolved
    out = []
    said = {"window": bool(static.get("window")), "fields": {f["field"] for f in static.get("manifest") or ()}}
    om, nm = ({k: v for k, v in m.items() if k not in _NAMED} for m in (o.get("policy") or {}, n.get("policy") or {}))
    names = sorted(k for k in set(om) | set(nm) if not same(om.get(k), nm.get(k))
                   and not (k in _WINDOW and said["window"]) and k not in said["fields"])
    if names:      # an `identity:` or `reports:` one version states and the other inherits the same (manifest_diff compared them)
        out.append({"part": "manifest", "names": names, "same_in_effect": True})
    o_nodes, n_nodes = _schema_nodes(o.get("facts_schema")), _schema_nodes(n.get("facts_schema"))
    names = sorted(p or "(the case file)" for p in set(o_nodes) & set(n_nodes) if not same(o_nodes[p], n_nodes[p]))
    if names or (not same(o.get("facts_schema"), n.get("facts_schema")) and not static["facts"]):
        out.append({"part": "facts_schema", "names": names})
    said_rules = {r["id"] for k in ("added", "removed", "changed") for r in static["rules"][k]}
    o_rules, n_rules = ({r["id"]: r for r in x.get("rules") or ()} for x in (o, n))
    names = sorted(r for r in set(o_rules) | set(n_rules) if not same(as_meant(o_rules.get(r)), as_meant(n_rules.get(r))) and r not in said_rules)
    if names:
        out.append({"part": "rules", "names": names})
    for part in sorted(set(o) | set(n)):
        if part in ("policy", "facts_schema", "rules", "decisions", "parameters", "articles"):
            continue     # (decisions and parameters are compared whole; the article index is not hashed)
        a, b = o.get(part) or {}, n.get(part) or {}
        if not same(a, b):
            names = sorted(k for k in set(a) | set(b) if not same(a.get(k), b.get(k))) if isinstance(a, dict) and isinstance(b, dict) else []
            out.append({"part": part, "names": [str(k) for k in names]})
    if not out and not _itemised(static) and _beyond_names(old, new):
        out.append({"part": "content", "names": []})     # a part these lines do not know: said, not "no differences"
    return out


def _beyond_names(old: CompiledPolicy, new: CompiledPolicy) -> bool:
    """Whether what the content hash covers differs by more than the versions' names (id, version)."""
    a, b = (hashed_form(p.resolved) for p in (old, new))
    a["policy"], b["policy"] = ({k: v for k, v in h["policy"].items() if k not in ("id", "version")} for h in (a, b))
    return dump_json(a) != dump_json(b)


def _itemised(s: dict) -> bool:
    """Whether the static diff `s` lists a change of its own (the `?` and `=` lines of `unattributed` apart)."""
    return bool(any(s["rules"][k] for k in ("added", "removed", "changed")) or s["parameters"] or s["decisions"] or s["facts"]
                or s["text"] or s.get("window") or s.get("manifest"))


def _schema_nodes(schema, prefix: str = "", depth: int = 0) -> dict:
    """path -> a facts schema's node without its children ("" the case file itself), for what changes at a path."""
    if depth > 16 or not isinstance(schema, dict):
        return {}
    out = {prefix: {k: v for k, v in schema.items() if k not in ("properties", "items")}}
    for name, sub in sorted((schema.get("properties") or {}).items()):
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(sub, dict) and sub.get("type") == "array":
            out[path] = {k: v for k, v in sub.items() if k != "items"}
            out.update(_schema_nodes(sub.get("items"), path + "[]", depth + 1))
        else:
            out.update(_schema_nodes(sub, path, depth + 1))
    return out


def static_diff(old: CompiledPolicy, new: CompiledPolicy, cat=None) -> dict:
    """The window and the manifest's other fields; rules added, removed and changed (condition, conclusion, wording),
    parameters, decisions, facts, text; and what the content hash covers that none of these says (`unattributed`)."""
    o_rules = {r["id"]: r for r in old.resolved["rules"]}
    n_rules = {r["id"]: r for r in new.resolved["rules"]}
    changed = []
    for rid in sorted(set(o_rules) & set(n_rules)):
        a, b = o_rules[rid], n_rules[rid]
        parts = []
        if not same(as_meant((a.get("when"), a.get("for_each"), a.get("as"), a.get("guard"))),
                    as_meant((b.get("when"), b.get("for_each"), b.get("as"), b.get("guard")))):
            parts.append("condition")      # (an `in` list's values in another order are the same condition)
        if not same(as_meant(a.get("then")), as_meant(b.get("then"))):
            parts.append("conclusion")
        if not same([a.get(k) for k in ("article", "clause", "title", "note")], [b.get(k) for k in ("article", "clause", "title", "note")]):
            parts.append("wording")
        if parts:
            entry = {"id": rid, "article": b["article"], "changed": parts}
            if "condition" in parts:
                entry["when"] = {"old": a.get("when"), "new": b.get("when")}
            if "conclusion" in parts:
                entry["then"] = {"old": a.get("then"), "new": b.get("then")}
            changed.append(entry)
    params = []
    op, np_ = old.resolved["parameters"], new.resolved["parameters"]
    for name in sorted(set(op) | set(np_)):
        a, b = op.get(name), np_.get(name)
        if same(a, b):      # (`2` -> `2.0` is a change: the output says 2.0)
            continue
        pick = _timeline
        params.append({"name": name, "article": (b or a).get("article", ""), "old": pick(a), "new": pick(b),
                       "status": "added" if a is None else "removed" if b is None else "changed"})
    od, nd = old.resolved["decisions"], new.resolved["decisions"]
    decisions = []
    for n in sorted(set(od) | set(nd)):
        if same(od.get(n), nd.get(n)):
            continue
        entry = {"name": n, "status": "added" if n not in od else "removed" if n not in nd else "changed"}
        if entry["status"] == "changed":
            entry["changes"] = declaration_changes(od[n], nd[n])
        decisions.append(entry)
    facts = sorted(set(_schema_paths(new.facts_schema)) ^ set(_schema_paths(old.facts_schema)))
    window, manifest = manifest_diff(old, new, cat)
    out = {
        "window": window,
        "manifest": manifest,
        "text": index_unchanged(text_diff(old.text, new.text), old.articles, new.articles),
        "rules": {
            "added": [{"id": r, "article": n_rules[r]["article"], "title": n_rules[r]["title"]} for r in sorted(set(n_rules) - set(o_rules))],
            "removed": [{"id": r, "article": o_rules[r]["article"], "title": o_rules[r]["title"]} for r in sorted(set(o_rules) - set(n_rules))],
            "changed": changed,
        },
        "parameters": params,
        "decisions": decisions,
        "facts": [{"path": p, "status": "added" if p in set(_schema_paths(new.facts_schema)) else "removed"} for p in facts],
    }
    out["unattributed"] = unattributed(old, new, out)
    return out


def declaration_changes(old: dict, new: dict) -> list:
    """What changed in a decision's declaration, field by field (sorted): `values` as the codes added and
    removed (or, with the same codes, the new order: an enum's order is what min/max go by), any other
    field as its old and new value (None: not written)."""
    out = []
    for field in sorted(set(old) | set(new)):
        a, b = old.get(field), new.get(field)
        if same(a, b):      # (`default: false` -> `default: 0` is a change)
            continue
        if field == "values" and isinstance(a, list) and isinstance(b, list):
            added, removed = [v for v in b if not _among(v, a)], [v for v in a if not _among(v, b)]
            if added or removed:
                out.append({"field": field, "added": added, "removed": removed})
            else:
                out.append({"field": field, "reordered": True, "old": a, "new": b})
            continue
        out.append({"field": field, "old": a, "new": b})
    return out


def _among(value, values: list) -> bool:
    return any(same(value, v) for v in values)


MAX_SHOWN = 5      # codes listed per side of a `values` change in the text, then how many more
MAX_VALUE = 60     # characters of an old or new field value in the text


def _codes(sign: str, codes: list) -> str:
    shown = " ".join(f"{sign} {_short(c)}" for c in codes[:MAX_SHOWN])
    return shown + (f" (and {len(codes) - MAX_SHOWN} more)" if len(codes) > MAX_SHOWN else "")


def _short(value) -> str:
    return _cut(value if isinstance(value, str) else "not set" if value is None else _j(value))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def changes_text(changes: list) -> str:
    """`values: + classification_online; combine: first -> union`: a decision's changed fields, bounded."""
    parts = []
    for c in changes:
        if c["field"] == "values" and not c.get("reordered"):
            parts.append("values: " + " ".join(x for x in (_codes("+", c["added"]), _codes("-", c["removed"])) if x))
        elif c.get("reordered"):
            parts.append(f"values reordered: {_short(c['old'])} -> {_short(c['new'])}")
        else:
            parts.append(f"{c['field']}: {_short(c['old'])} -> {_short(c['new'])}")
    return "; ".join(parts)


def _timeline(decl: Optional[dict]):
    """A parameter's value as data: the constant, or {date: value} with "before" for an inherited value
    that holds before the first date (compile.continue_timeline)."""
    if decl is None:
        return None
    if not decl.get("values"):
        return decl.get("value")
    out = dict(decl["values"])
    if decl.get("value") is not None:
        out = {"before": decl["value"], **out}
    return out


def text_diff(old: Optional[dict], new: Optional[dict]) -> list:
    """Articles of the law's text added, removed or reworded, in document order, with their lines."""
    lines = lambda text: {a["article"]: _text.article_lines(a) for a in (text or {}).get("articles", [])}
    o, n = lines(old), lines(new)
    out = []
    for name in sorted(set(o) | set(n), key=_text.article_key):
        if not same(o.get(name), n.get(name)):
            out.append({"article": name, "status": "added" if name not in o else "removed" if name not in n else "changed",
                        "old": o.get(name), "new": n.get(name)})
    return out


def index_unchanged(text: list, old_index: list, new_index: list) -> list:
    """The text changes, each reworded article whose article index entry is the same in both versions (inherited, as
    a rule: an amendment that rewords an article seldom restates its entry) given `index_unchanged` with that entry's
    title: a title that summarises the old wording (a deadline, a share) may no longer hold."""
    o = {e.get("article"): e for e in old_index or () if isinstance(e, dict)}
    n = {e.get("article"): e for e in new_index or () if isinstance(e, dict)}
    out = []
    for t in text:
        entry = n.get(t["article"])
        if t["status"] == "changed" and entry is not None and same(o.get(t["article"]), entry):
            t = {**t, "index_unchanged": {"title": entry.get("title", ""), "status": entry.get("status", "")}}
        out.append(t)
    return out


def _schema_paths(schema, prefix: str = "", depth: int = 0) -> list:
    out = []
    if depth > 16 or not isinstance(schema, dict):
        return out
    for name, sub in sorted((schema.get("properties") or {}).items()):
        path = f"{prefix}.{name}" if prefix else name
        out.append(path)
        if isinstance(sub, dict) and sub.get("type") == "array":
            out.extend(_schema_paths(sub.get("items"), path + "[]", depth + 1))
        else:
            out.extend(_schema_paths(sub, path, depth + 1))
    return out


def _run(policy, doc, as_of, backend):
    """(the output object, None), or (None, the issues the case failed with, as dicts)."""
    try:
        check_case(policy, doc)
        return to_dict(evaluate(policy, doc.data, as_of, backend=backend, checked=True)), None
    except PolicyError as exc:
        return None, [i.as_dict() for i in exc.issues]


MAX_PROBLEMS = 3     # of a failing case's problems, those listed with their message and place (all codes are)


def _failure(problems: list) -> dict:
    """A failing case's `errors` (its codes, sorted) and `problems` (the first few, as `batch --errors` has them)."""
    return {"errors": sorted({p["code"] for p in problems}), "problems": problems[:MAX_PROBLEMS]}


def _decisive(result, decision) -> list:
    return sorted({e["rule"] for e in result["why"].get(decision, []) if e["decisive"]})


def _place(entry: dict) -> str:
    """Where a failing case's line points: its first problem's place, `file:line:col` as batch says it, when that place
    is in the case itself (the JSONL line, the case file); else the case's source (a problem of the policy's rules)."""
    problems = entry.get("problems") or []
    loc = (problems[0].get("location") or {}) if problems else {}
    file, line, column = loc.get("file"), loc.get("line"), loc.get("column")
    if not file or not line or entry["source"] not in (file, f"{file}:{line}"):
        return entry["source"]
    return f"{file}:{line}" + (f":{column}" if column else "")


def _codes_text(codes) -> str:
    """`input.schema, input.as_of`: a failure's codes as a person reads them (the JSON has the list)."""
    return ", ".join(codes)


def _first_problem(failure: dict) -> str:
    """`: code: message (hint)` of a failing case's first problem, as batch says it (its place, where it is the
    case's, leads the line: `_place`), and how many more; the JSON has them all with their places."""
    problems = failure.get("problems") or []
    if not problems:
        return ""
    p = problems[0]
    more = len(failure["errors"]) > 1 or len(problems) > 1
    return f": {p['code']}: {p['message']}" + (f" ({p['hint']})" if p.get("hint") else "") + ("; and more (--format json)" if more else "")


def compare_case(old: CompiledPolicy, new: CompiledPolicy, doc, as_of: Optional[str] = None,
                 backend: str = DEFAULT_BACKEND) -> dict:
    """What one case says of the two versions, as plain data (with worker processes it crosses a pipe): the sides
    whose window its date is outside; the failure of each side, or the decisions only one side takes and each
    decision whose value changed (old, new, the decisive rules of each) with the case's facts and their size.
    A case with no date, or one that is no day, raises PolicyError input.as_of, as batch and eval read it."""
    when = case_as_of(doc, as_of)
    case: dict = {"outside": [side for side, policy in (("old", old), ("new", new)) if not policy.in_force(when)]}
    a, a_err = _run(old, doc, when, backend)
    b, b_err = _run(new, doc, when, backend)
    if a_err or b_err:
        case["failed"] = {"old": a_err and _failure(a_err), "new": b_err and _failure(b_err)}
        return case
    changed = []
    for name in sorted(set(a["decisions"]) & set(b["decisions"])):   # added/removed ones are in the static diff
        va, vb = a["decisions"].get(name), b["decisions"].get(name)
        if same(va, vb):     # (not `==`: `false` -> `0` is a change to whoever reads the output)
            continue
        changed.append((name, va, vb, _decisive(a, name) if name in a["why"] else [],
                        _decisive(b, name) if name in b["why"] else []))
    case["dropped"] = {name: a["decisions"][name] for name in sorted(set(a["decisions"]) - set(b["decisions"]))}
    case["gained"] = {name: b["decisions"][name] for name in sorted(set(b["decisions"]) - set(a["decisions"]))}
    case["changed"] = changed
    if changed:     # the smallest changed case of each change is shown: its facts, and their size to find it
        case["facts"], case["size"] = doc.data, len(dump_json(doc.data))
    return case


class CorpusDiff:
    """The corpus part of a diff, from each case's compare_case taken in input order (so the same whichever
    process computed it): changed decisions grouped by (decision, from, to), failures counted apart."""

    def __init__(self, old: CompiledPolicy, new: CompiledPolicy):
        self.windows = {"old": old.window(), "new": new.window()}
        self.groups: dict = {}
        self.dropped: dict = {}      # a decision only the old version takes -> ValueTally of its values in the cases
        self.gained: dict = {}       # a decision only the new version takes -> ValueTally of its values in the cases
        self.unreadable_cases: list = []
        self.errors: list = []
        self.both: list = []
        self.failed = {"old": 0, "new": 0, "both": 0}
        self.outside = {"old": 0, "new": 0}
        self.total = self.changed_cases = 0

    def unreadable(self, source: str, problems: list) -> None:
        """A record that could not be read, or has no date (`problems`: issue dicts)."""
        self.total += 1
        self.unreadable_cases.append({"source": source, **_failure(problems)})

    def add(self, source: str, case: dict) -> None:
        self.total += 1
        for side in case["outside"]:   # both versions judge every case: say which were not theirs
            self.outside[side] += 1
        failed = case.get("failed")
        if failed is not None:    # counted apart: a case that fails says nothing about what changed
            fa, fb = failed["old"], failed["new"]
            self.failed["both" if fa and fb else "old" if fa else "new"] += 1
            if (fa or {}).get("errors") != (fb or {}).get("errors"):
                self.errors.append({"source": source, "old": fa and fa["errors"], "new": fb and fb["errors"],
                                    "problems": {"old": fa and fa["problems"], "new": fb and fb["problems"]}})
            elif len(self.both) < MAX_LISTED:
                self.both.append({"source": source, **fa})
            return
        for name, value in case["dropped"].items():
            self.dropped.setdefault(name, ValueTally()).add(value)
        for name, value in case["gained"].items():
            self.gained.setdefault(name, ValueTally()).add(value)
        for name, va, vb, rules_old, rules_new in case["changed"]:
            key = (name, dump_json(va), dump_json(vb))
            g = self.groups.setdefault(key, {"decision": name, "from": va, "to": vb, "cases": 0,
                                             "rules": {"old": set(), "new": set()}, "smallest": None})
            g["cases"] += 1
            g["rules"]["old"].update(rules_old)
            g["rules"]["new"].update(rules_new)
            if g["smallest"] is None or (case["size"], source) < (g["smallest"][0], g["smallest"][1]):
                g["smallest"] = (case["size"], source, case["facts"])
        self.changed_cases += bool(case["changed"])

    def result(self) -> dict:
        changes = []
        for key in sorted(self.groups):
            g = self.groups[key]
            changes.append({"decision": g["decision"], "from": g["from"], "to": g["to"], "cases": g["cases"],
                            "rules": {"old": sorted(g["rules"]["old"]), "new": sorted(g["rules"]["new"])},
                            "smallest_case": {"source": g["smallest"][1], "facts": g["smallest"][2]}})
        by_decision: dict = {}
        for c in changes:
            by_decision[c["decision"]] = by_decision.get(c["decision"], 0) + c["cases"]
        total, failing = self.total, sum(self.failed.values()) + len(self.unreadable_cases)
        return {"cases": total, "changed_cases": self.changed_cases, "compared": total - failing, "failed": self.failed,
                "failing_cases": failing, "most_failed": total > 0 and 2 * failing > total,
                "by_decision": dict(sorted(by_decision.items())), "changes": changes, "errors_differ": self.errors,
                "removed_values": {name: tally.rows() for name, tally in sorted(self.dropped.items())},
                "added_values": {name: tally.rows() for name, tally in sorted(self.gained.items())},
                "errors_same": self.both, "unreadable": self.unreadable_cases,
                "outside_window": {side: {"cases": self.outside[side], "window": self.windows[side]} for side in ("old", "new")}}


def corpus_diff(old: CompiledPolicy, new: CompiledPolicy, records, as_of: Optional[str] = None,
                backend: str = DEFAULT_BACKEND) -> dict:
    """Evaluate every case (corpus.iter_corpus's records) under both versions, in this process."""
    tally = CorpusDiff(old, new)
    for rec in records:
        if rec.error is not None:
            tally.unreadable(rec.source, [i.as_dict() for i in rec.error.issues])
            continue
        try:
            case = compare_case(old, new, rec.doc, as_of, backend)
        except PolicyError as exc:
            tally.unreadable(rec.source, [i.as_dict() for i in exc.issues])
            continue
        tally.add(rec.source, case)
    return tally.result()


# ---- on worker processes (engine/batch.py's Runner, as `regcode batch --jobs N` runs) --------------------
_pair: dict = {}     # the worker's two versions, compiled once: (its catalog, (old, new), old policy, new policy)


def compare_in_worker(cat, doc, *, old: str, new: str, as_of: Optional[str], backend: str) -> dict:
    """Job.evaluate for a diff: compare_case with the versions `old` and `new` (POLICY@VERSION or a version
    folder) of the worker's own catalog, compiled at its first case."""
    held = _pair.get("held")
    if held is None or held[0] is not cat or held[1] != (old, new):
        held = _pair["held"] = (cat, (old, new), cat.by_ref(old), cat.by_ref(new))
    return compare_case(held[2], held[3], doc, as_of, backend)


def _compared(case, compared: dict, cat) -> dict:
    """Job.reduce: what compare_in_worker found travels back as it is."""
    return compared


def diff_job(catalog_factory, old: str, new: str, as_of: Optional[str] = None, backend: str = DEFAULT_BACKEND):
    """The batch Job comparing every record of a corpus under `old` and `new` (refs, as the workers compile them)."""
    from .batch import Job
    return Job(catalog_factory, functools.partial(compare_in_worker, old=old, new=new, as_of=as_of, backend=backend), _compared)


def outcomes_diff(old: CompiledPolicy, new: CompiledPolicy, outcomes) -> dict:
    """corpus_diff's result from a Runner's outcomes of diff_job, in input order: byte for byte the same."""
    tally = CorpusDiff(old, new)
    for outcome in outcomes:
        if outcome.ok:
            tally.add(outcome.source, outcome.value)
        else:
            tally.unreadable(outcome.source, outcome.errors)
    return tally.result()


def diff(old: CompiledPolicy, new: CompiledPolicy, records=None, as_of=None, backend=DEFAULT_BACKEND, skipped=None,
         cat=None, outcomes=None) -> dict:
    """`records`: a corpus's records (corpus.iter_corpus), compared here; or `outcomes`: a Runner's of diff_job;
    `skipped`: the list engine/corpus.py fills with what a corpus folder holds that is not read; `cat`: the catalog
    a version that does not restate `reports:` inherits it through."""
    out = {"old": _ref(old), "new": _ref(new), "static": static_diff(old, new, cat)}
    if records is not None or outcomes is not None:
        out["corpus"] = corpus_diff(old, new, records, as_of, backend) if records is not None else outcomes_diff(old, new, outcomes)
        out["corpus"]["skipped"] = [{"source": s.path, "reason": s.reason, "lost": s.lost} for s in skipped or []]
        _name_parameters(out["corpus"]["changes"], old, new, out["static"]["parameters"])
    return out


def _name_parameters(changes: list, old: CompiledPolicy, new: CompiledPolicy, parameters: list) -> None:
    """Each change's `parameters`: those the versions do not hold alike that a rule deciding it on either side reads
    (Rule.reads_params): the likely cause of a change no rule's text explains (a ratio of 20% become 30%)."""
    differ = {p["name"] for p in parameters}
    reads = {side: {r.id: set(r.reads_params) for r in policy.rules} for side, policy in (("old", old), ("new", new))}
    for change in changes:
        read = set()
        for side in ("old", "new"):
            for rule in change["rules"][side]:
                read |= reads[side].get(rule, set())
        change["parameters"] = sorted(read & differ)


def mostly_failed(result: dict) -> bool:
    """Most cases of the corpus could not be compared: the diff answers little (exit 1)."""
    return bool((result.get("corpus") or {}).get("most_failed"))


def unread(result: dict) -> int:
    """How many records of the corpus could not be read (the `?` lines: a cut-short line, no JSON object, no date ...),
    folders that could not be listed counted too: input the diff left out, so that it is no pass (exit 1), as in batch."""
    c = result.get("corpus") or {}
    return len(c.get("unreadable") or ()) + sum(1 for s in c.get("skipped") or () if s.get("lost"))


def has_changes(result: dict) -> bool:
    """Anything but the versions' names differs (statically, or in a decision over the corpus)."""
    s = result["static"]
    static = _itemised(s) or any(not u.get("same_in_effect") for u in s.get("unattributed") or ())
    corpus = result.get("corpus")
    return bool(static) or bool(corpus and (corpus["changed_cases"] or corpus["errors_differ"]))


def names_alone(result: dict) -> bool:
    """Whether the content hashes differ by the versions' names (id, version) alone, as far as the static diff, which
    says whatever else the hash covers (a `?` line at least), can tell: they differ, and so do the names."""
    o, n = result["old"], result["new"]
    return o["content_hash"] != n["content_hash"] and (o["id"], o["version"]) != (n["id"], n["version"])


def _j(v) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def manifest_text(f: dict) -> str:
    """`title: A -> B`, bounded; a mapping both versions state, as the keys that changed (`reports: plan changed`)."""
    a, b = f["old"], f["new"]
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(k for k in set(a) | set(b) if not same(a.get(k), b.get(k)))
        return f"{f['field']}: {', '.join(map(str, keys))} changed"
    return f"{f['field']}: {_short(a)} -> {_short(b)}"


def timeline_text(value) -> str:
    """A parameter's value as `regcode diff` says it: `7 before 2023-07-01, 5 from 2023-07-01`, or the constant."""
    if isinstance(value, dict) and value and all(k == "before" or len(k) == 10 for k in value):
        parts = [f"{_j(value['before'])} before {min(k for k in value if k != 'before')}"] if "before" in value else []
        return ", ".join(parts + [f"{_j(v)} from {k}" for k, v in value.items() if k != "before"])
    return _j(value)


def index_note(entry: dict) -> str:
    """What a reworded article whose index entry is unchanged says (text and pages alike)."""
    return f"its article index entry is unchanged: review its title `{entry['title']}` against the new text"


def _failures(c: dict) -> str:
    f = c["failed"]
    return (f"{c['failing_cases']} failing to evaluate (old only {f['old']}, new only {f['new']}, both {f['both']}, "
            f"unreadable {len(c['unreadable'])})")


def _rules(old: list, new: list, parameters: list = ()) -> str:
    said = f"; parameters changed: {', '.join(parameters)}" if parameters else ""
    return f"  [old: {', '.join(old) or '—'}; new: {', '.join(new) or '—'}{said}]" if old or new else ""


def _decision_lines(changes: list, compared: int, all_changes: bool) -> list:
    """One line per decision that changed: in how many of the compared cases, by which rules, and its value change
    (or, when its cases changed in several ways, the most frequent few); `all_changes`: then each way on a line of
    its own, as the JSON lists them (`changes`)."""
    by_decision: dict = {}
    for ch in changes:       # sorted by (decision, old, new): so are the groups and, among equal counts, the examples
        by_decision.setdefault(ch["decision"], []).append(ch)
    lines, of = [], f"of {compared} case{'s' if compared != 1 else ''}"
    for name, group in by_decision.items():
        cases = sum(ch["cases"] for ch in group)
        rules = _rules(sorted({r for ch in group for r in ch["rules"]["old"]}), sorted({r for ch in group for r in ch["rules"]["new"]}),
                       sorted({p for ch in group for p in ch.get("parameters", ())}))
        if len(group) == 1:
            (ch,) = group
            lines.append(f"  {name}: {_j(ch['from'])} -> {_j(ch['to'])}  in {cases} {of}, "
                         f"smallest {ch['smallest_case']['source']}{rules}")
            continue
        ranked = sorted(group, key=lambda ch: -ch["cases"])     # stable: equal counts keep their order
        shown = "; ".join(f"{_cut(_j(ch['from']))} -> {_cut(_j(ch['to']))} in {ch['cases']} ({ch['smallest_case']['source']})"
                          for ch in ranked[:MAX_WAYS])
        more = "" if len(group) <= MAX_WAYS else f"; and {len(group) - MAX_WAYS} more" + ("" if all_changes else " (--all-changes lists each)")
        lines.append(f"  {name}: changed in {cases} {of}, {len(group)} ways, the most frequent: {shown}{more}{rules}")
        if all_changes:
            for ch in group:
                lines.append(f"    {_j(ch['from'])} -> {_j(ch['to'])}  in {ch['cases']} case(s), smallest {ch['smallest_case']['source']}"
                             f"{_rules(ch['rules']['old'], ch['rules']['new'], ch.get('parameters', ()))}")
    return lines


MAX_WAYS = 3       # value changes of one decision shown in its line of the text, the most frequent first


def to_text(result: dict, all_changes: bool = False) -> str:
    """The diff as `regcode diff` prints it; `all_changes`: each decision's every value change on a line of its own."""
    o, n = result["old"], result["new"]
    c = result.get("corpus")
    lines = []
    if c is not None and c["most_failed"]:
        lines.append(f"warning: {c['failing_cases']} of {c['cases']} cases fail to evaluate, so only {c['compared']} are "
                     "compared; the decisions below say little (see the !, x and ? lines)")
    lines.append(f"diff {o['id']}@{o['version']} ({o['content_hash']}) -> {n['id']}@{n['version']} ({n['content_hash']})")
    header = len(lines)
    s = result["static"]
    if s.get("window"):
        lines.append(f"  ~ window {s['window']['old']['window']} -> {s['window']['new']['window']}")
    for f in s.get("manifest") or ():
        lines.append(f"  + {f['field']}: {_short(f['new'])}" if f["old"] is None else f"  - {f['field']}" if f["new"] is None
                     else f"  ~ {manifest_text(f)}")
    for r in s["rules"]["added"]:
        lines.append(f"  + rule {r['id']} ({r['article']}) {r['title']}")
    for r in s["rules"]["removed"]:
        lines.append(f"  - rule {r['id']} ({r['article']}) {r['title']}")
    for r in s["rules"]["changed"]:
        lines.append(f"  ~ rule {r['id']} ({r['article']}): {', '.join(r['changed'])} changed")
    for p in s["parameters"]:     # an added one has no old value and a removed one no new one: not `null -> 1`
        if p["status"] == "added":
            lines.append(f"  + parameter {p['name']} ({p['article']}): {timeline_text(p['new'])}")
        elif p["status"] == "removed":
            lines.append(f"  - parameter {p['name']} ({p['article']})")
        else:
            lines.append(f"  ~ parameter {p['name']} ({p['article']}): {timeline_text(p['old'])} -> {timeline_text(p['new'])}")
    for d in s["decisions"]:
        lines.append(f"  {dict(added='+', removed='-').get(d['status'], '~')} decision {d['name']}"
                     + (f": {changes_text(d['changes'])}" if d["status"] == "changed" else ""))
    for f in s["facts"]:
        lines.append(f"  {'+' if f['status'] == 'added' else '-'} fact {f['path']}")
    for t in s["text"]:
        lines.append(f"  {dict(added='+', removed='-').get(t['status'], '~')} text {t['article']}" + (": reworded" if t["status"] == "changed" else "")
                     + (f"; {index_note(t['index_unchanged'])}" if t.get("index_unchanged") else ""))
    for u in s.get("unattributed") or ():
        if u.get("same_in_effect"):
            lines.append(f"  = {', '.join(u['names'])}: stated by one version, inherited the same by the other "
                         "(the content hash covers what a version states)")
        else:
            lines.append(f"  ? {u['part'].replace('_', ' ')} differs" + (f" ({', '.join(u['names'])})" if u["names"] else "")
                         + ", not itemised: the content hashes differ by it")
    if len(lines) == header:
        lines.append("  no differences in rules, parameters, decisions, facts, text or manifest"
                     + (": the content hashes differ by the versions' names alone" if names_alone(result) else ""))
    if c is not None:
        skipped = len(c.get("skipped", ()))
        lines.append(f"corpus: {c['cases']} case{'s' if c['cases'] != 1 else ''}, {c['changed_cases']} with changed decisions, {_failures(c)}"
                     + (f"; {skipped} file{'s' if skipped != 1 else ''} of the folder not read (listed on stderr)" if skipped else ""))
        out_of = []
        for side, w in sorted((c.get("outside_window") or {}).items()):
            line = f"{w['cases']} dated outside {result[side]['id']}@{result[side]['version']}'s window ({w['window']})"
            if w["cases"] and line not in out_of:    # a version compared with itself is named once
                out_of.append(line)
        if out_of:
            lines.append(f"  note: both versions judge every case by its date; {' and '.join(out_of)}")
        for name, rows in (c.get("removed_values") or {}).items():
            was = tally_text(rows, "case")
            lines.append(f"  {name}: no longer decided; it was {was}")
        for name, rows in (c.get("added_values") or {}).items():
            lines.append(f"  {name}: newly decided; it is {tally_text(rows, 'case')}")
        lines.extend(_decision_lines(c["changes"], c["compared"], all_changes))
        for e in c["errors_differ"]:     # (the codes that differ are the point; each problem is in the JSON)
            side = lambda codes: f"fails ({_codes_text(codes)})" if codes else "ok"
            lines.append(f"  ! {e['source']}: old {side(e['old'])}, new {side(e['new'])}")
        for e in c["errors_same"]:
            lines.append(f"  x {_place(e)}: fails on both sides ({_codes_text(e['errors'])}){_first_problem(e)}")
        if c["failed"]["both"] > len(c["errors_same"]):
            lines.append(f"  x ... and {c['failed']['both'] - len(c['errors_same'])} more failing on both sides")
        for u in c["unreadable"]:
            lines.append(f"  ? {_place(u)}: unreadable ({_codes_text(u['errors'])}){_first_problem(u)}")
    return "\n".join(lines)
