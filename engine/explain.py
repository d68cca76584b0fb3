"""Stage 5, explain: an Evaluation as the JSON object of `eval --format json`, and as text for a person."""
from __future__ import annotations

from typing import Optional

from .errors import one_line
from .evaluate import ENTRY, FACT, KEY, MATCHED, RULE, VALUE, Evaluation


def _entry(rule: tuple, c: tuple, decisive: bool) -> dict:
    """A claim's entry of `why` from the claim (a backend that does not write it while the rule fires)."""
    rule_id, article, title, clause = rule
    entry = {"rule": rule_id, "article": article, "title": title, "value": c[VALUE], "decisive": decisive,
             "matched": c[MATCHED] or []}     # (an empty why may come as ())
    if clause:
        entry["clause"] = clause
    if c[KEY] is not None:
        entry["key"] = c[KEY]
    if c[FACT]:
        entry["fact"] = c[FACT]
    return entry


def _plan(policy) -> tuple:
    """What every output of one policy version shares, built once: each rule's part of a why entry, each
    rule's place in the order of rule ids, the decisions whose every claim is decisive (sum, union), the
    `why` mapping's builder for this policy's decisions (`_why_function`), and each derived fact kind's
    name in the output (`derived:x` -> `x`)."""
    found = policy.backends.get("_explain")
    if found is None:
        rules = [(r.id, r.article, r.title, r.clause) for r in policy.rules]
        rank = [0] * len(policy.rules)
        for k, i in enumerate(sorted(range(len(policy.rules)), key=lambda i: policy.rules[i].id)):
            rank[i] = k
        every = {name: d.combine in ("sum", "union") for name, d in policy.decisions.items()}
        kinds = {f"derived:{name}": name for name in policy.derived}
        found = policy.backends["_explain"] = (rules, rank, every, _why_function(policy, rules, rank, every, False),
                                               _why_function(policy, rules, rank, every, True), kinds)
    return found


def _why_entries(claims: list, value, all_decisive: bool, decisive_only: bool, rules: list, rank: list) -> list:
    """One decision's `why`: its claims by rule id, then key and fact (never by the order rules happened to
    fire), each marked decisive when it shaped the final value (all do for sum and union)."""
    if len(claims) == 2:     # most decisions of several claims have two: compared as sorted() would, without a key function
        a, b = claims
        if ((rank[b[RULE]], "" if b[KEY] is None else str(b[KEY]), b[FACT] or "")
                < (rank[a[RULE]], "" if a[KEY] is None else str(a[KEY]), a[FACT] or "")):
            claims = (b, a)
    elif len(claims) > 2:
        claims = sorted(claims, key=lambda c: (rank[c[RULE]], "" if c[KEY] is None else str(c[KEY]), c[FACT] or ""))
    keyed = isinstance(value, dict)
    entries = []
    for c in claims:
        claimed = c[VALUE]
        if claimed is None:
            decisive = False
        elif all_decisive:
            decisive = True
        elif keyed:
            decisive = value.get(c[KEY]) == claimed
        else:
            decisive = claimed == value or isinstance(value, list)
        if decisive_only and not decisive:
            continue
        if len(c) > ENTRY:      # written while the rule fired (Python backend)
            entry = c[ENTRY]
            entry["decisive"] = decisive
        else:
            entry = _entry(rules[c[RULE]], c, decisive)
        entries.append(entry)
    return entries


def _why_function(policy, rules: list, rank: list, every: dict, entries: bool):
    """fn(claims, decisions, decisive_only) -> the `why` mapping, written out for this policy's decisions
    (one block each, in declaration order; `claims` must have its keys in that order): a decision nobody
    claimed costs a test, and the common single claim with its entry written by the backend is marked
    in place; the rest goes through `_why_entries`. With `entries`, for claims that all carry their entry
    (Evaluation.entries), that is not tested claim by claim. `decisions` must hold every decision (both
    backends' do; a KeyError otherwise). Built from the declarations alone: names are repr'd."""
    lines = ["def why(CL, D, DO):",
             "    " + "".join(f"L{j}, " for j in range(len(policy.decisions))) + "= CL.values()"]
    names = []
    for j, (name, decl) in enumerate(policy.decisions.items()):
        n = repr(name)
        names.append(f"{n}: w{j}")
        if every[name]:
            decisive = "c[0] is not None"
        else:        # as _why_entries has it, for one claim
            decisive = (f"c[0] is not None and ((v.get(c[1]) == c[0]) if isinstance(v := D[{n}], dict) "
                        f"else (c[0] == v or isinstance(v, list)))")
        lines += [f"    if not L{j}:",
                  f"        w{j} = []",
                  f"    elif len(L{j}) == 1:" if entries else f"    elif len(L{j}) == 1 and len(L{j}[0]) > {ENTRY}:",
                  f"        c = L{j}[0]",
                  f"        e = c[{ENTRY}]",
                  f"        e['decisive'] = d = {decisive}",
                  f"        w{j} = [e] if d or not DO else []",
                  "    else:",
                  f"        w{j} = _many(L{j}, D[{n}], {every[name]!r}, DO, RU, RK)"]
    lines.append("    return {" + ", ".join(names) + "}")
    namespace = {"__builtins__": {"len": len, "isinstance": isinstance, "dict": dict, "list": list},
                 "_many": _why_entries, "RU": rules, "RK": rank}
    exec(compile("\n".join(lines) + "\n", f"<regcode {policy.id}@{policy.version} why>", "exec"), namespace)
    return namespace["why"], tuple(policy.decisions)


EXPLAIN_LEVELS = ("none", "decisive", "full")


def explain_level(explain) -> str:
    """`none` | `decisive` | `full` (True means full, False none)."""
    if explain is True:
        return "full"
    if explain is False or explain is None:
        return "none"
    if explain not in EXPLAIN_LEVELS:
        raise ValueError(f"explain is one of {', '.join(EXPLAIN_LEVELS)}, not {explain!r}")
    return explain


def to_dict(ev: Evaluation, explain="full") -> dict:
    """The stable output object: policy, as_of, the case's identity, decisions and, per decision, why.

    explain: `full` lists every claim of every decision (decisive or not) and the derived facts;
    `decisive` only the claims that shaped each value; `none` leaves `why` and `derived` out."""
    level = explain if explain in EXPLAIN_LEVELS else explain_level(explain)   # as given: no call
    p = ev.policy
    out = {     # (mappings are built in sorted key order where that is free: orjson sorts them faster)
        "as_of": ev.as_of,
        "decisions": ev.decisions,
        "policy": {"content_hash": p.content_hash, "id": p.id, "title": p.title, "version": p.version},
        "rules_fired": ev.firings,
    }
    for key, value in ev.identity.items():
        out[key] = value
    if ev.source:
        out["source"] = ev.source
    if ev.notes:      # about the case itself, whatever the level
        out["notes"] = list(ev.notes)
    if level == "none":
        return out
    rules, rank, every, (why_of, names), (why_entries, _), kinds = _plan(p)
    if ev.entries:
        why_of = why_entries
    decisive_only = level == "decisive"
    claims, decisions = ev.claims, ev.decisions
    why = None
    if tuple(claims) == names:        # every decision of the policy, in declaration order (both backends)
        try:
            why = why_of(claims, decisions, decisive_only)
        except KeyError:              # decisions not all there (an Evaluation made by hand): the general way below
            pass
    if why is None:
        why = {name: _why_entries(cs, decisions.get(name), every[name], decisive_only, rules, rank) if cs else []
               for name, cs in claims.items()}
    out["why"] = why
    derived = []
    for f in ev.derived:
        by = f.derived_by
        if len(by) == 1:
            rule, source = by[0]
            by = [{"from": source or "case", "rule": rule}]
        else:
            by = [{"from": source or "case", "rule": rule} for rule, source in sorted(set(by))]
        kind = f.kind
        derived.append({"derived_by": by, "fact": f.label, "fields": f.data, "kind": kinds.get(kind) or kind.split(":", 1)[1]})
    out["derived"] = derived
    return out


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) if value else "(none)"
    return str(value)


MAX_TEXT_FACTS = 8     # matched facts shown per reason in the text form


def labelled(value, labels: Optional[dict]) -> list:
    """(key, value, label) of each member of a decision's value that has a declared label: the value itself, each
    item of a list, each entry of a map (its key); for the text (`strict (加严监管)`) and the page (`加严监管`)."""
    if not labels or value is None:
        return []
    members = value.items() if isinstance(value, dict) else ((None, v) for v in value) if isinstance(value, list) else [(None, value)]
    out = []
    for key, v in members:
        label = labels.get(str(v)) if not isinstance(v, (dict, list)) else None
        out.append((key, v, label))
    return out


def _labelled(value, labels: Optional[dict]) -> str:
    """A decision's value as text, each declared value with its label beside it: `strict (加严监管)`."""
    parts = labelled(value, labels)
    if not any(label for _, _, label in parts):
        return _fmt(value)
    shown = [(f"{k}: " if k is not None else "") + _fmt(v) + (f" ({one_line(label)})" if label else "") for k, v, label in parts]
    return ", ".join(shown)


def labels_of(policy) -> dict:
    """decision -> its `labels:` (value -> label), for to_text and the page: those that declare any."""
    return {name: d.labels for name, d in policy.decisions.items() if d.labels}


def to_text(data: dict, explain="none", labels: Optional[dict] = None) -> str:
    """A readable summary; with `explain` (full, or decisive for the deciding claims only), the reasons under each
    decision. `labels` (labels_of): each decision's declared labels, shown beside its values."""
    level = explain_level(explain)
    explain = level != "none"
    p = data["policy"]
    lines = [f"{one_line(data.get('source') or 'case')}: {p['id']}@{p['version']} ({p['content_hash']}) as of {data['as_of']}"]
    for note in data.get("notes", ()):
        where = f"{note['path']}: " if note.get("path") else ""
        lines.append(one_line(f"  note: {where}{note['message']}" + (f"; {note['hint']}" if note.get("hint") else "")))
    why = data.get("why", {})
    width = max((len(k) for k in data["decisions"]), default=10)
    for name, value in data["decisions"].items():
        lines.append(f"  {name:<{width}}  {_labelled(value, labels.get(name)) if labels else _fmt(value)}")
        if explain:
            reasons = why.get(name, [])
            if not reasons:
                lines.append(f"  {'':<{width}}    (default: no rule concluded it)")
            for r in reasons:
                if level == "decisive" and not r["decisive"]:
                    continue
                mark = "*" if r["decisive"] else "-"
                key = f"[{r['key']}] " if "key" in r else ""
                clause = f" {r['clause']}" if r.get("clause") else ""
                on = f" on {r['fact']}" if r.get("fact") else ""
                lines.append(f"  {'':<{width}}    {mark} {key}{_fmt(r['value'])} <- {r['rule']} ({r['article']}{clause}) {r['title']}{on}")
                fact = r.get("fact") or ""
                short = fact.split("{", 1)[0]
                for m in r["matched"][:MAX_TEXT_FACTS]:
                    path = m["path"]
                    if fact and "{" in fact and path.startswith(fact + "."):
                        path = short + path[len(fact):]   # the fact is named once, on the line above
                    lines.append(f"  {'':<{width}}        {path} = {_fmt(m['value'])}")
                if len(r["matched"]) > MAX_TEXT_FACTS:   # a page stays readable; the rest are in the data
                    lines.append(f"  {'':<{width}}        … {len(r['matched']) - MAX_TEXT_FACTS} more facts matched "
                                 "(all are in --format json and html)")
    return "\n".join(lines)
